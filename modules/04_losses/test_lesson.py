"""Lesson 04's tests of the learner's Build code: MyMSELoss, log_softmax, target_distribution and the
fused MyCrossEntropy against tinytorch's losses and finite differences (gradcheck), with label
smoothing, float32 and float64, scaled upstream gradients and extreme logits. `build` is the
learner's notebook executed up to `## Use`."""

from __future__ import annotations

import numpy as np

import tinytorch as tt
from tinytorch import nn
from tinytorch.autograd import gradcheck

F = nn.functional


def arr(*shape, seed=0, scale=1.0, dtype=np.float64):
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype(dtype)


def leaf(*shape, seed=0, scale=1.0, dtype=np.float64):
    return tt.tensor(arr(*shape, seed=seed, scale=scale, dtype=dtype), requires_grad=True)


def test_mse_matches_tinytorch(build):
    for k, shape in enumerate([(5,), (3, 4), (2, 3, 4)]):
        x, y = leaf(*shape, seed=k), leaf(*shape, seed=10 + k)
        assert gradcheck(build.MyMSELoss.apply, [x, y]), f"MyMSELoss fails gradcheck for shape {shape}"
        for dtype in (np.float64, np.float32):
            xs = [tt.tensor(t.data.astype(dtype), requires_grad=True) for t in (x, y)]
            ours = build.MyMSELoss.apply(*xs)
            (ours * 2.5).backward()
            mine = [t.grad.data for t in xs]
            ref = [tt.tensor(t.data, requires_grad=True) for t in xs]
            (F.mse_loss(*ref) * 2.5).backward()
            name = np.dtype(dtype).name
            assert ours.shape == () and ours.dtype == dtype, f"the loss should be a {name} scalar, got {ours.dtype} {ours.shape}"
            np.testing.assert_allclose(ours.item(), F.mse_loss(*ref).item(), rtol=1e-5, err_msg=f"mse, {shape}, {name}")
            for which, a, b in zip(("input", "target"), mine, ref):
                assert a.dtype == dtype, f"d mse / d {which} should be {name}, got {a.dtype}"
                np.testing.assert_allclose(a, b.grad.data, rtol=1e-5, atol=1e-7, err_msg=f"d (2.5 mse) / d {which}, {shape}")


def test_mse_refuses_shapes_that_would_broadcast(build):
    for a, b in (((3, 1), (3,)), ((2, 3), (3, 2)), ((4,), (1,))):
        try:
            build.MyMSELoss.apply(tt.zeros(*a), tt.zeros(*b))
        except ValueError:
            continue
        raise AssertionError(f"MyMSELoss of shapes {a} and {b} should raise ValueError")


def test_log_softmax_matches_tinytorch_on_the_last_axis(build):
    for k, shape in enumerate([(7,), (4, 5), (2, 3, 6)]):
        for dtype in (np.float32, np.float64):
            z = arr(*shape, seed=20 + k, scale=5.0, dtype=dtype)
            got, want = build.log_softmax(z), tt.tensor(z).log_softmax(dim=-1).data
            assert got.shape == z.shape and got.dtype == dtype, f"log_softmax keeps shape and dtype: got {got.dtype} {got.shape}"
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=f"log_softmax of shape {shape}")


def test_log_softmax_of_extreme_logits(build):
    z = np.array([[3e4, -3e4, 0.0], [-1e30, -1e30, -1e30], [1e38, 0.0, -1e38]], np.float32)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        got = build.log_softmax(z)
    np.testing.assert_allclose(got[0], [0.0, -6e4, -3e4], rtol=1e-6, err_msg="log_softmax([3e4, -3e4, 0])")
    np.testing.assert_allclose(got[1], [-np.log(3)] * 3, rtol=1e-6, err_msg="equal logits give log(1/3)")
    assert got[2, 0] == 0.0 and np.isfinite(got[2, 1]), f"log_softmax([1e38, 0, -1e38]) = {got[2]}"


def test_target_distribution(build):
    target = np.array([3, 0, 4, 4, 1])
    for eps in (0.0, 0.1, 0.5, 1.0):
        for dtype in (np.float32, np.float64):
            q = build.target_distribution(target, 6, eps, dtype)
            want = (1 - eps) * np.eye(6)[target] + eps / 6
            assert q.shape == (5, 6) and q.dtype == dtype, f"expected {np.dtype(dtype).name} (5, 6), got {q.dtype} {q.shape}"
            np.testing.assert_allclose(q, want, rtol=1e-6, err_msg=f"target_distribution with eps={eps}")


def test_cross_entropy_matches_tinytorch(build):
    for k, (n, classes) in enumerate([(1, 2), (8, 5), (33, 10)]):
        target = tt.tensor(np.random.default_rng(30 + k).integers(0, classes, n))
        for eps in (0.0, 0.05, 0.3):
            z = leaf(n, classes, seed=40 + k, scale=3.0)
            assert gradcheck(lambda t, eps=eps, y=target: build.MyCrossEntropy.apply(t, y, label_smoothing=eps), [z]), (
                f"MyCrossEntropy fails gradcheck for ({n}, {classes}), eps={eps}"
            )
            for dtype in (np.float64, np.float32):
                ours_z, ref_z = (tt.tensor(z.data.astype(dtype), requires_grad=True) for _ in range(2))
                ours = build.MyCrossEntropy.apply(ours_z, target, label_smoothing=eps)
                ref = F.cross_entropy(ref_z, target, label_smoothing=eps)
                (ours * 3).backward()
                (ref * 3).backward()
                name = np.dtype(dtype).name
                assert ours.shape == () and ours.dtype == dtype, (
                    f"the loss should be a {name} scalar, got {ours.dtype} {ours.shape}"
                )
                np.testing.assert_allclose(
                    ours.item(), ref.item(), rtol=1e-5, err_msg=f"loss ({n}, {classes}), eps={eps}, {name}"
                )
                assert ours_z.grad.dtype == dtype, f"the gradient should be {name}, got {ours_z.grad.dtype}"
                np.testing.assert_allclose(
                    ours_z.grad.data, ref_z.grad.data, rtol=1e-4, atol=1e-6, err_msg=f"d (3 loss)/dz, eps={eps}"
                )


def test_cross_entropy_gradient_is_softmax_minus_target(build):
    z, target = leaf(6, 4, seed=50), np.array([0, 1, 2, 3, 3, 1])
    build.MyCrossEntropy.apply(z, tt.tensor(target), label_smoothing=0.2).backward()
    p = np.exp(z.data - z.data.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    q = 0.8 * np.eye(4)[target] + 0.05
    np.testing.assert_allclose(z.grad.data, (p - q) / 6, rtol=1e-10, err_msg="d loss / dz = (softmax - q) / N")


def test_cross_entropy_of_extreme_logits(build):
    z = tt.tensor(np.array([[1e4, -1e4, 0.0], [0.0, 0.0, 0.0], [-3e4, 3e4, 0.0]], np.float32), requires_grad=True)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        loss = build.MyCrossEntropy.apply(z, tt.tensor(np.array([1, 2, 1])))
        loss.backward()
    np.testing.assert_allclose(loss.item(), (2e4 + np.log(3) + 0) / 3, rtol=1e-5, err_msg="mean loss of extreme logits")
    np.testing.assert_allclose(z.grad.data[0], [1 / 3, -1 / 3, 0.0], atol=1e-7, err_msg="gradient of a confidently wrong row")
    assert np.isfinite(z.grad.data).all(), "the gradient stays finite"


def test_your_losses_train_like_tinytorchs(build):
    x = tt.tensor(arr(64, 6, seed=60, dtype=np.float32))
    y = tt.tensor(np.random.default_rng(61).integers(0, 3, 64))
    onehot = tt.tensor(np.eye(3, dtype=np.float32)[y.data])
    pairs = {
        "cross-entropy": (
            lambda s: build.MyCrossEntropy.apply(s, y, label_smoothing=0.1),
            lambda s: F.cross_entropy(s, y, label_smoothing=0.1),
        ),
        "mse": (lambda s: build.MyMSELoss.apply(s, onehot), lambda s: F.mse_loss(s, onehot)),
    }
    for name, fns in pairs.items():
        curves = []
        for fn in fns:
            tt.manual_seed(0)
            model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
            optimizer = tt.optim.SGD(model.parameters(), lr=0.5)
            curve = []
            for _ in range(15):
                loss = fn(model(x))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                curve.append(loss.item())
            curves.append(curve)
        np.testing.assert_allclose(curves[0], curves[1], rtol=1e-4, err_msg=f"{name}: your training curve and tinytorch's")
