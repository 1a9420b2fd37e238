"""Instructor mode (`tinytorch release DIR`): every available lesson as an NBGrader assignment.

DIR/source/NN_name/NN_name.ipynb    the answers between ### BEGIN/END SOLUTION, with NBGrader cell
                                    metadata: what `nbgrader generate_assignment` reads
DIR/release/NN_name/NN_name.ipynb   the student version (each region replaced by NBGrader's stub,
                                    `raise NotImplementedError()`), with the same metadata: what
                                    generate_assignment would write, ready for a class without NBGrader
"""

from __future__ import annotations

from pathlib import Path

from . import Lesson, notebook

README = """# tinytorch lessons for a class (written by `tinytorch release`)

- `source/NN_name/NN_name.ipynb`: the instructor's notebooks, with the answers between
  `### BEGIN SOLUTION` and `### END SOLUTION` and NBGrader metadata (solution cells editable,
  check cells locked and graded, every other cell locked).
- `release/NN_name/NN_name.ipynb`: what students get: each answer replaced by
  `raise NotImplementedError()`.

With NBGrader, this folder is the course directory:

    cd {dir}
    nbgrader generate_assignment 01_tensor --force      # source/ -> release/ (and the gradebook)
    nbgrader collect / autograde 01_tensor              # the check cells are the graded tests

Without NBGrader, hand out release/ and let students run `tinytorch check N` on their copies.
"""


def release(lessons: list[Lesson], out: str | Path) -> list[Path]:
    """Write the source and student notebooks of the lessons into out; returns the files written."""
    out = Path(out)
    written = []
    for lesson in lessons:
        cells = notebook.read(lesson.source)
        for version, folder in (("source", "source"), ("release", "release")):
            path = out / folder / lesson.slug / f"{lesson.slug}.ipynb"
            written.append(notebook.write(notebook.notebook(cells, lesson, version), path))
    (out / "README.md").write_text(README.format(dir=out))
    return written
