"""Tensor: an ndarray plus what autograd needs. Every method that computes goes through a
primitive's `apply`; softmax, var, logsumexp and friends are compositions of primitives."""

from __future__ import annotations

import weakref
from collections import namedtuple
from collections.abc import Callable
from typing import Any

import numpy as np

from . import function
from .autograd import AccumulateGrad
from .autograd import backward as _backward
from .dtypes import _default_float, as_array, bool_, float16, float32, float64, int32, int64, result_type
from .ops.compare import Argmax, Argmin, Eq, Ge, Gt, Le, LogicalNot, Lt, Ne
from .ops.elementwise import (
    Abs,
    Add,
    Cast,
    Clamp,
    Div,
    Exp,
    Gelu,
    LeakyRelu,
    Log,
    Maximum,
    Minimum,
    Mul,
    Neg,
    Pow,
    Relu,
    Sigmoid,
    Sqrt,
    Sub,
    Tanh,
    Where,
)  # fmt: skip
from .ops.inplace import AddInplace, ClampInplace, CopyInplace, DivInplace, MulInplace, SetItem
from .ops.linalg import MatMul
from .ops.reduce import Max, Mean, Min, Sum, _axes
from .tensor_shape import ShapeMethods, _index

MaxResult = namedtuple("MaxResult", ["values", "indices"])


class Tensor(ShapeMethods):
    """An n-dimensional array that can take part in autograd."""

    # __dict__ lets users (and the recorder) attach attributes, as on torch tensors
    __slots__ = ("data", "requires_grad", "grad", "grad_fn", "_version_cell", "_accum", "_hooks",
                 "__weakref__", "__dict__")  # fmt: skip
    __array_ufunc__ = None  # make NumPy defer to our reflected operators (np.float32(2) * t)

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data = as_array(data, dtype)
        if requires_grad and self.data.dtype.kind not in "fc":
            raise RuntimeError(f"only floating point tensors can require grad, got {self.data.dtype}")
        self.requires_grad, self.grad, self.grad_fn = bool(requires_grad), None, None
        self._version_cell, self._accum, self._hooks = [0], None, ()

    @staticmethod
    def _make(data: np.ndarray, requires_grad: bool, grad_fn: Any) -> Tensor:
        """Fast constructor for op outputs (no checks, no copies)."""
        t = object.__new__(Tensor)
        t.data, t.requires_grad, t.grad, t.grad_fn = data, requires_grad, None, grad_fn
        t._version_cell, t._accum, t._hooks = [0], None, ()
        return t

    def _grad_node(self) -> Any:
        """The graph node gradients for this tensor flow into: grad_fn, or the leaf's AccumulateGrad."""
        if self.grad_fn is not None:
            return self.grad_fn
        node = self._accum() if self._accum is not None else None
        if node is None:
            node = AccumulateGrad(self)
            self._accum = weakref.ref(node)  # the graph holds the node; the node holds us
        return node

    def _lift(self, other: Any) -> Tensor:
        """A Python scalar as a 0-d tensor of our dtype, so float32 never becomes float64."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, np.ndarray):
            return Tensor(other)
        dtype = self.data.dtype
        if isinstance(other, float) and dtype.kind not in "fc":
            dtype = _default_float
        elif isinstance(other, int) and not isinstance(other, bool) and dtype.kind == "b":
            dtype = int64
        return Tensor._make(np.asarray(other, dtype), False, None)

    # ------------------------------------------------------------------ properties

    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    is_leaf = property(lambda self: self.grad_fn is None)
    _version = property(lambda self: self._version_cell[0])
    T = property(lambda self: self.permute(*reversed(range(self.ndim))))
    mT = property(lambda self: self.transpose(-2, -1))

    def numel(self) -> int:
        return int(self.data.size)

    def size(self, dim: int | None = None) -> Any:
        return self.data.shape if dim is None else self.data.shape[dim]

    def dim(self) -> int:
        return self.data.ndim

    def item(self) -> Any:
        if self.data.size != 1:
            raise ValueError(f"a tensor with {self.data.size} elements cannot be converted to a Python scalar")
        return self.data.item()

    def numpy(self) -> np.ndarray:
        return self.data

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        """The same data, cut from the graph (shares the version counter, as PyTorch)."""
        t = Tensor._make(self.data, False, None)
        t._version_cell = self._version_cell
        return t

    def clone(self) -> Tensor:
        return self * 1 if self.requires_grad else Tensor._make(self.data.copy(), False, None)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if not self.is_leaf:
            raise RuntimeError("requires_grad can only be changed on leaf tensors (this one has a grad_fn)")
        if requires_grad and self.data.dtype.kind not in "fc":
            raise RuntimeError(f"only floating point tensors can require grad, got {self.data.dtype}")
        self.requires_grad = requires_grad
        return self

    def to(self, dtype: Any) -> Tensor:
        dtype = np.dtype(dtype)
        return self if dtype == self.data.dtype else Cast.apply(self, dtype=dtype)

    astype = to
    float = lambda self: self.to(float32)  # noqa: E731
    double = lambda self: self.to(float64)  # noqa: E731
    half = lambda self: self.to(float16)  # noqa: E731
    long = lambda self: self.to(int64)  # noqa: E731
    int = lambda self: self.to(int32)  # noqa: E731
    bool = lambda self: self.to(bool_)  # noqa: E731

    def contiguous(self) -> Tensor:
        return self

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(", precision=4)
        extras = []
        if self.data.dtype not in (float32, int64, bool_):
            extras.append(f"dtype=tinytorch.{self.data.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({', '.join([body, *extras])})"

    def __len__(self) -> int:
        if not self.data.ndim:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    __hash__ = object.__hash__
    __bool__ = lambda self: bool(self.item())  # noqa: E731
    __float__ = lambda self: float(self.item())  # noqa: E731
    __int__ = lambda self: int(self.item())  # noqa: E731

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError(f"only integer tensors of one element can be used as an index, got {self}")
        return int(self.item())

    # ------------------------------------------------------------------ arithmetic

    def _binary(self, cls: type, other: Any, reflected: bool = False) -> Tensor:
        a, b = (self._lift(other), self) if reflected else (self, self._lift(other))
        if a.data.dtype != b.data.dtype:
            dtype = result_type(a.data.dtype, b.data.dtype, a.data.ndim, b.data.ndim)
            a, b = a.to(dtype), b.to(dtype)
        return cls.apply(a, b)

    __add__ = lambda self, o: self._binary(Add, o)  # noqa: E731
    __radd__ = lambda self, o: self._binary(Add, o, True)  # noqa: E731
    __sub__ = lambda self, o: self._binary(Sub, o)  # noqa: E731
    __rsub__ = lambda self, o: self._binary(Sub, o, True)  # noqa: E731
    __mul__ = lambda self, o: self._binary(Mul, o)  # noqa: E731
    __rmul__ = lambda self, o: self._binary(Mul, o, True)  # noqa: E731
    __pow__ = lambda self, o: self._binary(Pow, o)  # noqa: E731
    __rpow__ = lambda self, o: self._binary(Pow, o, True)  # noqa: E731
    __matmul__ = lambda self, o: self.matmul(o)  # noqa: E731
    __rmatmul__ = lambda self, o: self._lift(o).matmul(self)  # noqa: E731
    __neg__ = lambda self: Neg.apply(self)  # noqa: E731
    __abs__ = lambda self: Abs.apply(self)  # noqa: E731
    add, sub, mul, pow = __add__, __sub__, __mul__, __pow__
    neg, abs = __neg__, __abs__

    def __truediv__(self, other: Any) -> Tensor:
        return self._true_div(self, self._lift(other))

    def __rtruediv__(self, other: Any) -> Tensor:
        return self._true_div(self._lift(other), self)

    @staticmethod
    def _true_div(a: Tensor, b: Tensor) -> Tensor:
        if a.data.dtype.kind not in "fc" and b.data.dtype.kind not in "fc":
            a = a.to(_default_float)  # integer / integer is a float, as in PyTorch
        return a._binary(Div, b)

    div = __truediv__

    __eq__ = lambda self, o: self._binary(Eq, o)  # type: ignore[assignment]  # noqa: E731
    __ne__ = lambda self, o: self._binary(Ne, o)  # type: ignore[assignment]  # noqa: E731
    __lt__ = lambda self, o: self._binary(Lt, o)  # noqa: E731
    __le__ = lambda self, o: self._binary(Le, o)  # noqa: E731
    __gt__ = lambda self, o: self._binary(Gt, o)  # noqa: E731
    __ge__ = lambda self, o: self._binary(Ge, o)  # noqa: E731
    __invert__ = lambda self: LogicalNot.apply(self)  # noqa: E731
    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    def matmul(self, other: Any) -> Tensor:
        """Matrix product with broadcast batch dims; a 1-D operand is a row or column vector."""
        other = self._lift(other)
        if self.ndim == 0 or other.ndim == 0:
            raise ValueError(f"matmul needs operands of at least 1 dimension, got shapes {self.shape} and {other.shape}")
        k_other = other.shape[0] if other.ndim == 1 else other.shape[-2]
        if self.shape[-1] != k_other:
            raise ValueError(
                f"matmul: shapes {self.shape} and {other.shape} cannot be multiplied ({self.shape[-1]} != {k_other})"
            )
        a = self.reshape(1, -1) if self.ndim == 1 else self  # (K,) -> (1, K)
        b = other.reshape(-1, 1) if other.ndim == 1 else other  # (K,) -> (K, 1)
        out = a._binary(MatMul, b)
        if self.ndim == 1:
            out = out.squeeze(-2)
        if other.ndim == 1:
            out = out.squeeze(-1)
        return out

    # ------------------------------------------------------------------ elementwise

    exp = lambda self: Exp.apply(self)  # noqa: E731
    log = lambda self: Log.apply(self)  # noqa: E731
    sqrt = lambda self: Sqrt.apply(self)  # noqa: E731
    tanh = lambda self: Tanh.apply(self)  # noqa: E731
    sigmoid = lambda self: Sigmoid.apply(self)  # noqa: E731
    relu = lambda self: Relu.apply(self)  # noqa: E731

    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        return LeakyRelu.apply(self, negative_slope=negative_slope)

    def gelu(self, approximate: str = "none") -> Tensor:
        return Gelu.apply(self, approximate=approximate)

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:
        if min is None and max is None:
            raise ValueError("clamp needs at least one of min and max")
        return Clamp.apply(self, min=min, max=max)

    clip = clamp

    def maximum(self, other: Any) -> Tensor:
        return self._binary(Maximum, other)

    def minimum(self, other: Any) -> Tensor:
        return self._binary(Minimum, other)

    def where(self, condition: Any, other: Any) -> Tensor:
        """self where condition holds, else other (Tensor.where's argument order)."""
        from .creation import where

        return where(condition, self, other)

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        from .creation import where

        value = value.to(self.dtype) if isinstance(value, Tensor) else Tensor._make(np.asarray(value, self.dtype), False, None)
        return where(mask, value, self)  # the value takes our dtype, as in PyTorch

    def tril(self, diagonal: int = 0) -> Tensor:
        return self._triangle(np.tri(*self.shape[-2:], k=diagonal, dtype=bool))

    def triu(self, diagonal: int = 0) -> Tensor:
        return self._triangle(~np.tri(*self.shape[-2:], k=diagonal - 1, dtype=bool))

    def _triangle(self, keep: np.ndarray) -> Tensor:
        return Where.apply(Tensor(keep), self, self._lift(0))

    # ------------------------------------------------------------------ reductions

    def sum(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return Sum.apply(self, dim=dim, keepdim=keepdim)

    def mean(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return Mean.apply(self, dim=dim, keepdim=keepdim)

    def max(self, dim: Any = None, keepdim: bool = False) -> Any:
        """max() of all elements; max(dim) gives (values, indices); max(tensor) is maximum."""
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        if dim is None:
            return Max.apply(self)
        return MaxResult(Max.apply(self, dim=dim, keepdim=keepdim), self.argmax(dim, keepdim))

    def min(self, dim: Any = None, keepdim: bool = False) -> Any:
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        if dim is None:
            return Min.apply(self)
        return MaxResult(Min.apply(self, dim=dim, keepdim=keepdim), self.argmin(dim, keepdim))

    def amax(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return Max.apply(self, dim=dim, keepdim=keepdim)

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return Argmax.apply(self, dim=dim, keepdim=keepdim)

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return Argmin.apply(self, dim=dim, keepdim=keepdim)

    def var(self, dim: Any = None, unbiased: bool = True, keepdim: bool = False, correction: Any = None) -> Tensor:
        """sum((x - mean)^2) / (n - correction); correction 1 (unbiased) by default, as PyTorch."""
        correction = (1 if unbiased else 0) if correction is None else correction
        count = int(np.prod([self.shape[i] for i in _axes(dim, self.ndim)]))
        centered = self - self.mean(dim, keepdim=True)
        return (centered * centered).sum(dim, keepdim) / max(count - correction, 0)

    def std(self, dim: Any = None, unbiased: bool = True, keepdim: bool = False, correction: Any = None) -> Tensor:
        """sqrt(var), with gradient 0 (not 0 * inf) where all values are equal, as PyTorch."""
        var = self.var(dim, unbiased, keepdim, correction)
        spread = var > 0
        return Where.apply(spread, var, self._lift(1)).sqrt() * spread

    def logsumexp(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """log sum exp x = m + log sum exp(x - m), m = max x (a constant: no overflow)."""
        m = Max.apply(self.detach(), dim=dim, keepdim=True)
        out = (self - m).exp().sum(dim, keepdim=True).log() + m
        if keepdim:
            return out
        return out.reshape(()) if dim is None else out.squeeze(dim)

    def softmax(self, dim: int = -1) -> Tensor:
        """exp(x - max) / sum exp(x - max); subtracting the max changes nothing but overflow."""
        e = (self - Max.apply(self.detach(), dim=dim, keepdim=True)).exp()
        return e / e.sum(dim, keepdim=True)

    def log_softmax(self, dim: int = -1) -> Tensor:
        """x - logsumexp(x)"""
        shifted = self - Max.apply(self.detach(), dim=dim, keepdim=True)
        return shifted - shifted.exp().sum(dim, keepdim=True).log()

    # ------------------------------------------------------------------ in place

    def _check_inplace(self, op: str) -> None:
        if function._grad_enabled and self.requires_grad:
            if self.is_leaf:
                raise RuntimeError(
                    f"{op}: a leaf tensor that requires grad (shape {self.shape}) cannot be changed "
                    f"in place while gradients are tracked; do it inside tinytorch.no_grad(), as optimizers do"
                )
            raise RuntimeError(
                f"{op}: in-place change of a tensor that is part of an autograd graph (the output of "
                f"{self.grad_fn.name}) is not supported; use the out-of-place form (x = x + y)"
            )

    def __setitem__(self, index: Any, value: Any) -> None:
        self._inplace(SetItem, value, index=_index(index))

    def _inplace(self, cls: type, *args: Any, **attrs: Any) -> Tensor:
        self._check_inplace(cls.__name__)
        others = [self._lift(a) for a in args]
        if function._grad_enabled and any(o.requires_grad for o in others):
            raise RuntimeError(
                f"{cls.__name__}: writing a tensor that requires grad into another in place would cut it "
                f"from the graph; build the result out of place (tinytorch.where, cat, or x + y) instead"
            )
        return cls.apply(self, *others, **attrs)

    add_ = lambda self, o, alpha=1: self._inplace(AddInplace, o, alpha=alpha)  # noqa: E731
    sub_ = lambda self, o, alpha=1: self._inplace(AddInplace, o, alpha=-alpha)  # noqa: E731
    mul_ = lambda self, o: self._inplace(MulInplace, o)  # noqa: E731
    div_ = lambda self, o: self._inplace(DivInplace, o)  # noqa: E731
    copy_ = lambda self, src: self._inplace(CopyInplace, src)  # noqa: E731
    fill_ = lambda self, value: self._inplace(CopyInplace, value)  # noqa: E731
    zero_ = lambda self: self._inplace(CopyInplace, 0)  # noqa: E731

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:
        return self._inplace(ClampInplace, min=min, max=max)

    def _augmented(self, inplace: Callable, out_of_place: Callable, other: Any) -> Tensor:
        """x += y: in place, except on a graph tensor, where it becomes x = x + y."""
        if function._grad_enabled and self.requires_grad and not self.is_leaf:
            return out_of_place(self, other)
        return inplace(self, other)

    __iadd__ = lambda self, o: self._augmented(Tensor.add_, Tensor.__add__, o)  # noqa: E731
    __isub__ = lambda self, o: self._augmented(Tensor.sub_, Tensor.__sub__, o)  # noqa: E731
    __imul__ = lambda self, o: self._augmented(Tensor.mul_, Tensor.__mul__, o)  # noqa: E731
    __itruediv__ = lambda self, o: self._augmented(Tensor.div_, Tensor.__truediv__, o)  # noqa: E731

    # ------------------------------------------------------------------ autograd

    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d self / d leaf into every leaf's .grad."""
        _backward(self, gradient, retain_graph)

    def register_hook(self, hook: Callable[[Tensor], Any]) -> Any:
        """Call hook(grad) when this tensor's gradient is computed; it may return a new grad."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        owner = self if self.grad_fn is None else self.grad_fn
        if not isinstance(owner._hooks, list):
            owner._hooks = []
        owner._hooks.append(hook)
        return _HookHandle(owner._hooks, hook)

    def retain_grad(self) -> None:
        """Keep .grad on a non-leaf tensor after backward."""
        if self.grad_fn is None:
            return
        ref = weakref.ref(self)

        def store(grad: Tensor) -> None:
            t = ref()
            if t is not None:
                t.grad = Tensor._make(grad.data.copy(), False, None) if t.grad is None else t.grad + grad

        self.register_hook(store)


class _HookHandle:
    def __init__(self, hooks: list, hook: Callable) -> None:
        self.hooks, self.hook = hooks, hook

    def remove(self) -> None:
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)
