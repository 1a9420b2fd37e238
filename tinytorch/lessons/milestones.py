"""`tinytorch milestone NAME`: run a script of examples/ and record it for the inspector.

A script that records itself (it calls tinytorch.record) runs as it is. Any other runs under a
recorder that ends a step at every optimizer step: loss and step time at each step, the second
step traced (its graph and memory), gradient statistics of every parameter the optimizers update,
so `tinytorch-inspector LOGDIR` shows the run.
"""

from __future__ import annotations

import ast
import os
import re
import runpy
import sys
from pathlib import Path
from typing import Any

from .. import function
from ..optim.optimizer import _Update
from ..record import Run
from ..record.recorder import Recorder
from ..runs import RunReader, RunWriter
from ..runs.schema import dumps


def examples_root() -> Path | None:
    """$TINYTORCH_EXAMPLES, else examples/ beside the tinytorch package (a checkout)."""
    env = os.environ.get("TINYTORCH_EXAMPLES")
    if env:
        return Path(env).expanduser().resolve()
    beside = Path(__file__).resolve().parent.parent.parent / "examples"
    return beside if beside.is_dir() else None


def _year(path: Path) -> int:
    years = [int(p) for p in path.stem.split("_") if re.fullmatch(r"1[89]\d\d|20\d\d", p)]
    return years[0] if years else 9999


def milestones(root: Path | None = None) -> list[tuple[Path, str]]:
    """(script, first line of its docstring) for every runnable script, oldest milestone first."""
    root = examples_root() if root is None else root
    if root is None or not root.is_dir():
        return []
    found = []
    for path in sorted(root.glob("*.py"), key=lambda p: (_year(p), p.name)):
        if path.name.startswith("_") or path.stem == "common":
            continue
        try:
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        except SyntaxError:
            doc = ""
        found.append((path, doc.strip().split("\n", 1)[0]))
    return found


def _keys(path: Path) -> set[str]:
    parts = path.stem.split("_")
    plain = [p for p in parts if not re.fullmatch(r"\d{4}", p)]
    return {path.stem, "_".join(plain), parts[0], *(p for p in parts if re.fullmatch(r"\d{4}", p))}


def find(name: str, root: Path | None = None) -> Path | None:
    """The script NAME means: its file name, without the year ('xor'), its first word, or its year."""
    matches = [p for p, _ in milestones(root) if name.lower().removesuffix(".py") in _keys(p)]
    return matches[0] if len(matches) == 1 else None


class StepRecorder(Recorder):
    """A recorder for scripts that do not call run.step(): a step ends where the optimizer's step does,
    and its loss is the last scalar the forward pass made before backward began."""

    def __init__(self, writer: RunWriter, trace_steps: tuple[int, ...] = (1,)) -> None:
        super().__init__(writer, trace_steps=trace_steps)
        self._scalar: float | None = None
        self._loss: float | None = None
        self._seen: list[Any] = []
        self.steps = 0

    def __call__(self, cls: type, inputs: tuple, attrs: dict[str, Any]) -> Any:
        if issubclass(cls, _Update) and id(inputs[0]) not in self.names:
            self._name_parameter(inputs[0])
        out = super().__call__(cls, inputs, attrs)
        if self.phase == "forward" and out.data.size == 1 and out.requires_grad:
            self._scalar = float(out.data.reshape(()))
        return out

    def _name_parameter(self, p: Any) -> None:
        """A parameter seen for the first time by an optimizer's update: named by its order and shape,
        so its gradient statistics are recorded (the script's model is not known by name here)."""
        k = len(self._param_ids)
        name = f"param{k} {tuple(p.shape)}"
        self.names[id(p)], self.modules[id(p)], self._param_ids[name] = name, "", k
        self._seen.append(p)  # keep it alive: its id names it
        self.writer.add("params", [(k, name, dumps(tuple(p.shape)), p.numel(), str(p.dtype), "")])

    def set_phase(self, phase: str) -> None:
        if phase == "backward":
            self._loss = self._scalar
        stepped = self.phase == "optimizer" and phase == "forward"  # Optimizer.step just finished
        super().set_phase(phase)
        if stepped:
            self.end_step(self._loss)
            self.steps += 1


def self_recording(script: Path) -> bool:
    return re.search(r"\brecord\(", script.read_text(encoding="utf-8")) is not None


def run(script: Path, args: list[str], logdir: str | Path = "runs", record: bool = True) -> tuple[int, Path | None]:
    """Run the script as `python script args` would, recording unless it records itself.
    Returns (exit code, the run's folder or None)."""
    recorder = run_ = None
    if record and not self_recording(script):
        if function._hook is not None:
            raise RuntimeError("another recorder or profiler is active")
        writer = RunWriter(logdir, script.stem, config={"milestone": script.stem, "args": args})
        recorder = StepRecorder(writer)
        writer.commit()
        run_ = Run(recorder, writer)
        function._hook = recorder
    old_argv, old_path = sys.argv, list(sys.path)
    sys.argv = [str(script), *args]
    sys.path.insert(0, str(script.parent))  # the scripts import their shared helpers (common.py)
    code, status = 0, "finished"
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        status = "failed"
        raise
    finally:
        sys.argv, sys.path[:] = old_argv, old_path
        if run_ is not None:
            run_.close(status if code == 0 else "failed")
    return code, None if run_ is None else run_.path


def steps_recorded(path: Path) -> int:
    reader = RunReader(path)
    try:
        last = reader.last_step()
        return 0 if last is None else last + 1
    finally:
        reader.close()
