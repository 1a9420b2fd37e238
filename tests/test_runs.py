"""The run store: live reading from another process, crash safety, schema and corrupt files."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from tinytorch.runs import RunFileError, RunReader, RunWriter, list_runs, safe_name

# A training process that records forever (or `steps` steps), one step every `pause` seconds.
WRITER = textwrap.dedent(
    """
    import sys, time
    import tinytorch as tt
    from tinytorch import nn
    logdir, steps, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = tt.optim.SGD(model.parameters(), lr=0.1)
    run = tt.record(logdir + "/live", model=model, optimizer=opt, trace_steps=(0,))
    print(run.path, flush=True)
    step = 0
    while steps < 0 or step < steps:
        loss = tt.nn.functional.cross_entropy(model(tt.randn(4, 8)), tt.randint(0, 2, (4,)))
        opt.zero_grad(); loss.backward(); opt.step()
        run.step(loss)
        step += 1
        time.sleep(pause)
    run.close()
    """
)


def start_writer(tmp_path: Path, steps: int, pause: float) -> tuple[subprocess.Popen, Path]:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path), str(steps), str(pause)], stdout=subprocess.PIPE, text=True
    )
    return proc, Path(proc.stdout.readline().strip())


def wait_for(condition, timeout=30.0):
    end = time.time() + timeout
    while time.time() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def complete(reader: RunReader) -> None:
    """Every step the reader sees has all of its rows: the step and every parameter's statistics."""
    steps = reader.steps()["step"].tolist()
    stat_steps, names, norms = reader.grad_stats("norm")
    assert stat_steps.tolist() == steps, "a step is visible without its gradient statistics"
    assert not (norms != norms).any(), "a step is missing a parameter's statistics"
    assert len(names) == 4


def test_a_run_is_read_live_by_another_process(tmp_path):
    proc, path = start_writer(tmp_path, steps=-1, pause=0.02)
    try:
        reader = wait_for(lambda: RunReader(path) if (path / "run.sqlite").exists() else None)
        seen = []
        while len(seen) < 6:
            last = reader.last_step()
            if last is not None and (not seen or last > seen[-1]):
                seen.append(last)
                complete(reader)
                assert reader.status == "running"
            time.sleep(0.02)
        assert seen == sorted(seen) and seen[-1] >= 5  # the step counter advanced while we read
        new = reader.steps(since=seen[-1])["step"]
        assert (new > seen[-1]).all()  # only what is new since the last step seen
    finally:
        proc.kill()
        proc.wait()


def test_sigkill_leaves_every_completed_step_readable(tmp_path):
    proc, path = start_writer(tmp_path, steps=-1, pause=0.0)
    reader = wait_for(lambda: RunReader(path) if (path / "run.sqlite").exists() else None)
    wait_for(lambda: (reader.last_step() or 0) >= 20)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    after = RunReader(path)
    assert after.status == "crashed"
    steps = after.steps()["step"].tolist()
    assert steps == list(range(len(steps))) and len(steps) >= 20
    complete(after)
    assert after.traced_steps() == [0] and after.ops(0)


def test_finished_run_and_listing(tmp_path):
    proc, path = start_writer(tmp_path, steps=3, pause=0.0)
    assert proc.wait(timeout=60) == 0
    reader = RunReader(path)
    assert reader.status == "finished" and reader.last_step() == 2
    assert list_runs(tmp_path) == [path]
    assert list_runs(tmp_path / "missing") == []


def test_names_are_sanitised_and_never_overwrite(tmp_path):
    assert safe_name("../../etc/passwd") == "etc-passwd"
    assert safe_name("mlp adam/lr=0.1") == "mlp-adam-lr-0.1"
    with pytest.raises(ValueError, match="no usable characters"):
        safe_name("../")
    first = RunWriter(tmp_path, "../same")
    second = RunWriter(tmp_path, "same")
    assert first.dir == tmp_path / "same" and second.dir == tmp_path / "same-2"
    first.close()
    second.close()


def closed_run(tmp_path: Path, name: str, schema_version: int) -> RunWriter:
    """A finished, empty run whose file says it was written with `schema_version`."""
    w = RunWriter(tmp_path, name)
    w.close()
    with sqlite3.connect(w.path) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(schema_version),))
    return w


def test_a_newer_schema_is_refused_with_a_clear_message(tmp_path):
    w = closed_run(tmp_path, "future", 99)
    with pytest.raises(RunFileError, match=r"run\.sqlite was written with run-file schema 99.*Upgrade tinytorch"):
        RunReader(w.dir)


def test_a_corrupt_file_is_refused_naming_it(tmp_path):
    bad = tmp_path / "bad" / "run.sqlite"
    bad.parent.mkdir()
    bad.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(RunFileError, match=r"bad/run\.sqlite is not a readable tinytorch run file"):
        RunReader(bad)
    with pytest.raises(RunFileError, match="no run file"):
        RunReader(tmp_path / "nowhere")


def test_a_truncated_file_is_refused_naming_it(tmp_path):
    proc, path = start_writer(tmp_path, steps=30, pause=0.0)
    assert proc.wait(timeout=60) == 0
    cut = tmp_path / "cut"
    cut.mkdir()
    data = (path / "run.sqlite").read_bytes()
    (cut / "run.sqlite").write_bytes(data[: len(data) // 3])
    with pytest.raises(RunFileError, match="cut/run.sqlite"):
        reader = RunReader(cut)
        reader.steps(), reader.grad_stats(), reader.ops(0), reader.memory_events(0)


def test_unknown_statistic_is_a_clear_error(tmp_path):
    w = RunWriter(tmp_path, "r")
    w.close()
    with pytest.raises(KeyError, match="unknown gradient statistic 'nrom'"):
        RunReader(w.dir).grad_stats("nrom")


def test_reader_opens_read_only(tmp_path):
    w = RunWriter(tmp_path, "ro")
    w.close()
    os.chmod(w.path, 0o444)
    try:
        reader = RunReader(w.dir)
        with pytest.raises(RunFileError, match="readonly|read-only"):
            reader._query("INSERT INTO meta VALUES ('x', '1')")
    finally:
        os.chmod(w.path, 0o644)
        shutil.rmtree(w.dir)


# Events of one step as the recorder emits them (EVENT_FIELDS order), with the gaps a real step has:
# no op for a parameter, no module outside every module, a shape-less buffer.
EVENTS = [
    (0, 1, "live", 1, 64, "parameter", "0.weight", None, "[4,4]", "float32", "forward", "0"),
    (0, 2, "alloc", 2, 32, "activation", "saved by node 3", 3, "[8]", "float32", "forward", None),
    (0, 3, "retag", 2, 32, "gradient", "0.weight.grad", 3, "[8]", "float32", "backward", None),
    (0, 4, "free", 2, 32, "gradient", "0.weight.grad", None, None, None, "optimizer", None),
]


def test_memory_events_are_stored_as_columns_and_read_back_as_written(tmp_path):
    w = RunWriter(tmp_path, "columns")
    w.add("events", EVENTS[:2])
    w.commit()  # a step written in two transactions (an anomaly alert commits at once): two parts
    w.add("events", EVENTS[2:] + [(1, 1, "live", 1, 64, "parameter", "0.weight", None, "[4,4]", "float32", "forward", "0")])
    w.commit()
    reader = RunReader(w.dir)
    events = reader.memory_events(0)
    assert {name: list(column) for name, column in events.items()} == {
        "step": [0, 0, 0, 0], "seq": [1, 2, 3, 4], "kind": ["live", "alloc", "retag", "free"], "buf": [1, 2, 2, 2],
        "nbytes": [64, 32, 32, 32], "category": ["parameter", "activation", "gradient", "gradient"],
        "holder": ["0.weight", "saved by node 3", "0.weight.grad", "0.weight.grad"],
        "op_seq": pytest.approx([float("nan"), 3, 3, float("nan")], nan_ok=True), "shape": [(4, 4), (8,), (8,), None],
        "dtype": ["float32", "float32", "float32", None], "phase": ["forward", "forward", "backward", "optimizer"],
        "module": ["0", None, None, None],
    }  # fmt: skip
    assert events["buf"].dtype == np.int64 and events["op_seq"].dtype == np.float64 and events["kind"].dtype == object
    assert list(reader.memory_events(0, 1)["step"]) == [0, 0, 0, 0, 1] and len(reader.memory_events(5)["seq"]) == 0
    with sqlite3.connect(w.path) as conn:  # one row per field and part, not one per event
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(DISTINCT part) FROM event_columns WHERE step = 0").fetchone() == (2,)
    w.close()


def test_a_schema_1_run_with_one_row_per_event_still_reads(tmp_path):
    w = closed_run(tmp_path, "old", 1)
    with sqlite3.connect(w.path) as conn:
        conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", EVENTS)
    events = RunReader(w.dir).memory_events(0)
    assert list(events["kind"]) == ["live", "alloc", "retag", "free"] and list(events["shape"]) == [(4, 4), (8,), (8,), None]
    assert list(events["holder"]) == ["0.weight", "saved by node 3", "0.weight.grad", "0.weight.grad"]
