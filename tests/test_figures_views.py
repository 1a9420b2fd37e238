"""inspector.figures on real recorded runs: graph, gradients, attention and profile (the runs
are recorded once, in test_figures.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinytorch as tt
from inspector.figures import attention, gradients, graph, profile
from tinytorch.viz import fold, graph_of, layout, renderer, to_dot

from .test_figures import record_once


@pytest.fixture(scope="session")
def recorded(tmp_path_factory) -> dict:
    return record_once(tmp_path_factory)


def positions(g) -> dict:
    """dot's positions when a renderer is installed, else a plain column (the figure takes either)."""
    if renderer() != "none":
        return layout(to_dot(g).source)["nodes"]
    return {n.id: dict(x=0.0, y=-60.0 * i, width=60.0, height=30.0) for i, n in enumerate(g.nodes)}


def nodes_trace(fig):
    (trace,) = [t for t in fig.data if t.name == "nodes"]
    assert fig.data[-1] is trace  # last, so a view restyles data[-1]
    return trace


# ---------------------------------------------------------------------------------------- graph


def test_graph_figure_places_one_clickable_marker_per_node(recorded):
    g = graph_of((recorded["adam"], 0))
    pos = positions(g)
    fig = graph.graph_figure(g, pos, "time", uirevision="run/0")
    nodes = nodes_trace(fig)
    assert list(nodes.customdata) == [n.id for n in g.nodes] and list(nodes.text) == [n.op for n in g.nodes]
    assert list(nodes.x) == [pos[n.id]["x"] for n in g.nodes] and list(nodes.y) == [pos[n.id]["y"] for n in g.nodes]
    values, title = graph.node_colors(g, "time")
    assert list(nodes.marker.color) == values and nodes.marker.colorbar.title.text == title
    assert values == [n.stats["time_ms"] + n.stats.get("backward_ms", 0.0) for n in g.nodes]
    (edges,) = [t for t in fig.data if t.name == "edges"]
    (arrows,) = [t for t in fig.data if t.name == "arrows"]
    assert len(edges.x) == 3 * len(g.edges) and len(arrows.x) == len(g.edges)
    assert "Linear" in nodes.hovertext[0] and "0.weight" in nodes.hovertext[0] and "(8, 16)" in nodes.hovertext[0]
    assert fig.layout.uirevision == "run/0" and fig.layout.yaxis.scaleanchor == "x"


def test_node_colours_by_bytes_grad_and_kind(recorded):
    g = graph_of((recorded["adam"], 0))
    assert graph.node_colors(g, "bytes")[0] == [float(n.nbytes) for n in g.nodes]
    grads, _ = graph.node_colors(g, "grad")
    first = g.nodes[0]  # Linear with 0.weight and 0.bias
    assert grads[0] == max(first.stats["|g| 0.weight"], first.stats["|g| 0.bias"])
    relu = next(i for i, n in enumerate(g.nodes) if n.op == "Relu")
    assert math.isnan(grads[relu]) and graph.node_style(g, "grad")["color"][relu] == graph.MISSING
    assert graph.node_colors(g, "kind")[0] == [0.0] * len(g.nodes)
    fig = graph.graph_figure(g, positions(g), "bytes")
    assert list(nodes_trace(fig).marker.color) == graph.node_colors(g, "bytes")[0]
    with pytest.raises(ValueError, match="color_by"):
        graph.node_colors(g, "colour")


def test_first_nan_is_outlined_and_selection_is_ringed(recorded):
    g = graph_of((recorded["nan"], 2))
    pos = positions(g)
    fig = graph.graph_figure(g, pos, selected="n1")
    boxes = {shape.name: shape for shape in fig.layout.shapes}  # one box per node, at dot's size
    assert set(boxes) == {n.id for n in g.nodes}
    log = next(n.id for n in g.nodes if n.op == "Log")
    assert boxes[log].line.color == graph.NAN_COLOR and boxes[log].line.width == 4
    assert boxes["n1"].line.color == graph.SELECTED_COLOR
    assert {b.line.color for name, b in boxes.items() if name not in (log, "n1")} == {"#555"}
    assert boxes["n1"].x1 - boxes["n1"].x0 == pytest.approx(pos["n1"]["width"])
    assert fig.layout.annotations[0].text == "first NaN / Inf"
    clean_graph = graph_of((recorded["nan"], 0))
    clean = graph.graph_figure(clean_graph, positions(clean_graph))
    assert {s.line.color for s in clean.layout.shapes} == {"#555"} and not clean.layout.annotations


def test_node_card_gives_the_backward_formula_and_links(recorded):
    r = recorded["nan"]
    g = graph_of((r, 0))
    mul = next(n for n in g.nodes if n.op == "Mul")
    card = graph.node_card(mul, r.ops(0), step=0)
    assert card["formula"] == tt.OPS["Mul"].__doc__.strip().splitlines()[0] == "d(a * b)/da = b, d(a * b)/db = a"
    assert card["memory_link"]["step"] == 0 and card["memory_link"]["op_seq"] == int(mul.id[1:])
    assert card["shape"] == "(1, 3)" and card["dtype"] == "float32" and card["bytes"] == 12
    # x * 2.0 keeps only the 2.0 (all d/dx needs) and, being small, its output value for drawings
    assert card["backward_ms"] == mul.stats["backward_ms"] and card["saved"] == ["()", "(1, 3)"]
    linear = graph_of((recorded["adam"], 0)).nodes[0]
    card = graph.node_card(linear, recorded["adam"].ops(0), step=0)
    assert card["gradients_link"] == ["0.weight", "0.bias"] and set(card["grad_stats"]) == {"0.weight", "0.bias"}
    assert card["formula"].startswith("y = x W^T + b") and card["inputs"] == ["(8, 6)", "(16, 6)", "(16,)"]


def test_folded_blocks_are_one_node_whose_card_lists_the_ops_inside(recorded):
    r = recorded["blocks"]
    g = fold(graph_of((r, 0)), budget=6)
    block = g.nodes[0]
    assert (block.kind, block.op) == ("fold", "0-2 x3")
    fig = graph.graph_figure(g, positions(g))
    assert "0-2 x3" in list(nodes_trace(fig).text)
    card = graph.node_card(block, r.ops(0), step=0)
    assert card["formula"] == ["Linear × 3", "Relu × 3"]
    backward = {o["node"]: o["duration"] for o in r.ops(0, "backward")}
    assert card["backward_ms"] == pytest.approx(1e3 * sum(backward[int(m[1:])] for m in block.members))


# ---------------------------------------------------------------------------------------- gradients


def test_heatmap_is_log10_gradient_norm_in_model_order(recorded):
    steps, names, norms = recorded["adam"].grad_stats("norm")
    fig = gradients.heatmap(steps, names, norms, "gradient norm", uirevision="g")
    (heat,) = fig.data
    assert np.allclose(np.asarray(heat.z, dtype=float), np.log10(norms))
    assert list(heat.y) == names == ["0.weight", "0.bias", "2.weight", "2.bias"] and list(heat.x) == steps.tolist()
    assert fig.layout.yaxis.autorange == "reversed" and heat.colorbar.title.text == "log10 |g|" and fig.layout.uirevision == "g"


def test_heatmap_marks_non_finite_and_zero_cells(recorded):
    r = recorded["exploding"]
    steps, names, norms = r.grad_stats("norm")
    flags = r.grad_stats("nonfinite")[2] == 1
    fig = gradients.heatmap(steps, names, norms, "gradient norm", nonfinite=flags)
    (marks,) = [t for t in fig.data if t.name == "non-finite (NaN or Inf)"]
    expected = np.isinf(norms) | flags
    assert expected.any() and len(marks.x) == expected.sum()
    assert np.isnan(np.asarray(fig.data[0].z, dtype=float)[expected]).all()
    fig = gradients.heatmap([0, 1], ["a", "b"], np.array([[0.0, 1.0], [np.nan, 10.0]]), "norm")
    (zero,) = [t for t in fig.data if t.name == "exactly zero"]
    assert list(zero.x) == [0] and list(zero.y) == ["a"] and len(fig.data) == 2  # NaN (no data) is just blank


def test_histograms_move_onto_one_grid_keeping_each_steps_count(recorded):
    hist = recorded["adam"].histograms("0.weight")
    fig = gradients.histogram_figure(hist, "0.weight", bins=40)
    z = np.nan_to_num(np.asarray(fig.data[0].z, dtype=float))
    assert z.shape == (40, len(hist)) and list(fig.data[0].x) == [h["step"] for h in hist]
    assert np.allclose(z.sum(axis=0), [h["counts"].sum() for h in hist])
    assert fig.data[0].y[0] > min(h["lo"] for h in hist) and fig.data[0].y[-1] < max(h["hi"] for h in hist)
    steps = [
        dict(step=0, counts=[4], lo=0.0, hi=1.0),
        dict(step=1, counts=[1, 1], lo=0.0, hi=2.0),
        dict(step=2, counts=[3, 1], lo=1.0, hi=2.0),
    ]
    edges, counts = gradients.common_grid(steps, 4)
    assert edges.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert counts.T.tolist() == [[2, 2, 0, 0], [0.5, 0.5, 0.5, 0.5], [0, 0, 3, 1]]


def test_alert_rows_and_the_first_of_each_kind(recorded):
    alerts = recorded["exploding"].alerts()
    rows = gradients.alert_rows(alerts)
    assert [r["step"] for r in rows] == sorted(r["step"] for r in rows)
    first = gradients.first_by_kind(alerts)
    assert first["vanishing"]["where"] == "first.weight" and first["vanishing"]["step"] == 2  # low at steps 0, 1 and 2
    assert first["exploding"]["step"] == min(a["step"] for a in alerts if a["kind"] == "exploding")
    assert first["exploding"]["rule"] and first["exploding"]["message"]
    (nan,) = gradients.alert_rows(recorded["nan"].alerts())
    assert (nan["kind"], nan["where"], nan["step"]) == ("anomaly", "Log (forward)", 2)


# ---------------------------------------------------------------------------------------- attention


def test_attention_grid_has_a_map_per_layer_and_head(recorded):
    probe = recorded["attention"].probe(2)
    fig = attention.grid(probe, uirevision="att")
    assert len(fig.data) == 2 * 2 and [t.name for t in fig.data] == ["0 · head 0", "0 · head 1", "1 · head 0", "1 · head 1"]
    for t in fig.data:
        z = np.asarray(t.z, dtype=float)
        assert z.shape == (5, 5) and np.allclose(z.sum(axis=1), 1, atol=1e-5)
        assert t.customdata[3][4].tolist() == list(t.meta) and t.coloraxis == "coloraxis"
    assert np.allclose(fig.data[3].z, probe["1"]["weights"][1])
    assert fig.layout.coloraxis.cmin == 0 and fig.layout.coloraxis.cmax == 1
    assert list(fig.layout.xaxis.ticktext) == list("hello") and list(fig.layout.yaxis.range) == [4.5, -0.5]
    assert fig.layout.uirevision == "att"
    assert np.asarray(attention.grid(probe, max_tokens=3).data[0].z).shape == (3, 3)


def test_single_map_puts_queries_on_y_and_keys_on_x(recorded):
    probe = recorded["attention"].probe(0)
    w = probe["0"]["weights"][1]
    fig = attention.single(w, probe["0"]["tokens"], "layer 0, head 1")
    assert np.allclose(fig.data[0].z, w) and fig.data[0].zmin == 0 and fig.data[0].zmax == 1
    assert fig.layout.xaxis.title.text.startswith("key") and fig.layout.yaxis.title.text.startswith("query")
    assert list(fig.layout.yaxis.ticktext) == list("hello") and fig.layout.yaxis.range[0] > fig.layout.yaxis.range[1]
    assert fig.data[0].text[0][2] == "'h' (0) → 'l' (2)"


# ---------------------------------------------------------------------------------------- profile


def test_profile_by_op_type_adds_up_to_the_step(recorded):
    ops = recorded["adam"].ops(0)
    rows = profile.profile_rows(ops, by="op")
    assert sum(r["total_ms"] for r in rows) == pytest.approx(1e3 * sum(o["duration"] for o in ops))
    assert sum(r["share"] for r in rows) == pytest.approx(100)
    assert all(r["total_ms"] == r["self_ms"] and "Backward" not in r["name"] for r in rows)
    linear = {r["phase"]: r for r in rows if r["name"] == "Linear"}
    assert linear["forward"]["calls"] == linear["backward"]["calls"] == 2
    assert {r["name"] for r in rows if r["phase"] == "optimizer"} == {"AdamStep"}
    forward_flops = sum(o["flops"] for o in ops if o["op"] == "Linear" and o["phase"] == "forward")
    assert linear["forward"]["flops"] == forward_flops > 0  # the ops' own formulas, summed
    assert [r["total_ms"] for r in rows] == sorted((r["total_ms"] for r in rows), reverse=True)


def test_profile_by_module_splits_self_and_total_time(recorded):
    ops = recorded["blocks"].ops(0)
    rows = {(r["name"], r["phase"]): r for r in profile.profile_rows(ops, by="module")}
    step_ms = 1e3 * sum(o["duration"] for o in ops)
    assert sum(r["self_ms"] for r in rows.values()) == pytest.approx(step_ms)
    assert sum(r["total_ms"] for (name, _), r in rows.items() if name == profile.TOP_LEVEL) == pytest.approx(step_ms)
    for phase in ("forward", "backward"):
        block = rows[("0", phase)]
        assert block["self_ms"] == 0 and block["total_ms"] == pytest.approx(
            rows[("0.fc", phase)]["total_ms"] + rows[("0.act", phase)]["total_ms"]
        )
    assert rows[("0.fc", "backward")]["calls"] == 1  # LinearBackward counted under its forward op's module
    assert rows[("0.fc", "optimizer")]["calls"] == 2  # SGDStep of 0.fc.weight and 0.fc.bias


def test_profile_figure_splits_the_slowest_by_phase(recorded):
    rows = profile.profile_rows(recorded["adam"].ops(0))
    fig = profile.profile_figure(rows, top=3, uirevision="p")
    assert [t.name for t in fig.data] == [p for p in ("forward", "backward", "optimizer") if any(t.name == p for t in fig.data)]
    names = list(fig.data[0].y)
    totals = {n: sum(r["total_ms"] for r in rows if r["name"] == n) for n in {r["name"] for r in rows}}
    assert names == sorted(totals, key=lambda n: -totals[n])[:3]
    assert np.allclose(np.sum([t.x for t in fig.data], axis=0), [totals[n] for n in names])
    assert fig.layout.barmode == "stack" and fig.layout.uirevision == "p"


# ---------------------------------------------------------------------------------------- all


def test_every_figure_serialises_and_keeps_the_given_uirevision(recorded):
    from inspector.figures import compare, memory, runs

    adam, nan = recorded["adam"], recorded["nan"]
    g = graph_of((nan, 2))
    steps, names, norms = adam.grad_stats("norm")
    made = {
        "curves": runs.curves(runs.loss_series("adam", adam.steps(), {}), "Loss", "loss", uirevision="u"),
        "graph": graph.graph_figure(g, positions(g), "grad", "n2", uirevision="u"),
        "heatmap": gradients.heatmap(steps, names, norms, "norm", uirevision="u"),
        "histogram": gradients.histogram_figure(adam.histograms("0.bias"), "0.bias", uirevision="u"),
        "timeline": memory.timeline(adam.memory_events(0, 1), ops=adam.ops(0), uirevision="u"),
        "buffers": memory.timeline(adam.memory_events(0), mode="buffers", uirevision="u"),
        "totals": memory.totals_figure(adam.memory_totals(), uirevision="u"),
        "grid": attention.grid(recorded["attention"].probe(0), uirevision="u"),
        "single": attention.single(recorded["attention"].probe(0)["1"]["weights"][0], list("hello"), "one", uirevision="u"),
        "bars": compare.memory_bars(
            [dict(name="a", optimizer="Adam", param_bytes=10, by_category={"parameter": 10})], uirevision="u"
        ),
        "time": compare.step_time_figure(("a", adam.steps()), ("b", adam.steps()), uirevision="u"),
        "profile": profile.profile_figure(profile.profile_rows(adam.ops(0), by="module"), uirevision="u"),
    }
    for name, fig in made.items():
        assert fig.layout.uirevision == "u", name
        assert '"uirevision":"u"' in fig.to_json(), name  # what Dash sends to the browser
        assert fig.data, name
    assert graph.graph_figure(g, positions(g)).layout.uirevision == "graph_figure"  # default: the function's name
