"""The one choke point: every tensor operation is a `Function` subclass called via `apply`.

A subclass writes `forward(ctx, *arrays, **attrs)` and `backward(ctx, grad_output)` side by
side, on NumPy arrays, in PyTorch's words. Defining the class registers it in `OPS`, the one
table that autograd, the recorder, the profiler and the tests read.

`apply` is where autograd bookkeeping happens. With no recorder active its only extra cost
is one read of the module global `_hook`.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

OPS: dict[str, type[Function]] = {}

# Set by tinytorch.record (an OpHook); None = nothing records.
_hook: OpHook | None = None
# Flipped by autograd.no_grad / enable_grad / set_grad_enabled.
_grad_enabled: bool = True
# Dotted names of the nn.Modules running now, innermost last ("encoder.0.fc1"); Module.__call__
# pushes and pops, graph nodes remember where they were made.
_scope: list[str] = []


class Function:
    """An op. Its instances are the autograd graph's nodes (PyTorch's `ctx` and `grad_fn`).

    Class attributes a subclass may set:
      differentiable: False for ops whose output never requires grad (comparisons, argmax).
      inplace: True when forward writes into its first input and returns it (optimizer
        updates, `add_`); apply then returns that input tensor and bumps its version.
      view: True when the output may be a view of input 0 (reshape, permute, indexing).
    """

    differentiable = True
    inplace = False
    view = False  # the output may be a view of input 0: it then shares input 0's version counter
    _hooks: tuple | list = ()  # gradient hooks of the output tensor (register_hook on non-leaves)

    # Filled by apply on nodes that take part in autograd:
    #   next_functions  one entry per input: the input's node (grad_fn or AccumulateGrad) or None
    #   input_meta      one (shape, dtype) per input, for unbroadcasting and shape checks
    #   needs_input_grad, saved_tensors, attrs (the keyword arguments), scope (the module
    #   that ran it), output (a weakref to the output tensor), value (the output array when it
    #   has <= 16 elements) and, after backward, output_grad (the same for its gradient)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__name__.startswith("_"):  # a shared base, not an op
            return
        if cls.__name__ in OPS:
            raise TypeError(f"op {cls.__name__!r} is already registered by {OPS[cls.__name__]}")
        OPS[cls.__name__] = cls

    def save_for_backward(self, *arrays: np.ndarray) -> None:
        """Keep arrays for backward; they are freed after backward unless retain_graph."""
        self.saved_tensors = arrays

    @staticmethod
    def forward(ctx: Function, *arrays: np.ndarray, **attrs: Any) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Function, grad_output: np.ndarray) -> Any:
        raise NotImplementedError

    @staticmethod
    def flops(shapes: list[tuple[int, ...]], out: tuple[int, ...], attrs: dict[str, Any]) -> int:
        """Forward FLOPs from the shapes: by default one per output element (elementwise ops).
        Ops that do more (matmul, convolution) or nothing (reshapes) declare their own."""
        return int(np.prod(out))

    @classmethod
    def backward_flops(
        cls, shapes: list[tuple[int, ...]], out: tuple[int, ...], attrs: dict[str, Any], needs: tuple[bool, ...]
    ) -> int:
        """Backward FLOPs: by default the forward's count again for each input that needs a gradient."""
        return cls.flops(shapes, out, attrs) * sum(bool(n) for n in needs)

    @classmethod
    def apply(cls, *inputs: Tensor, **attrs: Any) -> Tensor:
        """Run the op on tensors; record it in the autograd graph when a gradient is needed."""
        hook = _hook
        if hook is not None:
            return hook(cls, inputs, attrs)
        return run(cls, inputs, attrs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}Backward>"

    @property
    def name(self) -> str:
        return type(self).__name__


def run(cls: type[Function], inputs: tuple[Tensor, ...], attrs: dict[str, Any]) -> Tensor:
    """Apply's body (the recorder calls it too): forward, then link the node into the graph."""
    needs = tuple([t.requires_grad for t in inputs])
    requires_grad = _grad_enabled and cls.differentiable and True in needs
    ctx = cls.__new__(cls)
    ctx.needs_input_grad = needs if requires_grad else (False,) * len(needs)
    ctx.saved_tensors = ()
    try:
        out = cls.forward(ctx, *[t.data for t in inputs], **attrs)
    except ValueError as e:
        shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
        raise ValueError(f"{cls.__name__}: invalid inputs of shapes {shapes}: {e}") from None
    if cls.inplace:
        target = inputs[0]
        target._version_cell[0] += 1
        return target
    if type(out) is not np.ndarray:  # NumPy returns scalars from 0-d ufuncs and reductions
        out = np.asarray(out)
    result = Tensor._make(out, requires_grad, ctx if requires_grad else None)
    if cls.view and out.base is not None and np.may_share_memory(out, inputs[0].data):
        result._version_cell = inputs[0]._version_cell  # changing the base changes the view
    if not requires_grad:
        return result
    ctx.attrs = attrs
    ctx.scope = _scope[-1] if _scope else ""
    ctx.output = weakref.ref(result)  # shape, dtype and values while the output lives
    if out.size <= 16:  # small outputs stay readable after they die, for micrograd-style drawings
        ctx.value = out
    ctx.next_functions = tuple([t._grad_node() if n else None for t, n in zip(inputs, needs)])
    ctx.input_meta = tuple([(t.data.shape, t.data.dtype) for t in inputs])
    if ctx.saved_tensors:
        ctx._saved_versions = _saved_versions(ctx.saved_tensors, inputs, result)
    return result


def _saved_versions(saved: tuple, inputs: tuple, output: Tensor) -> list:
    """(slot, version cell, version now) for each saved array that is an input's or the output's."""
    versions = []
    for slot, array in enumerate(saved):
        for t in (*inputs, output):
            if t.data is array:
                versions.append((slot, t._version_cell, t._version_cell[0]))
                break
    return versions


class OpHook:
    """What a recorder or profiler implements to see every op. Installed as `function._hook`.

    __call__ runs forward ops (it must call `run(cls, inputs, attrs)`); backward(node, grad)
    runs one node's backward in the engine (it must return node.backward(node, grad));
    accumulated(tensor) follows a leaf's .grad update; set_phase names what runs next
    ("backward" from the engine, "optimizer" after backward and from Optimizer.step);
    allocated(array, category, holder, owner) hears of arrays allocated outside ops."""

    def __call__(self, cls: type[Function], inputs: tuple, attrs: dict[str, Any]) -> Tensor:
        return run(cls, inputs, attrs)

    def backward(self, node: Function, grad: np.ndarray) -> Any:
        return node.backward(node, grad)

    def accumulated(self, tensor: Tensor) -> None:
        pass

    def set_phase(self, phase: str) -> None:
        pass

    def allocated(self, array: np.ndarray, category: str, holder: str, owner: Any = None) -> None:
        """An allocation that knows its memory category (optimizer state) announces itself."""


def phase_of(phase: str, cls: type[Function]) -> str:
    """The phase an op runs in, given the phase a hook was last told (set_phase): after a backward,
    in-place ops (clipping, the updates) are the optimizer's, and any other op starts the next
    forward (the next micro-batch of gradient accumulation, say), optimizer step or not."""
    return "forward" if phase == "optimizer" and not cls.inplace else phase


from .tensor import Tensor  # noqa: E402  (tensor.py imports this module first)
