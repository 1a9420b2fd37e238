"""The runs under LOGDIR, found fresh on every look, opened read-only, one bad file never
stopping the others. A run is reached only by a name from the listing, so no name in a URL
can reach a file outside LOGDIR."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from tinytorch.runs import RUN_FILE, RunFileError, RunReader


class Catalog:
    def __init__(self, logdir: str | os.PathLike) -> None:
        self.root = Path(logdir).resolve()
        self._readers: dict[str, tuple[float, RunReader]] = {}

    def names(self) -> list[str]:
        """Run names (directories under LOGDIR holding a run file), newest first. Symlinks are
        skipped, so nothing outside LOGDIR is read."""
        if not self.root.is_dir():
            return []
        found = []
        for entry in self.root.iterdir():
            f = entry / RUN_FILE
            try:
                if entry.is_dir() and not entry.is_symlink() and f.is_file() and not f.is_symlink():
                    found.append((f.stat().st_mtime, entry.name))
            except OSError:  # removed while we looked
                continue
        return [name for _, name in sorted(found, reverse=True)]

    def path(self, name: str) -> Path:
        if name not in self.names():
            raise KeyError(f"no run named {name!r} in {self.root}")
        return self.root / name

    def reader(self, name: str) -> RunReader:
        """A read-only reader of one run (kept open while its file stays the same)."""
        path = self.path(name) / RUN_FILE
        created = path.stat().st_ctime
        cached = self._readers.get(name)
        if cached is not None and cached[0] == created:
            return cached[1]
        reader = RunReader(path)
        self._readers[name] = (created, reader)
        return reader

    def summary(self) -> list[dict[str, Any]]:
        """One dict per run for the Runs table; an unreadable run carries its error instead."""
        rows = []
        for name in self.names():
            try:
                r = self.reader(name)
                steps = r.steps()
                losses = [v for v in steps["loss"] if v == v] if len(steps["step"]) else []
                _, val = r.scalars("val/accuracy")
                rows.append(
                    dict(
                        name=name,
                        status=r.status,
                        meta=r.meta,
                        last_step=r.last_step(),
                        last_loss=losses[-1] if losses else None,
                        best_val_accuracy=float(max(val)) if len(val) else None,
                        error=None,
                    )  # fmt: skip
                )
            except (RunFileError, OSError) as e:
                rows.append(
                    dict(
                        name=name,
                        status="unreadable",
                        meta={},
                        last_step=None,
                        last_loss=None,
                        best_val_accuracy=None,
                        error=str(e),
                    )
                )
        return rows


def finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
