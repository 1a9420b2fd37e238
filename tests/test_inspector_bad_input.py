"""The inspector on bad input, through Flask's test client: an empty LOGDIR, corrupt, truncated
and newer-schema run files, a run still being written; what a URL can reach; that nothing is
written into LOGDIR; and the CLI's address."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

import inspector.catalog
from tinytorch.runs import RunReader

from .inspector_client import GOOD, PAGES, DashClient, arr, bad_runs, demo_runs, free_port, nodes, table_of, text

ROOT = Path(__file__).resolve().parents[1]

# Per page: the callback that reports (its message output) and the values that pick a run.
PAGE_CALLS = {
    "graph": ("graph-message.children", lambda run: {"graph-run.value": run, "graph-step.value": 0, "graph-direction.value": "forward",
                                                     "graph-expanded.data": [], "graph-color.value": "time", "graph-selected.data": {}}),
    "gradients": ("grad-message.children", lambda run: {"grad-run.value": run, "grad-field.value": "norm", "grad-param.value": "0.weight"}),
    "memory": ("mem-message.children", lambda run: {"mem-run.value": run, "mem-step.value": 0, "mem-mode.value": "category"}),
    "attention": ("att-message.children", lambda run: {"att-run.value": run, "att-step.value": 0}),
    "compare": ("cmp-message.children", lambda run: {"cmp-a.value": run, "cmp-b.value": run}),
    "profile": ("prof-message.children", lambda run: {"prof-run.value": run, "prof-step.value": 0, "prof-by.value": "op"}),
}  # fmt: skip
PICKERS = ["graph-run.value", "grad-run.value", "mem-run.value", "att-run.value", "cmp-a.value", "prof-run.value"]


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    return demo_runs(tmp_path_factory.mktemp("good"), steps=20)


def copy_runs(good: Path, dest: Path, names: list[str]) -> Path:
    for name in names:
        (dest / name).mkdir(parents=True)
        shutil.copy(good / name / "run.sqlite", dest / name / "run.sqlite")
    return dest


def sweep(dash: DashClient, runs: list[str]) -> list[str]:
    """Every page's callbacks for every run, as a visitor clicking through would call them; returns
    the messages they showed."""
    said = [text(dash.call("runs-table.children").get("runs-message.children"))]
    dash.call("runs-loss.figure")
    for path in PAGES:
        dash.page(path)
    for run in runs:
        for picker in PICKERS:
            dash.call(picker, {picker: run})
        for output, values in PAGE_CALLS.values():
            said.append(text(dash.call(output, values(run)).get(output)))
        dash.call(
            "graph-card.children", PAGE_CALLS["graph"][1](run) | {"graph-fig.clickData": {"points": [{"customdata": "n2"}]}}
        )
    return said


# ------------------------------------------------------------------------------- bad input


def test_an_empty_logdir_says_there_are_no_runs_and_how_to_make_one(tmp_path):
    for logdir in (tmp_path, tmp_path / "not-yet"):  # empty, and not created yet
        dash = DashClient(logdir)
        out = dash.call("runs-table.children")
        note = text(out["runs-message.children"])
        assert f"No runs in {logdir}" in note and "tinytorch.record(" in note and "tinytorch-inspector --demo" in note
        assert out["runs-table.children"] is None and out["runs-pick.options"] == []
        for output, values in PAGE_CALLS.values():
            assert text(dash.call(output, values(None))[output]).startswith("No runs in"), output
        assert dash.call("runs-loss.figure")["runs-loss.figure"]["layout"]["annotations"][0]["text"] == "no steps recorded yet"


def test_unreadable_run_files_are_named_and_the_good_runs_still_render(good, tmp_path):
    logdir = copy_runs(good, tmp_path, ["spirals-sgd", "spirals-adam"])
    reasons = bad_runs(logdir, good)
    dash = DashClient(logdir)
    out = dash.call("runs-table.children")
    table = table_of(out["runs-table.children"])
    statuses = {n: r["status"] for n, r in table.items()}
    assert statuses == {"spirals-sgd": "finished", "spirals-adam": "finished"} | dict.fromkeys(reasons, "unreadable")
    messages = out["runs-message.children"]
    assert len(messages) == 3 and all(m["props"]["className"] == "message error" for m in messages)
    for name, fragments in reasons.items():
        said = next(text(m) for m in messages if text(m).startswith(f"{name}: "))
        assert all(f in said for f in fragments), said
    assert [o["value"] for o in out["runs-pick.options"]] == ["spirals-adam", "spirals-sgd"]
    for picker in PICKERS:  # a page asked for a bad run falls back to a good one
        picked = dash.call(picker, {picker: "corrupt"})
        choices = {o["value"] for o in picked[picker.replace(".value", ".options")]}
        if picker == "att-run.value":  # no run here has attention probes
            assert picked[picker] is None and choices == set()
        else:
            assert picked[picker] in ("spirals-sgd", "spirals-adam") and choices == {"spirals-sgd", "spirals-adam"}, picker
    for name, (output, values) in PAGE_CALLS.items():  # a bad run asked for directly: its reason, in the page
        said = text(dash.call(output, values("future"))[output])
        assert "future/run.sqlite was written with run-file schema 99" in said, (name, said)
    figure = dash.call("graph-fig.figure", PAGE_CALLS["graph"][1]("spirals-adam"))["graph-fig.figure"]  # the good ones render
    assert len(nodes(figure)["customdata"]) == 11
    heat = dash.call("grad-heatmap.figure", PAGE_CALLS["gradients"][1]("spirals-sgd"))["grad-heatmap.figure"]
    assert list(heat["data"][0]["y"])[:2] == ["0.weight", "0.bias"]
    pair = {"cmp-a.value": "spirals-sgd", "cmp-b.value": "spirals-adam"}
    statement = text(dash.call("cmp-statement.children", pair)["cmp-statement.children"])
    assert "SGD optimizer state = 0.00 ×" in statement and "Adam optimizer state = 2.00 ×" in statement
    assert all("Error" not in m for m in sweep(dash, ["spirals-sgd", "spirals-adam"])[1:])


def test_a_run_being_written_is_running_and_its_steps_grow(tmp_path):
    cmd = [sys.executable, "-m", "inspector.demo", "spirals-sgd", str(tmp_path), "--steps", "5000", "--pace", "0.01"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        dash, end, first = DashClient(tmp_path), time.time() + 30, None
        while first is None and time.time() < end:  # until it has written a few steps
            table = table_of(dash.call("runs-table.children").get("runs-table.children"))
            if "spirals-sgd" in table and int(table["spirals-sgd"]["steps"].replace(",", "")) >= 3:
                first = table["spirals-sgd"]
            time.sleep(0.2)
        assert first is not None, proc.stderr.read1().decode() if proc.poll() is not None else "no steps within 30 s"
        time.sleep(1.0)
        later = table_of(dash.call("runs-table.children")["runs-table.children"])["spirals-sgd"]
        assert first["status"] == later["status"] == "running"
        assert int(later["steps"].replace(",", "")) > int(first["steps"].replace(",", ""))
        out = dash.call("graph-fig.figure", PAGE_CALLS["graph"][1]("spirals-sgd"))  # its traced step draws while it trains
        assert len(nodes(out["graph-fig.figure"])["customdata"]) == 11
        values = PAGE_CALLS["gradients"][1]("spirals-sgd")
        heat = lambda: len(arr(dash.call("grad-heatmap.figure", values)["grad-heatmap.figure"]["data"][0]["x"]))
        columns = heat()
        time.sleep(0.5)
        assert heat() > columns  # the Gradients heatmap grows a column per step
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert table_of(dash.call("runs-table.children")["runs-table.children"])["spirals-sgd"]["status"] == "crashed"


# ------------------------------------------------------------------------------- security


def test_run_names_in_urls_cannot_reach_outside_logdir(good, tmp_path, monkeypatch):
    logdir, outside = tmp_path / "logdir", tmp_path / "outside"
    copy_runs(good, logdir, ["spirals-sgd"])
    (outside / "secret").mkdir(parents=True)  # a readable run, outside LOGDIR
    shutil.copy(good / "spirals-adam" / "run.sqlite", outside / "secret" / "run.sqlite")
    (logdir / "linked").symlink_to(outside / "secret", target_is_directory=True)  # a symlinked run directory
    (logdir / "filelink").mkdir()
    (logdir / "filelink" / "run.sqlite").symlink_to(outside / "secret" / "run.sqlite")  # a symlinked run file
    opened: list[Path] = []

    class Spy(RunReader):
        def __init__(self, path):
            opened.append(Path(path).resolve())
            super().__init__(path)

    monkeypatch.setattr(inspector.catalog, "RunReader", Spy)
    dash = DashClient(logdir)
    assert dash.app.server.config["TINYTORCH_CATALOG"].names() == ["spirals-sgd"]
    assert list(table_of(dash.call("runs-table.children")["runs-table.children"])) == ["spirals-sgd"]
    for escape in ("../outside/secret", "../../etc", "/etc", "linked", "filelink", "..", "spirals-sgd/../../outside/secret"):
        for path in PAGES:
            assert dash.http.get(f"{path}?run={escape}").status_code == 200
        assert dash.page("/graph", f"?run={escape}")  # the layout renders; the picker then takes a listed run
        assert dash.call("graph-run.value", {"graph-run.value": escape})["graph-run.value"] == "spirals-sgd"
        out = dash.call("graph-fig.figure", PAGE_CALLS["graph"][1](escape))
        assert f"no run named {escape!r}" in text(out["graph-message.children"]) and out["graph-fig.figure"]["data"] == []
        for name, (output, values) in PAGE_CALLS.items():
            said = text(dash.call(output, values(escape))[output])
            assert f"no run named {escape!r}" in said, (name, escape, said)
        card = dash.call(
            "graph-card.children", PAGE_CALLS["graph"][1](escape) | {"graph-fig.clickData": {"points": [{"customdata": "n2"}]}}
        )
        assert f"no run named {escape!r}" in text(card["graph-card.children"])
    assert opened and all(p.is_relative_to(logdir.resolve()) for p in opened), opened


def snapshot(logdir: Path) -> dict[str, tuple[int, int]]:
    """Every file under logdir with its size and mtime, but SQLite's -wal/-shm side files."""
    return {
        str(p.relative_to(logdir)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(logdir.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


def test_the_inspector_never_writes_into_logdir(good, tmp_path):
    logdir = copy_runs(good, tmp_path, GOOD)
    bad_runs(logdir, good)
    before, data = snapshot(logdir), {p: (logdir / p).read_bytes() for p in snapshot(logdir)}
    sweep(DashClient(logdir), GOOD + ["corrupt", "truncated", "future"])
    assert snapshot(logdir) == before
    assert all((logdir / p).read_bytes() == content for p, content in data.items())
    assert [p for p in logdir.rglob("*-wal") if p.stat().st_size] == []  # nor through SQLite: no run is being written here


def test_reading_a_finished_run_leaves_no_side_files(good, tmp_path):
    logdir = copy_runs(good, tmp_path, ["spirals-sgd"])
    sweep(DashClient(logdir), ["spirals-sgd"])
    assert sorted(os.listdir(logdir / "spirals-sgd")) == ["run.sqlite"]


# ------------------------------------------------------------------------------- the CLI


def serve(*args: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    cmd = [sys.executable, "-m", "inspector.cli", *args, "--port", str(port)]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), port


def listening(proc: subprocess.Popen, port: int, timeout: float = 30.0) -> str:
    """The address the process listens on, once it does."""
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        for c in psutil.Process(proc.pid).net_connections(kind="tcp"):
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port:
                return c.laddr.ip
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port} (exit code {proc.poll()})")


def test_the_cli_binds_this_machine_by_default_and_warns_otherwise(tmp_path):
    (local, local_port), (public, public_port) = serve(str(tmp_path)), serve(str(tmp_path), "--host", "0.0.0.0")
    try:
        assert listening(local, local_port) == "127.0.0.1" and listening(public, public_port) == "0.0.0.0"
    finally:
        for proc in (local, public):
            proc.terminate()
    (out, err), (public_out, public_err) = local.communicate(timeout=10), public.communicate(timeout=10)
    assert f"http://127.0.0.1:{local_port}/" in out and "WARNING" not in out + err
    assert f"http://0.0.0.0:{public_port}/" in public_out
    assert (
        f"WARNING: serving on 0.0.0.0:{public_port}. Anyone who can reach this port can read the runs in {tmp_path}" in public_err
    )
