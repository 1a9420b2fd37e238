"""The lessons (modules/NN_name/): every available lesson follows the format, its reference notebook
executes top to bottom in a Jupyter kernel (TINYTORCH_FAST=1), its checks pass on the reference
answers, and every check fails with NotImplementedError on the student version `tinytorch release`
writes. The `tinytorch` commands are tested end to end in test_cli_lessons.py."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tinytorch.lessons import Lesson, lessons, modules_root
from tinytorch.lessons import notebook as nbformat_lesson
from tinytorch.lessons.harness import isolated_ops, load, run_checks
from tinytorch.lessons.release import release

REPO = Path(__file__).resolve().parent.parent
AVAILABLE = [lesson for lesson in lessons() if lesson.available]
BUDGET_SECONDS = 30  # the target is ~20 s per lesson under TINYTORCH_FAST=1; this leaves room for a slow CI machine
# A measurement typed into the text instead of computed: a number with a unit of size, time or share.
TYPED_MEASUREMENT = re.compile(r"\d[\d,.]*\s*(B|KB|KiB|MB|MiB|GB|GiB|ms|µs|us|ns|s|seconds|%)(?![\w])")

by_slug = pytest.mark.parametrize("lesson", AVAILABLE, ids=lambda lesson: lesson.slug)


def test_the_course_is_found_and_lessons_are_available():
    assert modules_root() == REPO / "modules"
    assert [lesson.slug for lesson in lessons()][:5] == ["01_tensor", "02_activations", "03_layers", "04_losses", "05_autograd"]
    assert len(lessons()) == 20 and {"01_tensor", "05_autograd"} <= {lesson.slug for lesson in AVAILABLE}


# ---------------------------------------------------------------------- the format


@by_slug
def test_jupytext_reads_lesson_py_as_we_do(lesson: Lesson):
    jupytext = pytest.importorskip("jupytext")
    theirs = jupytext.read(lesson.source)
    ours = nbformat_lesson.read(lesson.source)
    assert len(theirs.cells) == len(ours)
    for k, (t, o) in enumerate(zip(theirs.cells, ours), 1):
        assert (t.cell_type, t.source.strip("\n")) == (o.kind, o.source), f"cell {k}"
        assert {key: v for key, v in t.metadata.items() if key != "lines_to_next_cell"} == o.metadata, f"cell {k}"


def test_a_jupytext_header_is_skipped_and_bad_markdown_refused():
    header = "# ---\n# jupyter:\n#   jupytext:\n#     formats: py:percent\n# ---\n\n"
    body = "".join(f"# %% [markdown]\n# ## {part}\n\n# %%\nx = 1\n\n" for part in nbformat_lesson.PARTS)
    cells = nbformat_lesson.read_percent(header + body)
    assert [c.part for c in cells if c.kind == "code"] == list(nbformat_lesson.PARTS)
    with pytest.raises(nbformat_lesson.FormatError, match="lesson.py:2: every line of a markdown cell"):
        nbformat_lesson.read_percent("# %% [markdown]\nno hash\n")
    with pytest.raises(nbformat_lesson.FormatError, match="once each and in order"):
        nbformat_lesson.read_percent("# %% [markdown]\n# ## Use\n\n# %% [markdown]\n# ## Build\n")


@by_slug
def test_lesson_follows_the_format(lesson: Lesson):
    cells = nbformat_lesson.read(lesson.source)  # strict: the four parts, once each, in order
    text = lesson.source.read_text()
    assert cells[0].kind == "markdown" and cells[0].source.startswith(f"# Lesson {lesson.number:02d}"), "the title comes first"
    assert "TINYTORCH_FAST" in text, "the setup cell reads TINYTORCH_FAST (small data in CI)"
    solutions = [i for i, c in enumerate(cells) if c.is_solution]
    assert solutions, "the Build part has cells to complete"
    for i, cell in enumerate(cells):
        if cell.is_solution or cell.is_check:
            assert cell.part == "Build", f"cell {i + 1}: solutions and checks live in the Build part"
        if cell.is_check:
            assert cell.check_name, f"cell {i + 1}: a check cell starts with a comment naming what it checks"
        if cell.kind == "code" and cell.part == "Build" and not cell.is_solution and not cell.is_check:
            assert "NotImplementedError" not in cell.source
    for i in solutions:  # each solution cell is followed by its check (markdown may not come between)
        after = next(c for c in cells[i + 1 :] if c.kind == "code")
        assert after.is_check, f"cell {i + 1} holds a solution; the next code cell must be its check cell"
        student = nbformat_lesson.strip_solutions(cells[i].source)
        assert "BEGIN SOLUTION" not in student and "raise NotImplementedError()" in student
        compile(student, f"student cell {i + 1}", "exec")  # the stub keeps the cell valid Python
    for cell in cells:
        if cell.kind == "markdown" and cell.part in ("Understand", "Reflect"):
            typed = TYPED_MEASUREMENT.search(cell.source)
            assert typed is None, f"{cell.part}: {typed[0]!r} is typed in; print measured numbers from a code cell instead"
    if "DatasetError" in text or "TinyShakespeare" in text:
        assert "except DatasetError" in text, "a lesson that loads a dataset falls back when it is missing"


@by_slug
def test_lesson_readme_and_tests_exist(lesson: Lesson):
    readme = (lesson.dir / "README.md").read_text()
    for heading in ("## What you build", "## Prerequisites", "## Time", "## tinytorch files"):
        assert heading in readme, f"{lesson.slug}/README.md has no {heading!r} section"
    files = re.findall(r"`((?:tinytorch|inspector)/[\w/.]+)`", readme.split("## tinytorch files", 1)[1])
    assert files, "the README names the tinytorch files the lesson corresponds to"
    for f in files:
        assert (REPO / f).exists(), f"{lesson.slug}/README.md names {f}, which does not exist"
    assert re.search(r"^def test_\w+\(build\)", lesson.tests.read_text(), re.MULTILINE), (
        "test_lesson.py tests the learner's build"
    )


# ---------------------------------------------------------------------- the checks


@by_slug
def test_reference_answers_pass_every_check(lesson: Lesson):
    report = run_checks(lesson, lesson.source)
    assert not report.cell_errors
    failed = [f"{r.name}: {r.error} {r.where}" for r in report.results if not r.passed]
    assert not failed, "\n".join(failed)
    checks = [r for r in report.results if r.name.startswith("check ")]
    assert checks and len(report.results) > len(checks), "both the check cells and test_lesson.py ran"


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release")
    release(AVAILABLE, out)
    return out


@by_slug
def test_student_version_fails_every_check_with_not_implemented(lesson: Lesson, released: Path):
    student = released / "release" / lesson.slug / f"{lesson.slug}.ipynb"
    report = run_checks(lesson, student)
    assert not report.cell_errors, "the student version's cells define their names without raising"
    wrong = [
        f"{r.name}: {'passed' if r.passed else r.error}"
        for r in report.results
        if r.passed or r.exception is not NotImplementedError
    ]
    assert not wrong, "every check must fail with NotImplementedError on the student version:\n" + "\n".join(wrong)


def test_load_runs_only_setup_and_build_cells(tmp_path: Path):
    source = tmp_path / "lesson.py"
    source.write_text(
        "# %% [markdown]\n# # Lesson\n\n# %%\nsetup = 1\n\n# %% [markdown]\n# ## Build\n\n"
        '# %%\ndef f():\n    return 2\n\n\nbroken = 1 / 0\n\n# %% tags=["check"]\nassert False\n\n'
        "# %% [markdown]\n# ## Use\n\n# %%\nused = 1\n\n# %% [markdown]\n# ## Understand\n\n# %% [markdown]\n# ## Reflect\n"
    )
    build = load(source)
    assert build.setup == 1 and build.f() == 2 and "used" not in build
    with pytest.raises(AttributeError, match=r"does not define 'nope'[\s\S]*cell 4 \('def f\(\):'\) raised ZeroDivisionError"):
        _ = build.nope


def test_isolated_ops_forgets_a_notebooks_functions(tmp_path: Path):
    import tinytorch as tt

    source = tmp_path / "nb.py"
    parts = "".join(f"# %% [markdown]\n# ## {part}\n\n" for part in ("Use", "Understand", "Reflect"))
    source.write_text(
        "# %% [markdown]\n# ## Build\n\n# %%\nimport tinytorch as tt\n\n\nclass LessonOnlyOp(tt.Function):\n    pass\n\n" + parts
    )
    with isolated_ops():
        load(source)
        assert "LessonOnlyOp" in tt.OPS
    assert "LessonOnlyOp" not in tt.OPS


# ---------------------------------------------------------------------- the notebooks run


@pytest.fixture(scope="module")
def kernel(tmp_path_factory) -> Iterator[str]:
    """A kernelspec pinned to this interpreter (the venv's), found before any user-wide one."""
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "tinytorch-lessons"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "tinytorch lessons", "language": "python"}))
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join([str(root), *([old] if old else [])])
    yield "tinytorch-lessons"
    if old is None:
        os.environ.pop("JUPYTER_PATH", None)
    else:
        os.environ["JUPYTER_PATH"] = old


def execute(lesson: Lesson, kernel: str, env: dict[str, str], first: str = "") -> tuple[list[str], float]:
    """Run the reference notebook in a kernel; returns its text outputs and the seconds it took."""
    import nbformat
    from nbclient import NotebookClient

    cells = nbformat_lesson.read(lesson.source)
    probe = nbformat_lesson.Cell("code", "import sys\nprint('kernel python:', sys.executable)")
    cells = [*([nbformat_lesson.Cell("code", first)] if first else []), *cells, probe]
    nb = nbformat.reads(json.dumps(nbformat_lesson.notebook(cells, lesson, "reference")), as_version=4)
    nbformat.validate(nb)
    client = NotebookClient(nb, kernel_name=kernel, timeout=120, resources={"metadata": {"path": str(lesson.dir)}})
    start = time.perf_counter()
    # one BLAS thread: on a shared CI machine, threads fighting for cores make small matmuls 30x slower
    threads = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    client.execute(env={**os.environ, "TINYTORCH_FAST": "1", **threads, **env})
    seconds = time.perf_counter() - start
    texts = [o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "stream"]
    assert texts[-1].strip() == f"kernel python: {sys.executable}", "the kernel runs the tests' Python (the venv's)"
    return texts, seconds


@by_slug
def test_reference_notebook_executes_top_to_bottom(lesson: Lesson, kernel: str, tmp_path: Path):
    _, seconds = execute(lesson, kernel, {"TMPDIR": str(tmp_path)})  # runs a lesson records go to tempfile's folder
    assert seconds < BUDGET_SECONDS, f"{lesson.slug} took {seconds:.1f} s with TINYTORCH_FAST=1 (budget ~20 s)"


@pytest.mark.parametrize("lesson", [x for x in AVAILABLE if "except DatasetError" in x.source.read_text()], ids=lambda x: x.slug)
def test_reference_notebook_runs_without_its_dataset(lesson: Lesson, kernel: str, tmp_path: Path):
    hide = "import tinytorch.datasets as d\nd.MNIST.system_dirs = d.FashionMNIST.system_dirs = ()  # as on a machine without the data"
    texts, _ = execute(lesson, kernel, {"TINYTORCH_DATA": str(tmp_path), "TMPDIR": str(tmp_path)}, first=hide)
    assert any("instead" in t for t in texts), "the lesson says which stand-in data it uses"
