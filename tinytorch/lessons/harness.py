"""Run a learner's Build code and check it: what `tinytorch check N` and the lessons' test_lesson.py use.

    build = load("tinytorch-workspace/05_autograd.ipynb")   # the setup and Build cells, executed
    build.MyMul                                              # what the learner defined
    results = run_checks(lesson, notebook_path)              # the lesson's check cells, then its tests

Only the cells above `## Use` run (and not the check cells among them): loading a notebook never
trains anything. A cell that raises does not stop the others; asking for a name it should have
defined then says which cell failed and why. The check cells come from the reference lesson.py,
not from the learner's copy, so editing a check cannot make it pass.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import io
import itertools
import linecache
import re
import sys
import traceback
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import Lesson, notebook

_modules = itertools.count(1)
_MAGIC = re.compile(r"^(\s*)([%!].*)$", re.MULTILINE)


class NotDefinedError(AttributeError):
    """The learner's notebook does not define a name a check needs."""


@dataclass
class CellError:
    cell: int  # 1-based, counting every cell of the notebook
    first_line: str
    error: str  # "SyntaxError: ..." with the line


class Build:
    """The names the learner's setup and Build cells define: `build.Tensor` or `build["Tensor"]`.
    (Its own attributes start with `_nb_`, so they never hide a learner's name.)"""

    def __init__(self, path: Path, namespace: dict[str, Any], errors: list[CellError]) -> None:
        self._nb_path, self._nb_namespace, self._nb_errors = path, namespace, errors

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name.startswith("_nb_"):
            raise AttributeError(name)
        if name in self._nb_namespace:
            return self._nb_namespace[name]
        why = "".join(f"\n  cell {e.cell} ({e.first_line!r}) raised {e.error}" for e in self._nb_errors)
        raise NotDefinedError(f"your notebook {self._nb_path.name} does not define {name!r}{why}")

    def __getitem__(self, name: str) -> Any:
        return self.__getattr__(name)

    def __contains__(self, name: str) -> bool:
        return name in self._nb_namespace


@contextlib.contextmanager
def isolated_ops() -> Iterator[None]:
    """A notebook's Function subclasses register themselves in tinytorch.OPS; forget them afterwards,
    so checking a lesson leaves the op table (which tests and the profiler read) as it was."""
    from ..function import OPS

    before = dict(OPS)
    try:
        yield
    finally:
        OPS.clear()
        OPS.update(before)


def _first_line(source: str) -> str:
    return next((line.strip() for line in source.splitlines() if line.strip()), "")[:60]


def _filename(path: Path, cell: int) -> str:
    return f"<{path.name} cell {cell}>"


def _compile(source: str, filename: str) -> types.CodeType:
    """Compile a cell with its source in linecache, so tracebacks show the learner's lines.
    IPython magics (%time, !pip) are commented out: the checks run without IPython."""
    source = _MAGIC.sub(r"\1pass  # \2", source)
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    return compile(source, filename, "exec")


def load(path: str | Path) -> Build:
    """Execute the notebook's code cells before `## Use`, except its check cells, in a fresh module."""
    path = Path(path).resolve()
    cells = notebook.read(path)
    module = types.ModuleType(f"tinytorch_lesson_build_{next(_modules)}")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module  # dataclasses and pickle look classes' modules up here
    errors = []
    for i, cell in enumerate(cells, 1):
        if cell.kind != "code" or cell.part not in ("setup", "Build") or cell.is_check:
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(_compile(cell.source, _filename(path, i)), module.__dict__)
        except Exception as e:  # the learner's error, kept for the checks that need this cell
            error, where = _describe(e)
            errors.append(CellError(i, _first_line(cell.source), f"{error} ({where})" if where else error))
    return Build(path, module.__dict__, errors)


# ---------------------------------------------------------------------- checks


@dataclass
class Result:
    name: str
    passed: bool
    error: str = ""  # "AssertionError: my_add(...) should be ... but is ..."
    where: str = ""  # the learner's line that raised, when it was theirs
    output: str = ""  # what the check printed
    exception: type | None = None


def _describe(e: BaseException) -> tuple[str, str]:
    """'Type: message' and, when the error came from the learner's notebook, the line that raised."""
    if isinstance(e, SyntaxError) and e.filename and e.filename.startswith("<"):
        return f"SyntaxError: {e.msg}", f"{e.filename[1:-1]}, line {e.lineno}: {(e.text or '').strip()}"
    message = str(e)
    summary = f"{type(e).__name__}: {message}" if message else type(e).__name__
    frames = [f for f in traceback.extract_tb(e.__traceback__) if re.match(r"<.+ cell \d+>$", f.filename)]
    where = ""
    if frames:
        f = frames[-1]
        where = f"{f.filename[1:-1]}, line {f.lineno}, in {f.name}: {(f.line or '').strip()}"
    return summary, where


def _run(name: str, fn: Callable[[], Any]) -> Result:
    import numpy as np

    import tinytorch as tt

    tt.manual_seed(0)
    np.random.seed(0)
    out = io.StringIO()
    try:
        with tt.enable_grad(), contextlib.redirect_stdout(out):
            fn()
    except Exception as e:
        error, where = _describe(e)
        return Result(name, False, error, where, out.getvalue(), type(e))
    return Result(name, True, output=out.getvalue())


def load_tests(path: Path, key: str) -> list[tuple[str, Callable[..., Any]]]:
    """The test_* functions of a test_lesson.py, in file order. Each takes `build` (or nothing)."""
    spec = importlib.util.spec_from_file_location(f"tinytorch_lesson_tests_{key}_{next(_modules)}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tests = []
    for name, fn in vars(module).items():
        if name.startswith("test") and inspect.isfunction(fn) and fn.__module__ == module.__name__:
            params = list(inspect.signature(fn).parameters)
            if params not in ([], ["build"]):
                raise TypeError(f"{path.name}::{name} takes {params}; lesson tests take only the `build` fixture")
            tests.append((name, fn))
    return tests


def check_cells(lesson: Lesson) -> list[notebook.Cell]:
    """The reference's check cells in the Build part, in order."""
    return [c for c in notebook.read(lesson.source) if c.part == "Build" and c.is_check]


@dataclass
class Report:
    notebook: Path
    results: list[Result]
    cell_errors: list[CellError]  # the learner's cells that raised while loading

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def ok(self) -> bool:
        return self.passed == len(self.results)


def run_checks(lesson: Lesson, notebook_path: str | Path) -> Report:
    """The lesson's check cells, then its test_lesson.py tests, against the learner's notebook."""
    with isolated_ops():
        build = load(notebook_path)
        results = []
        for k, cell in enumerate(check_cells(lesson), 1):
            code = _compile(cell.source, f"<check cell {k}>")
            run = lambda code=code: exec(code, dict(build._nb_namespace))  # noqa: E731
            results.append(_run(f"check {k}: {cell.check_name or 'check cell'}", run))
        if lesson.tests is not None and lesson.tests.is_file():
            for name, fn in load_tests(lesson.tests, lesson.slug):
                call = (lambda fn=fn: fn(build)) if inspect.signature(fn).parameters else fn
                results.append(_run(f"{lesson.tests.name}::{name}", call))
    return Report(build._nb_path, results, build._nb_errors)
