"""Reverse-mode autodiff: an iterative backward over the graph of `Function` nodes.

Every node is visited once, in reverse topological order; gradients are summed at fan-out;
broadcasting is undone here and only here (`unbroadcast`), so each op's backward stays textbook.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import function


class AccumulateGrad:
    """A graph leaf: adds the gradient that reaches it into `variable.grad`."""

    __slots__ = ("variable", "__weakref__")
    next_functions: tuple = ()
    name = "AccumulateGrad"

    def __init__(self, variable: Any) -> None:
        self.variable = variable

    def __repr__(self) -> str:
        return f"<AccumulateGrad shape={tuple(self.variable.shape)}>"


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` over the axes that broadcasting stretched, so it has `shape` again."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:
        raise RuntimeError(f"cannot unbroadcast gradient of shape {grad.shape} to {shape}")
    stretched = [extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1]
    axes = (*range(extra), *stretched)
    summed = grad.sum(axis=axes, keepdims=True) if axes else grad
    if summed.shape[extra:] != shape:
        raise RuntimeError(f"cannot unbroadcast gradient of shape {grad.shape} to {shape}")
    return summed.reshape(shape)


# ---------------------------------------------------------------------------- grad mode


class _GradMode:
    """Base of the grad-mode switches: a context manager, and a decorator with or without ()."""

    mode = True

    def __new__(cls, func: Callable | None = None) -> Any:
        self = super().__new__(cls)
        return self if func is None else self(func)  # @no_grad as well as @no_grad()

    def __init__(self, func: Callable | None = None) -> None:
        pass

    def __enter__(self) -> None:
        self.prev = function._grad_enabled
        function._grad_enabled = self.mode

    def __exit__(self, *exc: Any) -> None:
        function._grad_enabled = self.prev

    def __call__(self, fn: Callable) -> Callable:
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            prev = function._grad_enabled
            function._grad_enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                function._grad_enabled = prev

        return wrapper


class no_grad(_GradMode):
    """Context manager and decorator: ops inside build no graph."""

    mode = False


class enable_grad(_GradMode):
    """Context manager and decorator: ops inside build a graph even within no_grad."""

    mode = True


class set_grad_enabled(_GradMode):
    """Switch gradient tracking at once (a call), for a block (with), or for a function (@)."""

    def __new__(cls, mode: bool) -> set_grad_enabled:
        return object.__new__(cls)

    def __init__(self, mode: bool) -> None:
        self.mode, self.prev = bool(mode), function._grad_enabled
        function._grad_enabled = self.mode

    def __enter__(self) -> None:
        return None

    def __call__(self, fn: Callable) -> Callable:
        function._grad_enabled = self.prev  # as a decorator it changes nothing until called
        return super().__call__(fn)


def is_grad_enabled() -> bool:
    return function._grad_enabled


# ---------------------------------------------------------------------------- the engine


def _topological_order(roots: Iterable[Any]) -> list:
    """Nodes reachable from roots, each once, inputs before the nodes that use them."""
    order: list = []
    seen: set[int] = set()
    stack = [(node, False) for node in roots]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for parent in node.next_functions:
            if parent is not None and id(parent) not in seen:
                stack.append((parent, False))
    return order


def _check_saved(node: Any) -> None:
    if node.saved_tensors is None:
        raise RuntimeError(
            f"Trying to backward through the graph a second time: the saved tensors of "
            f"{node.name} were freed after the first backward. Pass retain_graph=True to the "
            f"first backward() if you need to go through the graph again."
        )
    for slot, cell, version in getattr(node, "_saved_versions", ()):
        if cell[0] != version:
            shape = tuple(node.saved_tensors[slot].shape)
            raise RuntimeError(
                f"one of the tensors needed for gradient computation has been modified by an "
                f"in-place operation: saved tensor {slot} of {node.name} (shape {shape}) is at "
                f"version {cell[0]}; expected version {version}. Use an out-of-place op or clone()."
            )


def run_backward(
    roots: Sequence[Any],
    root_grads: Sequence[np.ndarray],
    retain_graph: bool = False,
    capture: dict[int, int] | None = None,
) -> list | None:
    """Propagate gradients from root tensors to the leaves.

    With `capture` (node id -> slot) the gradients reaching those nodes are returned instead
    of being accumulated into `.grad` (this is `autograd.grad`).
    """

    nodes = [t.grad_fn if t.grad_fn is not None else t._grad_node() for t in roots]
    grads: dict[int, np.ndarray] = {}
    handed_out: set[int] = set()  # arrays given to a leaf or passed in by the user
    for node, g in zip(nodes, root_grads):
        handed_out.add(id(g))
        grads[id(node)] = grads[id(node)] + g if id(node) in grads else g
    captured: list | None = [None] * (max(capture.values()) + 1) if capture else None
    recorder = function._hook  # read once per backward: None when nothing records
    global _depth
    _depth += 1  # a backward inside a backward (checkpointing) stays in the backward phase
    if recorder is not None and _depth == 1:
        recorder.set_phase("backward")
    try:
        return _propagate(nodes, grads, handed_out, captured, capture, retain_graph, recorder)
    finally:
        _depth -= 1
        if recorder is not None and _depth == 0:
            recorder.set_phase("optimizer")  # what follows backward (clipping, the update)


_depth = 0  # how many run_backward calls are running


def _propagate(nodes: list, grads: dict, handed_out: set, captured: list | None, capture: dict | None, retain_graph: bool,
               recorder: Any) -> list | None:  # fmt: skip
    """The backward loop: each node once, in reverse topological order."""
    from .tensor import Tensor

    for node in reversed(_topological_order(nodes)):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        hooks = node.variable._hooks if type(node) is AccumulateGrad else node._hooks
        for hook in hooks:
            result = hook(Tensor._make(g, False, None))
            if result is not None:
                g = result.data
        if g.size <= 16 and type(node) is not AccumulateGrad:
            node.output_grad = g  # small gradients stay readable on the graph (micrograd style)
        if captured is not None and id(node) in capture:
            captured[capture[id(node)]] = g
        if type(node) is AccumulateGrad:
            if captured is None:
                _accumulate(node.variable, g, handed_out)
                if recorder is not None:
                    recorder.accumulated(node.variable)
            continue
        _check_saved(node)
        input_grads = node.backward(node, g) if recorder is None else recorder.backward(node, g)
        if type(input_grads) is not tuple:
            input_grads = (input_grads,)
        for i, (parent, (shape, dtype), gi) in enumerate(zip(node.next_functions, node.input_meta, input_grads)):
            if parent is None or gi is None:
                continue
            if type(gi) is not np.ndarray:
                gi = np.asarray(gi)
            if gi.shape != shape:
                try:
                    gi = unbroadcast(gi, shape)
                except RuntimeError:
                    raise RuntimeError(
                        f"{node.name}.backward returned a gradient of shape {gi.shape} for input {i} of shape {shape}"
                    ) from None
            if gi.dtype != dtype:
                gi = gi.astype(dtype)
            key = id(parent)
            grads[key] = grads[key] + gi if key in grads else gi
        if not retain_graph and node.saved_tensors:
            node.saved_tensors = None
    return captured


def _accumulate(t: Any, g: np.ndarray, handed_out: set[int]) -> None:
    """Add g into t.grad; take ownership of g only if no one else holds it."""
    from .tensor import Tensor

    if t.grad is None:
        if g.base is not None or id(g) in handed_out:
            g = g.copy()
        handed_out.add(id(g))
        t.grad = Tensor._make(g, False, None)
    else:
        np.add(t.grad.data, g, out=t.grad.data)


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    allow_unused: bool = False,
) -> tuple:
    """Gradients of outputs with respect to inputs, returned rather than stored in `.grad`."""
    from .tensor import Tensor

    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    root_grads = [_root_grad(o, g) for o, g in zip(outputs, grad_outputs)]
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"input {i} of autograd.grad does not require grad")
    capture = {id(t._grad_node()): i for i, t in enumerate(inputs)}
    captured = run_backward(outputs, root_grads, bool(retain_graph), capture)
    result = []
    for i, g in enumerate(captured or [None] * len(inputs)):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"input {i} of autograd.grad was not used to compute the outputs (pass allow_unused=True to get None for it)"
            )
        result.append(None if g is None else Tensor._make(np.array(g), False, None))
    return tuple(result)


def _root_grad(output: Any, gradient: Any) -> np.ndarray:
    """The gradient that starts backward at `output`: ones for a scalar, else given."""
    if not output.requires_grad:
        raise RuntimeError(
            f"tensor of shape {tuple(output.shape)} does not require grad and has no grad_fn: "
            f"nothing to differentiate (did you forget requires_grad=True, or run under no_grad?)"
        )
    if gradient is None:
        if output.data.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for scalar outputs, but the output has "
                f"shape {tuple(output.shape)}; pass gradient= with that shape, or reduce first "
                f"(e.g. .sum())"
            )
        return np.ones_like(output.data)
    g = np.asarray(getattr(gradient, "data", gradient), dtype=output.data.dtype)
    if g.shape != output.data.shape:
        raise RuntimeError(f"gradient has shape {g.shape} but the output has shape {tuple(output.shape)}")
    return g


def backward(tensor: Any, gradient: Any = None, retain_graph: bool = False) -> None:
    run_backward([tensor], [_root_grad(tensor, gradient)], retain_graph)


# ---------------------------------------------------------------------------- introspection


@dataclass
class GraphNode:
    """One node of an autograd graph as data: an op, or a leaf that accumulates a gradient."""

    index: int
    op: str
    inputs: list[int | None]  # index of the node producing each input; None for constants
    input_shapes: list[tuple[int, ...]]
    input_dtypes: list[str]
    saved_shapes: list[tuple[int, ...]] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    output_shape: tuple[int, ...] | None = None
    output_dtype: str | None = None
    module: str = ""  # the nn.Module that ran the op ("" outside modules)
    node: Any = field(default=None, repr=False)


def graph(tensor: Any) -> list[GraphNode]:
    """The autograd graph that produced `tensor`, in topological order (inputs first)."""
    if tensor.grad_fn is None:
        return []
    order = _topological_order([tensor.grad_fn])
    index = {id(n): i for i, n in enumerate(order)}
    # a node's output is what its consumers received (or the tensor itself, for the last node)
    outputs = {id(tensor.grad_fn): (tuple(tensor.shape), str(tensor.dtype))}
    for n in order:
        for parent, (shape, dtype) in zip(n.next_functions, getattr(n, "input_meta", ())):
            if parent is not None:
                outputs[id(parent)] = (tuple(shape), str(dtype))
    result = []
    for i, n in enumerate(order):
        if type(n) is AccumulateGrad:
            shape = tuple(n.variable.shape)
            result.append(GraphNode(i, "AccumulateGrad", [], [shape], [str(n.variable.dtype)], node=n))
            continue
        saved = [a for a in n.saved_tensors or () if a is not None]  # a slot a gradient did not need is None
        result.append(
            GraphNode(
                index=i,
                op=n.name,
                inputs=[None if p is None else index[id(p)] for p in n.next_functions],
                input_shapes=[tuple(s) for s, _ in n.input_meta],
                input_dtypes=[str(d) for _, d in n.input_meta],
                saved_shapes=[tuple(np.shape(a)) for a in saved],
                attrs={k: v for k, v in n.attrs.items() if not isinstance(v, np.ndarray)},
                output_shape=outputs[id(n)][0],
                output_dtype=outputs[id(n)][1],
                module=n.scope,
                node=n,
            )
        )
    return result


# ---------------------------------------------------------------------------- gradcheck


class GradcheckError(RuntimeError):
    pass


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """Compare backward with float64 central differences, d/dx f ~ (f(x+e) - f(x-e)) / 2e.

    The output is reduced with fixed random weights w, so one backward gives the
    vector-Jacobian product w^T J, checked against finite differences of sum(w * f).
    """
    from .tensor import Tensor

    inputs = [t if isinstance(t, Tensor) else Tensor(t) for t in inputs]
    for i, t in enumerate(inputs):
        if t.requires_grad and t.dtype != np.float64:
            raise GradcheckError(f"gradcheck needs float64 inputs; input {i} is {t.dtype}")
    out = fn(*inputs)
    weights = np.random.default_rng(seed).uniform(0.5, 1.5, size=out.shape)

    def weighted_sum() -> float:
        with no_grad():
            return float((fn(*inputs).data.astype(np.float64) * weights).sum())

    wanted = [t for t in inputs if t.requires_grad]
    analytic = grad([out], wanted, [Tensor(weights)], allow_unused=True)
    for k, (t, a) in enumerate(zip(wanted, analytic)):
        a = np.zeros(t.shape) if a is None else a.data
        numeric = np.zeros(t.shape)
        flat = t.data.reshape(-1)  # a view: perturbing it perturbs the input
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + eps
            plus = weighted_sum()
            flat[j] = old - eps
            minus = weighted_sum()
            flat[j] = old
            numeric.reshape(-1)[j] = (plus - minus) / (2 * eps)
        bad = ~np.isclose(a, numeric, atol=atol, rtol=rtol)
        if bad.any():
            j = np.unravel_index(np.argmax(np.abs(a - numeric) * bad), t.shape)
            msg = (
                f"gradcheck failed for input {k} of shape {tuple(t.shape)} at index {j}: "
                f"backward gives {a[j]:.8g}, finite differences give {numeric[j]:.8g} "
                f"({int(bad.sum())} of {bad.size} entries differ)"
            )
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True
