"""Fused primitives kept for their lesson and their speed."""

from __future__ import annotations

import numpy as np

from ..function import Function


class CrossEntropy(Function):
    """loss_i = -sum_c q_ic log softmax(x_i)_c, with q the (smoothed) one-hot target.

    The fused backward is the lesson: d loss_i / d x_i = softmax(x_i) - q_i.
    Rows whose target is ignore_index have loss 0 and gradient 0.
    """

    @staticmethod
    def flops(shapes, out, attrs):
        return 4 * int(np.prod(shapes[0]))  # max, subtract, exp, sum per logit (log-softmax), then a pick

    @classmethod
    def backward_flops(cls, shapes, out, attrs, needs):
        return 3 * int(np.prod(shapes[0])) if needs[0] else 0  # exp, subtract the target, scale

    @staticmethod
    def forward(ctx, logits, target, ignore_index=-100, label_smoothing=0.0):
        # logits (N, C), target (N,) integer classes in [0, C) (F.cross_entropy checks them)
        n = logits.shape[0]
        valid = target != ignore_index
        if not valid.all():
            target = np.where(valid, target, 0)
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -log_probs[np.arange(n), target]
        if label_smoothing:
            loss = (1 - label_smoothing) * loss - label_smoothing * log_probs.mean(axis=1)
        ctx.save_for_backward(log_probs, target, valid)
        ctx.label_smoothing = label_smoothing
        return loss * valid

    @staticmethod
    def backward(ctx, grad):
        log_probs, target, valid = ctx.saved_tensors
        n, classes = log_probs.shape
        eps = ctx.label_smoothing
        dlogits = np.exp(log_probs)  # softmax
        if eps:
            dlogits -= eps / classes
        dlogits[np.arange(n), target] -= 1 - eps
        dlogits *= (grad * valid)[:, None]
        return dlogits, None


class Linear(Function):
    """y = x W^T + b over the last dim: dx = dy W, dW = dy^T x, db = sum of dy over rows.

    Fused because it is the workhorse: dW comes out in W's own (out, in) layout, with no
    transposed view to copy, and the leading dims of x fold into one matrix multiply.
    """

    @staticmethod
    def flops(shapes, out, attrs):
        return 2 * int(np.prod(out)) * shapes[1][1] + (int(np.prod(out)) if len(shapes) > 2 else 0)

    @classmethod
    def backward_flops(cls, shapes, out, attrs, needs):
        matmul = 2 * int(np.prod(out)) * shapes[1][1]  # dx and dW are each one such product; db a sum
        return matmul * (bool(needs[0]) + bool(needs[1])) + (int(np.prod(out)) if len(needs) > 2 and needs[2] else 0)

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        if x.shape[-1] != weight.shape[1]:
            raise ValueError(
                f"input with last dim {x.shape[-1]} (shape {x.shape}) does not fit a weight "
                f"of shape {weight.shape} (out_features, in_features={weight.shape[1]})"
            )
        x2 = x.reshape(-1, x.shape[-1])  # (..., in) -> (N, in)
        out = x2 @ weight.T  # (N, out)
        if bias is not None:
            out += bias
        ctx.save_for_backward(x, weight)
        return out.reshape(*x.shape[:-1], weight.shape[0])  # (..., out)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        x2 = x.reshape(-1, x.shape[-1])  # (..., in) -> (N, in)
        g2 = grad.reshape(-1, weight.shape[0])  # (..., out) -> (N, out)
        gx = (g2 @ weight).reshape(x.shape) if ctx.needs_input_grad[0] else None
        gw = g2.T @ x2 if ctx.needs_input_grad[1] else None  # (out, N) @ (N, in) = (out, in)
        gb = g2.sum(axis=0) if len(ctx.needs_input_grad) > 2 and ctx.needs_input_grad[2] else None
        return gx, gw, gb
