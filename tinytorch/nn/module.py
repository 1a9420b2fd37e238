"""Module and Parameter: the bookkeeping that lets a model find its parameters, save and load
them, switch train/eval, and know its dotted name while it runs (for the recorder's scopes)."""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .. import function
from ..autograd import no_grad
from ..tensor import Tensor

_scope = function._scope  # the dotted names of the modules running now, innermost last
_running: list[Module] = []  # the modules themselves


def current_scope() -> str:
    """The dotted name of the innermost module running now ("" outside any module)."""
    return _scope[-1] if _scope else ""


class Parameter(Tensor):
    """A tensor that is a module's learnable weight: requires grad, found by parameters()."""

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        data = np.zeros(0, np.float32) if data is None else data
        super().__init__(data.data if isinstance(data, Tensor) else data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class _Handle:
    def __init__(self, hooks: dict, key: int) -> None:
        self.hooks, self.key = hooks, key

    def remove(self) -> None:
        self.hooks.pop(self.key, None)


class Module:
    """Base class of every layer and model; subclasses define forward()."""

    _hook_counter = 0

    def __init__(self) -> None:
        d = self.__dict__
        d["_parameters"], d["_buffers"], d["_modules"] = OrderedDict(), OrderedDict(), OrderedDict()
        d["_non_persistent"] = set()
        d["_forward_pre_hooks"], d["_forward_hooks"] = OrderedDict(), OrderedDict()
        d["training"], d["_name"], d["_parent"] = True, None, None

    # ------------------------------------------------------------------ attributes

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() before setting {name!r}")
        if isinstance(value, Parameter):
            self._forget(name)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._forget(name)
            self.add_module(name, value)
        elif name in self._buffers:  # assigning to a buffer keeps it a buffer
            self._buffers[name] = value
        elif name in self._parameters:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} to parameter {name!r} of {type(self).__name__} "
                    f"(a Parameter or None is expected; to change its values use .data or copy_ under no_grad)"
                )
            self._parameters[name] = None
        else:
            self._forget(name)
            object.__setattr__(self, name, value)

    def _forget(self, name: str) -> None:
        for store in (self._parameters, self._buffers, self._modules):
            store.pop(name, None)
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """A tensor that is state but not learned (BatchNorm's running mean); saved in state_dict."""
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        self._parameters[name] = param

    def add_module(self, name: str, module: Module | None) -> None:
        if module is not None:
            module.__dict__["_name"] = name
            module.__dict__["_parent"] = weakref.ref(self)  # for dotted names (see _scope_path)
        self._modules[name] = module

    # ------------------------------------------------------------------ running

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        for hook in self._forward_pre_hooks.values():
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        _scope.append(self._scope_path())
        _running.append(self)
        try:
            out = self.forward(*args, **kwargs)
        finally:
            _scope.pop()
            _running.pop()
        for hook in self._forward_hooks.values():
            result = hook(self, args, out)
            if result is not None:
                out = result
        return out

    def _scope_path(self) -> str:
        """This call's dotted name, as in the outermost running module's named_modules():
        "", "fc1", "h.0.attn". Containers that are only iterated (ModuleList) are never
        called, so the path follows parent links up to the module that is running."""
        if not _running:
            return ""
        top, names, m = _running[-1], [], self
        while m is not None and m is not top:
            names.append(m._name or "")
            parent = m.__dict__.get("_parent")
            m = parent() if parent is not None else None
        if m is None:  # not inside the running module: a module passed in from outside
            names = [self._name or ""]
        return ".".join(x for x in (_scope[-1], *reversed(names)) if x)

    def register_forward_pre_hook(self, hook: Callable) -> _Handle:
        """hook(module, args) runs before forward; it may return new args."""
        return self._add_hook(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook: Callable) -> _Handle:
        """hook(module, args, output) runs after forward; it may return a new output."""
        return self._add_hook(self._forward_hooks, hook)

    def _add_hook(self, hooks: dict, hook: Callable) -> _Handle:
        Module._hook_counter += 1
        hooks[Module._hook_counter] = hook
        return _Handle(hooks, Module._hook_counter)

    # ------------------------------------------------------------------ traversal

    def named_modules(self, memo: set | None = None, prefix: str = "") -> Iterator[tuple[str, Module]]:
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    def named_children(self) -> Iterator[tuple[str, Module]]:
        return ((n, m) for n, m in self._modules.items() if m is not None)

    def children(self) -> Iterator[Module]:
        return (m for _, m in self.named_children())

    def _named(self, store: str, recurse: bool) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()  # a tied weight appears once, under its first name
        modules = self.named_modules() if recurse else [("", self)]
        for prefix, module in modules:
            for name, t in getattr(module, store).items():
                if t is not None and id(t) not in seen:
                    seen.add(id(t))
                    yield (f"{prefix}.{name}" if prefix else name), t

    def named_parameters(self, recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        return self._named("_parameters", recurse)  # type: ignore[return-value]

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        return (p for _, p in self.named_parameters(recurse))

    def named_buffers(self, recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named("_buffers", recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        return (b for _, b in self.named_buffers(recurse))

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ modes

    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.data[...] = 0

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def to(self, dtype: Any) -> Module:
        """Cast floating parameters and buffers to dtype, in place (model.double() for gradcheck)."""
        for t in (*self.parameters(), *self.buffers()):
            if t.dtype.kind == "f":
                t.data = t.data.astype(dtype)
                t.grad = None if t.grad is None else Tensor(t.grad.data.astype(dtype))
        return self

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    def half(self) -> Module:
        return self.to(np.float16)

    # ------------------------------------------------------------------ state

    def state_dict(self) -> OrderedDict[str, Tensor]:
        """Parameters and persistent buffers by dotted name (tensors sharing the model's data)."""
        out: OrderedDict[str, Tensor] = OrderedDict()
        for prefix, module in self.named_modules():
            dot = f"{prefix}." if prefix else ""
            for name, p in module._parameters.items():
                if p is not None:
                    out[dot + name] = p.detach()
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    out[dot + name] = b.detach()
        return out

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> tuple[list[str], list[str]]:
        """Copy values into the model; checks every key and shape before changing anything."""
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched = []
        for key, target in own.items():
            if key in state_dict:
                shape = tuple(np.shape(_array(state_dict[key])))
                if shape != tuple(target.shape):
                    mismatched.append(
                        f"size mismatch for {key}: the checkpoint has shape {shape}, the model {tuple(target.shape)}"
                    )
        problems = list(mismatched)
        if strict and missing:
            problems.append(f"missing keys: {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {unexpected}")
        if problems:
            raise RuntimeError(f"error(s) loading state_dict for {type(self).__name__}: " + "; ".join(problems))
        with no_grad():
            for key, target in own.items():
                if key in state_dict:
                    target.copy_(Tensor(_array(state_dict[key])))
        return missing, unexpected

    # ------------------------------------------------------------------ printing

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + ")" if not lines else head + "\n  " + "\n  ".join(lines) + "\n)"


def _array(value: Any) -> np.ndarray:
    """A state_dict value (tinytorch or torch tensor, ndarray, number) as an ndarray."""
    if isinstance(value, Tensor):
        return value.data
    if hasattr(value, "detach"):  # a torch tensor
        return value.detach().cpu().numpy()
    return np.asarray(value)
