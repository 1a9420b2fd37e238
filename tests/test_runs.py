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


def test_a_newer_schema_is_refused_with_a_clear_message(tmp_path):
    w = RunWriter(tmp_path, "future")
    w.close()
    with sqlite3.connect(w.path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
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
