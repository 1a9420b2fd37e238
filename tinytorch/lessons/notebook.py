"""The lesson format: read a lesson.py (Jupytext percent format) or a learner's .ipynb into cells,
find its parts, and write the notebooks a learner or a class gets (plain JSON in nbformat 4.5, so
neither Jupytext nor Jupyter is needed at run time; tests check that Jupytext reads lesson.py the
same way).

    # %% [markdown]            a markdown cell: every line starts with "# " (or is "#")
    # %%                       a code cell
    # %% tags=["check"]        a check cell: tests the Build cell above it (grade cell in NBGrader)

A Build cell holds the reference answer between `### BEGIN SOLUTION` and `### END SOLUTION`
lines; the student version replaces each such region by NBGrader's stub, `raise NotImplementedError()`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import Lesson

PARTS = ("Build", "Use", "Understand", "Reflect")  # the four "## " headings, in this order
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")  # what NBGrader's generate_assignment writes
CHECK_TAG = "check"

_MARKER = re.compile(r"^# %%(?P<rest>.*)$")
_KEY = re.compile(r"\s*(?P<key>[A-Za-z_][\w.-]*)=")


class FormatError(ValueError):
    """A lesson source or notebook that does not follow the lesson format."""


@dataclass
class Cell:
    kind: str  # "code" or "markdown"
    source: str
    metadata: dict[str, Any] = field(default_factory=dict)
    part: str = "setup"  # setup (before ## Build), or one of PARTS

    @property
    def tags(self) -> list[str]:
        return list(self.metadata.get("tags", []))

    @property
    def is_check(self) -> bool:
        return self.kind == "code" and CHECK_TAG in self.tags

    @property
    def is_solution(self) -> bool:
        return self.kind == "code" and any(line.strip() == BEGIN for line in self.source.splitlines())

    @property
    def heading(self) -> str | None:
        """'Build' for a markdown cell whose first line is '## Build...' (the part it opens), else None."""
        if self.kind != "markdown":
            return None
        first = self.source.lstrip("\n").split("\n", 1)[0]
        return next((p for p in PARTS if re.match(rf"##\s+{p}\b", first)), None)

    @property
    def check_name(self) -> str:
        """What a check cell checks: its first comment line ('# Check: ...')."""
        for line in self.source.splitlines():
            if line.startswith("#"):
                text = line.lstrip("#").strip()
                return re.sub(r"^check\s*:\s*", "", text, flags=re.IGNORECASE)
            if line.strip():
                break
        return ""

    @property
    def points(self) -> int:
        return int(self.metadata.get("points", 1))


# ---------------------------------------------------------------------- reading


def _cell_metadata(text: str, where: str) -> dict[str, Any]:
    """key=value pairs with JSON values, as Jupytext writes them: tags=["check"] points=2."""
    meta, pos, decoder = {}, 0, json.JSONDecoder()
    while pos < len(text) and text[pos:].strip():
        m = _KEY.match(text, pos)
        if m is None:
            raise FormatError(f'{where}: cannot read the cell options {text.strip()!r} (write key=<json>, e.g. tags=["check"])')
        try:
            value, pos = decoder.raw_decode(text, m.end())
        except json.JSONDecodeError as e:
            raise FormatError(f"{where}: the value of {m['key']} is not JSON: {e}") from None
        meta[m["key"]] = value
    return meta


def _trim(lines: list[str]) -> str:
    """The cell's text without blank lines at either end (Jupytext keeps some; notebooks need none)."""
    return "\n".join(lines).strip("\n")


def read_percent(text: str, where: str = "lesson.py") -> list[Cell]:
    """Cells of a Jupytext percent-format script."""
    blocks: list[tuple[int, str, list[str]]] = []  # (line number, marker's rest, lines)
    lines = text.splitlines()
    if lines and lines[0] == "# ---" and "# ---" in lines[1:]:  # the YAML header Jupytext adds when it saves
        end = lines.index("# ---", 1)
        lines = [""] * (end + 1) + lines[end + 1 :]  # blank, so line numbers stay the file's
    for number, line in enumerate(lines, 1):
        m = _MARKER.match(line)
        if m is not None:
            blocks.append((number, m["rest"], []))
        elif blocks:
            blocks[-1][2].append(line)
        elif line.strip():
            raise FormatError(f"{where}:{number}: text before the first '# %%' cell marker")
    cells = []
    for number, rest, body in blocks:
        kind = "markdown" if rest.startswith(" [markdown]") else "code"
        meta = _cell_metadata(rest.removeprefix(" [markdown]"), f"{where}:{number}")
        if kind == "markdown":
            bad = [(k, ln) for k, ln in enumerate(body, number + 1) if ln and not (ln == "#" or ln.startswith("# "))]
            if bad:
                raise FormatError(f"{where}:{bad[0][0]}: every line of a markdown cell starts with '# ' or is '#': {bad[0][1]!r}")
            body = [ln[2:] for ln in body]
        cells.append(Cell(kind, _trim(body), meta))
    return assign_parts(cells, where)


def read_ipynb(path: Path) -> list[Cell]:
    """Cells of a notebook file (raw cells are skipped; outputs are ignored)."""
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
        raw = nb["cells"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise FormatError(f"{path} is not a readable notebook: {e}") from None
    cells = []
    for c in raw:
        if c.get("cell_type") not in ("code", "markdown"):
            continue
        source = c.get("source", "")
        cells.append(Cell(c["cell_type"], "".join(source) if isinstance(source, list) else source, dict(c.get("metadata", {}))))
    return assign_parts(cells, str(path), strict=False)


def read(path: str | Path) -> list[Cell]:
    """A lesson.py or an .ipynb as cells, each labelled with its part."""
    path = Path(path)
    if path.suffix == ".ipynb":
        return read_ipynb(path)
    return read_percent(path.read_text(encoding="utf-8"), str(path))


def assign_parts(cells: list[Cell], where: str, strict: bool = True) -> list[Cell]:
    """Label every cell with the part it is in. strict: the four headings each once, in order
    (a learner's notebook may have lost some; its cells then stay in the last part seen)."""
    part, seen = "setup", []
    for cell in cells:
        heading = cell.heading
        if heading is not None:
            seen.append(heading)
            part = heading
        cell.part = part
    if strict and seen != list(PARTS):
        raise FormatError(
            f"{where}: the parts must be the markdown headings {', '.join('## ' + p for p in PARTS)}, once each and in order; found {seen}"
        )
    return cells


# ---------------------------------------------------------------------- solutions


def strip_solutions(source: str, where: str = "cell") -> str:
    """The student version of a cell: each BEGIN/END SOLUTION region replaced by the stub, indented as the marker."""
    out, inside, indent = [], False, ""
    for line in source.splitlines():
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise FormatError(f"{where}: {BEGIN} inside another solution region")
            inside, indent = True, line[: len(line) - len(line.lstrip())]
            out.extend(indent + s for s in STUB)
        elif marker == END:
            if not inside:
                raise FormatError(f"{where}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise FormatError(f"{where}: {BEGIN} without {END}")
    return "\n".join(out)


def without_markers(source: str) -> str:
    """The reference answer with the marker lines dropped (what a finished notebook reads like)."""
    return "\n".join(line for line in source.splitlines() if line.strip() not in (BEGIN, END))


# ---------------------------------------------------------------------- writing


def _nbgrader(cell: Cell, grade_id: str) -> dict[str, Any]:
    """NBGrader's cell metadata: solution cells editable, check cells locked and graded, the rest read-only."""
    meta: dict[str, Any] = {
        "cell_type": cell.kind, "grade": False, "grade_id": grade_id, "locked": True, "schema_version": 3, "solution": False,
    }  # fmt: skip
    if cell.is_solution:
        meta.update(locked=False, solution=True)
    elif cell.is_check:
        meta.update(grade=True, points=cell.points)
    return meta


def notebook(cells: list[Cell], lesson: Lesson, version: str) -> dict[str, Any]:
    """An nbformat 4.5 notebook of the lesson.

    version: "reference" (the answers, markers dropped), "student" (regions replaced by the stub;
    check cells read-only), "source" (answers with markers + NBGrader metadata: the input of
    `nbgrader generate_assignment`), "release" (student version + NBGrader metadata)."""
    if version not in ("reference", "student", "source", "release"):
        raise ValueError(f"unknown notebook version {version!r}")
    out, kinds = [], {"solution": 0, "check": 0, "cell": 0}
    for i, cell in enumerate(cells):
        source = cell.source
        if cell.is_solution:
            source = without_markers(source) if version == "reference" else source
            source = strip_solutions(source, f"{lesson.slug} cell {i + 1}") if version in ("student", "release") else source
        meta = {k: v for k, v in cell.metadata.items() if k != "points"}
        kind = "solution" if cell.is_solution else "check" if cell.is_check else "cell"
        kinds[kind] += 1
        if version in ("source", "release"):
            meta["nbgrader"] = _nbgrader(cell, f"{lesson.slug}_{kind}_{kinds[kind]}")
        if cell.is_check and version in ("student", "release"):
            meta.update(deletable=False, editable=False)  # Jupyter keeps the learner's hands off the checks
        entry: dict[str, Any] = {"cell_type": cell.kind, "id": f"{lesson.slug}-{i + 1}", "metadata": meta, "source": source}
        if cell.kind == "code":
            entry.update(execution_count=None, outputs=[])
        out.append(entry)
    return {
        "cells": out,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
            "tinytorch": {"lesson": lesson.number, "name": lesson.name, "version": version},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def write(nb: dict[str, Any], path: str | Path) -> Path:
    """Write a notebook as Jupyter does (indent 1, sources as lists of lines)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cells = [{**c, "source": c["source"].splitlines(keepends=True)} for c in nb["cells"]]
    path.write_text(json.dumps({**nb, "cells": cells}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
