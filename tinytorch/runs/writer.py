"""RunWriter: the one writer of a run file. Rows wait in memory until commit(), which writes
them in one transaction: that is what makes a step all-or-nothing for readers and crashes."""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .schema import RUN_FILE, SCHEMA_VERSION, TABLES, dumps, encode_events, safe_name

_INSERT = {
    "steps": "INSERT OR REPLACE INTO steps VALUES (?, ?, ?, ?, ?, ?)",
    "scalars": "INSERT OR REPLACE INTO scalars VALUES (?, ?, ?, ?)",
    "params": "INSERT OR IGNORE INTO params VALUES (?, ?, ?, ?, ?, ?)",
    "grad_stats": "INSERT OR REPLACE INTO grad_stats VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "ops": "INSERT OR REPLACE INTO ops VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "edges": "INSERT INTO edges VALUES (?, ?, ?, ?)",
    "event_columns": "INSERT INTO event_columns VALUES (?, ?, ?, ?)",  # add("events", rows) lands here
    "memory": "INSERT OR REPLACE INTO memory VALUES (?, ?, ?, ?, ?)",
    "probes": "INSERT OR REPLACE INTO probes VALUES (?, ?, ?, ?)",
    "alerts": "INSERT INTO alerts (step, kind, rule, param, op, phase, message, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "profile": "INSERT OR REPLACE INTO profile VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "meta": "INSERT OR REPLACE INTO meta VALUES (?, ?)",
}


def new_run_dir(logdir: str | os.PathLike, name: str) -> Path:
    """logdir/name, or logdir/name-2, -3, ... if taken: a run never overwrites another."""
    base = Path(logdir) / safe_name(name)
    path, k = base, 1
    while (path / RUN_FILE).exists():
        k += 1
        path = base.with_name(f"{base.name}-{k}")
    path.mkdir(parents=True, exist_ok=True)
    return path


class RunWriter:
    """Creates logdir/<name>/run.sqlite and writes to it; call commit() at each step's end."""

    def __init__(self, logdir: str | os.PathLike, name: str, config: dict[str, Any] | None = None) -> None:
        self.dir = new_run_dir(logdir, name)
        self.path = self.dir / RUN_FILE
        self.name = self.dir.name
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")  # durable against a killed process
        self._conn.executescript(TABLES)
        self._pending: dict[str, list[tuple]] = defaultdict(list)
        self._event_parts: dict[int, int] = {}  # per step, the last part of its events written
        self.closed = False
        meta = {
            "schema_version": SCHEMA_VERSION,
            "name": self.name,
            "created": time.time(),
            "status": "running",
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "config": config or {},
        }
        for key, value in meta.items():
            self.set_meta(key, value)
        self.commit()

    def add(self, table: str, rows: Iterable[tuple]) -> None:
        """Queue rows for the next commit."""
        self._pending[table].extend(rows)

    def set_meta(self, key: str, value: Any) -> None:
        self._pending["meta"].append((key, dumps(value)))

    def commit(self) -> None:
        """Write every queued row in one transaction."""
        if not self._pending or self.closed:
            return
        pending, self._pending = self._pending, defaultdict(list)
        with self._conn:  # BEGIN ... COMMIT, or ROLLBACK on error
            self._conn.execute("BEGIN")
            for table, rows in pending.items():
                if table == "events":  # a step's memory events, stored as columns (schema.encode_events)
                    table, rows = "event_columns", encode_events(rows, self._event_parts)
                if rows:
                    self._conn.executemany(_INSERT[table], rows)

    def close(self, status: str = "finished") -> None:
        if self.closed:
            return
        self.set_meta("status", status)
        self.set_meta("ended", time.time())
        self.commit()
        self.closed = True
        self._conn.close()
