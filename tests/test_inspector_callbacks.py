"""The inspector's pages and callbacks through Flask's test client (no browser), on real demo
runs: what each page shows, clicks on the Graph, and two apps in one process. Bad input, a run
being written, security and the CLI are in test_inspector_bad_input.py."""

from __future__ import annotations

import importlib
import json
import shutil
import urllib.request

import numpy as np
import pytest

import inspector
import tinytorch
from tinytorch import viz
from tinytorch.runs import RunReader

from .inspector_client import GOOD, PAGES, DashClient, arr, demo_runs, free_port, nodes, rows, table_of, text

TITLES = ["Runs", "Graph", "Gradients", "Memory", "Attention", "Compare", "Profile"]


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    return demo_runs(tmp_path_factory.mktemp("runs"))


@pytest.fixture
def dash(logdir) -> DashClient:
    return DashClient(logdir)  # one per test: the app's LOGDIR is process-wide


def reader(logdir, name: str) -> RunReader:
    return RunReader(logdir / name)


def graph_inputs(run: str, **more) -> dict:
    values = {"graph-run.value": run, "graph-step.value": 0, "graph-direction.value": "forward", "graph-expanded.data": [],
              "graph-color.value": "time", "graph-selected.data": {}}  # fmt: skip
    return values | {f"graph-{k}.{'data' if k in ('expanded', 'selected') else 'value'}": v for k, v in more.items()}


def click(dash: DashClient, run: str, node_id: str, expanded: list[str] | None = None) -> dict:
    values = graph_inputs(run, expanded=expanded or []) | {"graph-fig.clickData": {"points": [{"customdata": node_id}]}}
    return dash.call("graph-card.children", values, triggered=("graph-fig.clickData",))


# ------------------------------------------------------------------------------- pages


def test_every_page_and_the_dash_endpoints_serve(dash, logdir):
    for path, title in zip(PAGES, TITLES):
        r = dash.http.get(path)
        assert r.status_code == 200 and b"tinytorch inspector" in r.data and b"_dash-renderer" in r.data, path
        assert text(dash.page(path)).startswith(title)  # the page's layout, as the browser gets it
    layout = dash.http.get("/_dash-layout").get_json()
    brand, nav, shown = layout["props"]["children"][0]["props"]["children"]  # the header
    assert [link["props"]["children"] for link in nav["props"]["children"]] == TITLES
    assert shown["props"]["children"] == str(logdir.resolve()) and "tick" in json.dumps(layout)
    written = {f"{o['id']}.{o['property']}" for d in dash.deps for o in dash.outputs(d["output"])}
    assert written >= {"runs-table.children", "graph-fig.figure", "graph-card.children", "grad-heatmap.figure",
                       "mem-fig.figure", "att-grid.figure", "cmp-statement.children", "prof-table.children"}  # fmt: skip


def test_runs_table_lists_every_run_with_its_status_and_curves(dash, logdir):
    out = dash.call("runs-table.children", {"tick.n_intervals": 1})
    table = table_of(out["runs-table.children"])
    assert set(table) == set(GOOD) and out["runs-message.children"] == []
    assert {name: row["status"] for name, row in table.items()} == dict.fromkeys(GOOD, "finished")
    assert table["spirals-sgd"]["steps"] == "60" and table["tiny-transformer"]["steps"] == "4"
    assert table["spirals-adam"]["optimizer"] == "Adam" and table["spirals-adam"]["val accuracy"].endswith("%")
    assert [o["value"] for o in out["runs-pick.options"]] == [r.name for r in [reader(logdir, n) for n in table]]
    curves = dash.call("runs-loss.figure", {"runs-pick.value": ["spirals-sgd", "spirals-adam"]})
    assert [t["name"] for t in curves["runs-loss.figure"]["data"]] == ["spirals-sgd train loss", "spirals-adam train loss"]
    losses = arr(curves["runs-loss.figure"]["data"][1]["y"])
    np.testing.assert_allclose(losses, reader(logdir, "spirals-adam").steps()["loss"])
    assert {t["name"] for t in curves["runs-metric.figure"]["data"]} == {"spirals-sgd val/accuracy", "spirals-adam val/accuracy"}


def test_graph_has_one_marker_per_node_and_a_fold_opens_on_click(dash, logdir):
    picked = dash.call("graph-run.value", {"graph-run.value": "tiny-transformer"})
    assert picked["graph-run.value"] == "tiny-transformer" and picked["graph-step.value"] == 0
    assert {o["value"] for o in picked["graph-run.options"]} == set(GOOD)
    budget = importlib.import_module("inspector.views.graph").BUDGET  # importable once an app exists
    folded = viz.fold(viz.graph_of((reader(logdir, "tiny-transformer"), 0)), budget)
    out = dash.call("graph-fig.figure", graph_inputs("tiny-transformer"))
    marks = nodes(out["graph-fig.figure"])
    assert list(marks["customdata"]) == [n.id for n in folded.nodes] and len(marks["x"]) == len(marks["y"]) == len(folded.nodes)
    assert out["graph-message.children"] is None and int(out["graph-fig.style"]["height"][:-2]) >= 420

    fold = next(n for n in folded.nodes if n.id == "fold-blocks.0.attn")
    opened = click(dash, "tiny-transformer", fold.id)
    assert opened["graph-expanded.data"] == ["blocks.0.attn"]
    assert "MatMul × 2" in text(opened["graph-card.children"])  # a fold's card counts the ops inside
    out = dash.call("graph-fig.figure", graph_inputs("tiny-transformer", expanded=opened["graph-expanded.data"]))
    shown = list(nodes(out["graph-fig.figure"])["customdata"])
    assert len(shown) > len(folded.nodes) and fold.id not in shown and set(fold.members) <= set(shown)


def test_clicking_an_op_shows_its_card_with_the_backward_formula(dash, logdir):
    g = viz.graph_of((reader(logdir, "spirals-sgd"), 0))
    linear = next(n for n in g.nodes if n.op == "Linear")
    out = click(dash, "spirals-sgd", linear.id)
    card = text(out["graph-card.children"])
    formula = tinytorch.OPS["Linear"].__doc__.strip().splitlines()[0]
    assert formula in card and "dW = dy^T x" in card  # the backward, in math
    assert "0.weight" in card and "(64, 64) float32" in card and "saved for backward" in card
    assert out["graph-selected.data"] == {"node": linear.id} and "graph-expanded.data" not in out
    add = next(n for n in viz.graph_of((reader(logdir, "tiny-transformer"), 0)).nodes if n.op == "Add")
    assert "d(a + b)/da = 1" in text(click(dash, "tiny-transformer", add.id)["graph-card.children"])
    assert click(dash, "spirals-sgd", "n99999") == {}  # a click off the graph changes nothing


def test_gradients_heatmap_names_every_parameter_and_alerts_show(dash, logdir):
    picked = dash.call("grad-run.value", {"grad-run.value": "spirals-adam"})
    names = [p["name"] for p in reader(logdir, "spirals-adam").params()]
    assert (
        [o["value"] for o in picked["grad-param.options"]]
        == names
        == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    )
    values = {"grad-run.value": "spirals-adam", "grad-field.value": "norm", "grad-param.value": "2.weight"}
    out = dash.call("grad-heatmap.figure", values)
    (heat,) = out["grad-heatmap.figure"]["data"]
    assert heat["type"] == "heatmap" and list(heat["y"]) == names and arr(heat["z"]).shape == (6, 60)
    _, _, norms = reader(logdir, "spirals-adam").grad_stats("norm")
    np.testing.assert_allclose(arr(heat["z"]), np.log10(norms), rtol=1e-6)  # (params, steps)
    assert out["grad-hist.figure"]["data"][0]["name"] == "2.weight" and text(out["grad-alerts.children"])
    boom = dash.call("grad-heatmap.figure", values | {"grad-run.value": "exploding"})
    alerts = table_of(boom["grad-alerts.children"])
    assert any(a["rule"] == "|g| > 1000" and a["step"] == "1" for a in alerts.values())


def test_memory_figure_ends_at_the_recorded_total(dash, logdir):
    for run in ("spirals-adam", "tiny-transformer"):
        picked = dash.call("mem-run.value", {"mem-run.value": run})
        assert [o["value"] for o in picked["mem-step.options"]] == [0, 1, 2] if run == "spirals-adam" else [0, 1]
        out = dash.call("mem-fig.figure", {"mem-run.value": run, "mem-step.value": 0, "mem-mode.value": "category"})
        bands = [t for t in out["mem-fig.figure"]["data"] if t.get("stackgroup")]
        assert [t["name"] for t in bands][:3] == ["parameter", "gradient", "optimizer state"]
        recorded, events = reader(logdir, run).memory_totals()[0], reader(logdir, run).memory_events(0)
        assert int(arr(bands[0]["x"])[-1]) == len(events["seq"]) - 1  # step 0's events, to the last
        assert sum(int(arr(t["y"])[-1]) for t in bands) == recorded["recorded"] > 0
        assert {t["name"]: int(arr(t["y"])[-1]) for t in bands}["optimizer state"] == recorded["by_category"]["optimizer_state"]
        assert text(out["mem-peak.children"]).startswith("Peak: ")
        assert [t["name"] for t in out["mem-totals.figure"]["data"]][0] == "recorded buffers"
    by_buffer = dash.call("mem-fig.figure", {"mem-run.value": "spirals-adam", "mem-step.value": 0, "mem-mode.value": "buffers"})
    assert by_buffer["mem-fig.figure"]["data"][-1]["name"] == "other buffers"
    tick = {"mem-run.value": "spirals-adam", "mem-step.value": 0, "mem-mode.value": "category", "tick.n_intervals": 5}
    assert dash.call("mem-fig.figure", tick, triggered=("tick.n_intervals",)) == {}  # a traced step is never redrawn


def test_attention_grid_is_layers_by_heads(dash, logdir):
    picked = dash.call("att-run.value")
    assert picked["att-run.value"] == "tiny-transformer" and picked["att-step.value"] == 0
    assert [o["value"] for o in picked["att-run.options"]] == ["tiny-transformer"]  # the only run with probes
    out = dash.call("att-grid.figure", {"att-run.value": "tiny-transformer", "att-step.value": 0})
    probe = reader(logdir, "tiny-transformer").probe(0)
    maps = out["att-grid.figure"]["data"]
    assert [t["name"] for t in maps] == [f"{layer} · head {h}" for layer in probe for h in range(4)]
    assert len(probe) == 2 and all(t["type"] == "heatmap" and arr(t["z"]).shape == (32, 32) for t in maps)
    np.testing.assert_allclose(arr(maps[5]["z"]), probe["blocks.1.attn"]["weights"][1], rtol=1e-6)
    point = {"curveNumber": 6, "x": 3, "y": 5, "z": 0.1, "text": "…"}  # what dcc.Graph sends: a heatmap's customdata left out
    clicked = {"att-run.value": "tiny-transformer", "att-step.value": 0, "att-grid.clickData": {"points": [point]}}
    single = dash.call("att-single.figure", clicked)["att-single.figure"]
    assert single["layout"]["title"]["text"] == "blocks.1.attn, head 2, step 0"


def test_compare_states_the_measured_optimizer_state_ratio(dash):
    picked = dash.call("cmp-a.value", {"tick.n_intervals": 1})
    assert (picked["cmp-a.value"], picked["cmp-b.value"]) == ("spirals-sgd", "spirals-adam")  # not the run that blew up
    out = dash.call("cmp-statement.children", {"cmp-a.value": "spirals-sgd", "cmp-b.value": "spirals-adam"})
    sgd, adam = (text(p) for p in out["cmp-statement.children"])
    assert sgd.startswith("SGD optimizer state = 0.00 × parameter bytes") and "run spirals-sgd" in sgd
    assert adam.startswith("Adam optimizer state = 2.00 × parameter bytes") and "predicted 2.00 ×" in adam
    assert [t["x"] for t in out["cmp-memory.figure"]["data"]][0] == ["spirals-sgd", "spirals-adam"]
    assert len(out["cmp-loss.figure"]["data"]) == len(out["cmp-time.figure"]["data"]) == 2


def test_profile_lists_ops_and_modules(dash):
    picked = dash.call("prof-run.value", {"prof-run.value": "spirals-sgd"})
    assert picked["prof-step.value"] == 0
    out = dash.call("prof-table.children", {"prof-run.value": "spirals-sgd", "prof-step.value": 0, "prof-by.value": "op"})
    head, *body = rows(out["prof-table.children"])
    assert head == ["name", "phase", "calls", "total ms", "self ms", "share", "bytes", "flops"]
    assert ["Linear", "forward", "3"] in [r[:3] for r in body] and ["Linear", "backward", "3"] in [r[:3] for r in body]
    assert {t["name"] for t in out["prof-fig.figure"]["data"]} >= {"forward", "backward"}
    by_module = dash.call(
        "prof-table.children", {"prof-run.value": "tiny-transformer", "prof-step.value": 0, "prof-by.value": "module"}
    )
    assert "blocks.0.attn" in [r[0] for r in rows(by_module["prof-table.children"])]


def test_each_logdir_draws_its_own_graph_of_a_same_named_run(logdir, tmp_path):
    """Graph layouts are cached: by run file, not by name, or the second LOGDIR shows the first's graph."""
    for where, source in (("a", "spirals-sgd"), ("b", "tiny-transformer")):
        (tmp_path / where / "run").mkdir(parents=True)
        shutil.copy(logdir / source / "run.sqlite", tmp_path / where / "run" / "run.sqlite")
    drawn = [DashClient(tmp_path / where).call("graph-fig.figure", graph_inputs("run"))["graph-fig.figure"] for where in "ab"]
    assert [len(nodes(figure)["customdata"]) for figure in drawn] == [11, 31]


def test_two_apps_in_one_process_both_serve(logdir, tmp_path, caplog):
    """launch() again (a notebook cell run twice) makes a new app: it must get the pages' callbacks too."""
    first, second = DashClient(tmp_path), DashClient(logdir)
    assert len(first.deps) == len(second.deps) > 15
    assert "No runs in" in text(first.call("runs-message.children")["runs-message.children"])  # each app its own LOGDIR
    port = free_port()
    try:
        for _ in range(2):
            url = inspector.launch(str(logdir), port=port, display=False)
            deps = json.load(urllib.request.urlopen(url + "_dash-dependencies", timeout=10))
            assert len(deps) == len(first.deps)
    finally:
        inspector.stop(port)
    assert [r.getMessage() for r in caplog.records if r.name == "werkzeug"] == []  # not a line per request in a notebook
