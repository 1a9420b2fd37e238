"""The learner's workspace (default ./tinytorch-workspace/): one notebook per lesson started,
NN_name.ipynb, never overwritten, and .tinytorch-status.json with the last check of each."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from . import Lesson, notebook

DEFAULT = Path("tinytorch-workspace")
STATUS_FILE = ".tinytorch-status.json"


def code_hash(path: Path) -> str:
    """A fingerprint of the notebook's code (not its outputs: running cells does not change it)."""
    cells = notebook.read_ipynb(path)
    text = "\n\0".join(c.source for c in cells if c.kind == "code")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Workspace:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(DEFAULT if path is None else path)

    def notebook(self, lesson: Lesson) -> Path:
        return self.path / f"{lesson.slug}.ipynb"

    def start(self, lesson: Lesson) -> tuple[Path, bool]:
        """Write the lesson's student notebook unless the learner already has one: (path, written)."""
        target = self.notebook(lesson)
        if target.exists():
            return target, False
        cells = notebook.read(lesson.source)
        notebook.write(notebook.notebook(cells, lesson, "student"), target)
        return target, True

    # ------------------------------------------------------------------ status

    def _status(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / STATUS_FILE).read_text())
        except (OSError, ValueError):
            return {}

    def record(self, lesson: Lesson, passed: int, total: int) -> None:
        """Remember a check's outcome, against the notebook's code as it was checked."""
        status = self._status()
        status[lesson.slug] = {"hash": code_hash(self.notebook(lesson)), "passed": passed, "total": total, "time": time.time()}
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / STATUS_FILE).write_text(json.dumps(status, indent=1) + "\n")

    def status(self, lesson: Lesson) -> tuple[str, str]:
        """(state, detail): "not available yet", "not started", "in progress" or "passing"."""
        if not lesson.available:
            return "not available yet", ""
        path = self.notebook(lesson)
        if not path.exists():
            return "not started", f"tinytorch lesson {lesson.number}"
        last = self._status().get(lesson.slug)
        if last is None:
            return "in progress", f"not checked yet: tinytorch check {lesson.number}"
        try:
            changed = code_hash(path) != last["hash"]
        except notebook.FormatError:
            return "in progress", f"{path.name} is not a readable notebook"
        checked = f"{last['passed']}/{last['total']} checks passed"
        if changed:
            return "in progress", f"{checked}, changed since: tinytorch check {lesson.number}"
        if last["passed"] == last["total"]:
            return "passing", checked
        return "in progress", checked
