"""inspector.figures on real recorded runs: runs, memory and compare (graph, gradients, attention
and profile are in test_figures_views.py). The runs are recorded once per session."""

from __future__ import annotations

import subprocess
import sys
import time
import tracemalloc
import warnings

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.nn.functional as F
from inspector import figures
from inspector.figures import common, compare, memory, runs
from tinytorch import nn
from tinytorch.runs import RunReader

_BUILT: dict[str, dict] = {}


class TinyAttention(nn.Module):
    """Self-attention from primitives that hands its weights to the recorder's probe."""

    def __init__(self, dim=8, heads=2):
        super().__init__()
        self.heads, self.qkv = heads, nn.Linear(dim, 3 * dim)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)  # (3, B, nh, T, hs)
        w = (q @ k.transpose(-2, -1) / (d // self.heads) ** 0.5).softmax(-1)  # (B, nh, T, T)
        tt.record.attention(w)
        return (w @ v).transpose(1, 2).reshape(b, t, d)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.act = nn.Linear(6, 6), nn.ReLU()

    def forward(self, x):
        return self.act(self.fc(x))


class Damped(nn.Module):
    def __init__(self):
        super().__init__()
        self.first, self.second = nn.Linear(4, 4), nn.Linear(4, 1)

    def forward(self, x):
        return self.second(self.first(x * 1e-6))  # first.weight's gradient all but vanishes


def _train(path, model, opt, steps=4, trace=(0, 1), seed=0, every=1, **options):
    rng = np.random.default_rng(seed)
    config = {"parameters": sum(p.numel() for p in model.parameters()), "optimizer": repr(opt)}
    with tt.record(path, model=model, optimizer=opt, every=every, trace_steps=trace, config=config, **options) as run:
        for _ in range(steps):
            x = tt.from_numpy(rng.standard_normal((8, 6)).astype(np.float32))
            y = tt.from_numpy(rng.integers(0, 3, 8))
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            run.step(loss)
            del x, y, loss
        run.log("val/loss", 0.9, step=steps - 1)
        run.log("val/accuracy", 0.625, step=steps - 1)
    return RunReader(run.path)


def _record_all(root) -> dict:
    tt.manual_seed(0)
    out = {}
    tracemalloc.start()
    try:
        for name, make in (("sgd", lambda p: tt.optim.SGD(p, lr=0.1)), ("adam", lambda p: tt.optim.Adam(p, lr=1e-2))):
            model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
            out[name] = _train(root / name, model, make(model.parameters()))
            out[name + "_param_bytes"] = sum(p.data.nbytes for p in model.parameters())
    finally:
        tracemalloc.stop()
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    out["gap"] = _train(
        root / "gap", model, tt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), steps=3, trace=(0, 2), every=2
    )
    model = nn.Sequential(Block(), Block(), Block(), nn.Linear(6, 3))
    out["blocks"] = _train(root / "blocks", model, tt.optim.SGD(model.parameters(), lr=0.1), steps=1, trace=(0,))
    model = nn.Sequential(TinyAttention(), TinyAttention())
    opt = tt.optim.SGD(model.parameters(), lr=0.1)
    tokens = list("hello")  # two 'l': the axes must keep both
    with tt.record(
        root / "attention", model=model, optimizer=opt, probe=tt.randn(1, 5, 8), probe_every=2, probe_tokens=tokens
    ) as run:
        for _ in range(3):
            loss = (model(tt.randn(3, 5, 8)) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            run.step(loss)
    out["attention"] = RunReader(run.path)
    x = tt.tensor([[1.0, 0.5, 2.0]], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with tt.record(root / "nan", anomaly="warn", trace_steps=(0, 1, 2)) as run:
            for step in range(3):
                shift = 0.0 if step < 2 else 3.0  # at step 2 relu gives zeros and log(0) = -inf
                ((x * 2.0) - shift).relu().log().sum().backward()
                run.step()
        out["nan"] = RunReader(run.path)
        model = Damped()
        opt = tt.optim.SGD(model.parameters(), lr=0.01)
        xs, ys = tt.randn(16, 4), tt.randn(16, 1) * 10
        with tt.record(root / "exploding", model=model, optimizer=opt, trace_steps=()) as run:
            for step in range(12):
                opt.param_groups[0]["lr"] = 0.01 if step < 4 else 3.0  # then far too large: the layers explode
                loss = F.mse_loss(model(xs), ys)
                opt.zero_grad()
                loss.backward()
                opt.step()
                run.step(loss)
        out["exploding"] = RunReader(run.path)
    return out


def record_once(tmp_path_factory) -> dict:
    """The runs every figure test reads, recorded on first use (test_figures_views.py shares them)."""
    if not _BUILT:
        with tt.enable_grad():
            _BUILT.update(_record_all(tmp_path_factory.mktemp("figures")))
    return _BUILT


@pytest.fixture(scope="session")
def recorded(tmp_path_factory) -> dict:
    return record_once(tmp_path_factory)


def replay_naive(events) -> np.ndarray:
    """Live bytes after each event of ONE step, the simplest way (the figure's replay is checked against it)."""
    live, totals = {}, []
    for kind, buf, nbytes in zip(events["kind"], events["buf"], events["nbytes"]):
        if kind in ("alloc", "live"):  # live: alive since before this step
            live[int(buf)] = int(nbytes)
        elif kind == "free":
            live.pop(int(buf), None)
        totals.append(sum(live.values()))
    return np.array(totals)


def stacked_sum(fig) -> np.ndarray:
    return np.sum([np.asarray(t.y, dtype=np.int64) for t in fig.data], axis=0)


# ---------------------------------------------------------------------------------------- common


def test_importing_figures_does_not_import_dash():
    code = "import inspector.figures, sys; assert 'dash' not in sys.modules, 'dash imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_fmt_bytes_and_category_colours():
    assert [common.fmt_bytes(n) for n in (0, 1023, 1536, 3 * 1024**2)] == ["0 B", "1023 B", "1.5 KB", "3.0 MB"]
    assert common.fmt_bytes(1536, exact=True) == "1.5 KB (1,536 B)"
    assert common.fmt_bytes(None) == "—"
    assert tuple(figures.CATEGORY_COLORS) == figures.CATEGORIES
    assert len(set(figures.CATEGORY_COLORS.values())) == len(figures.CATEGORIES)


def test_empty_figure_shows_the_message_and_nothing_else():
    fig = figures.empty("no data yet")
    assert len(fig.data) == 0
    assert [a.text for a in fig.layout.annotations] == ["no data yet"]
    assert fig.layout.xaxis.visible is False and fig.layout.yaxis.visible is False


# ---------------------------------------------------------------------------------------- runs


def test_loss_metric_and_lr_series_come_from_the_reader(recorded):
    r = recorded["adam"]
    cols, scalars = r.steps(), {t: r.scalars(t) for t in r.tags()}
    train, val = runs.loss_series("adam", cols, scalars)
    assert train["name"] == "adam train loss" and np.array_equal(train["values"], cols["loss"])
    assert val["dash"] == "dot" and val["steps"].tolist() == [3] and val["values"].tolist() == [0.9]
    (acc,) = runs.metric_series("adam", scalars)
    assert acc["name"] == "adam val/accuracy" and acc["values"].tolist() == [0.625]
    (lr,) = runs.lr_series("adam", cols)
    assert lr["values"].tolist() == [1e-2] * 4


def test_curves_draw_every_series_with_gaps_for_non_finite_values():
    series = [
        dict(name="a", steps=np.arange(3), values=np.array([1.0, np.inf, 0.5])),
        dict(name="b", steps=[0, 2], values=[2.0, -1.0], dash="dot"),
    ]
    fig = runs.curves(series, "Loss", "loss", log_y=True, uirevision="keep")
    assert [t.name for t in fig.data] == ["a", "b"]
    assert np.isnan(fig.data[0].y[1]) and fig.data[0].y[2] == 0.5
    assert np.isnan(fig.data[1].y[1])  # log axis: a negative value cannot be drawn
    assert fig.data[1].line.dash == "dot" and fig.layout.yaxis.type == "log"
    assert fig.layout.uirevision == "keep" and fig.layout.yaxis.title.text == "loss" and fig.layout.xaxis.title.text == "step"
    assert "no data yet" in runs.curves([], "Loss", "loss").layout.annotations[0].text


@pytest.fixture
def not_utc(monkeypatch):
    """A local time zone that is not UTC (5:30 ahead), so local and UTC times differ."""
    monkeypatch.setenv("TZ", "IST-5:30")  # POSIX form: needs no tz database
    time.tzset()
    assert time.localtime(0).tm_min == 30
    yield
    monkeypatch.undo()
    time.tzset()


def test_run_rows_are_readable(recorded, not_utc):
    r = recorded["adam"]
    meta = r.meta
    good = dict(
        name="adam", status=r.status, meta=meta, last_step=r.last_step(), last_loss=0.123456, best_val_accuracy=0.625, error=None
    )
    bad = dict(
        name="broken", status=None, meta={}, last_step=None, last_loss=None, best_val_accuracy=None, error="not a run file"
    )
    row, broken = runs.run_rows([good, bad])
    assert row["status"] == "finished" and row["steps"] == "4" and row["loss"] == "0.1235" and row["accuracy"] == "62.5 %"
    assert row["parameters"] == "163" and row["optimizer"] == "Adam"
    assert row["created"] == time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(meta["created"]))
    assert row["duration"] == f"{meta['ended'] - meta['created']:.1f} s"
    assert broken["status"] == "unreadable" and broken["error"] == "not a run file" and broken["steps"] == "0"
    running = runs.run_rows([dict(good, status="running", meta={**meta, "ended": None})], now=meta["created"] + 125)[0]
    assert running["duration"] == "2 min 05 s"


# ---------------------------------------------------------------------------------------- memory


@pytest.mark.parametrize("step", [0, 1])
def test_category_timeline_ends_at_the_recorded_total_and_stacks_to_the_live_bytes(recorded, step):
    r = recorded["adam"]
    events = r.memory_events(step)
    fig = memory.timeline(events, uirevision="mem")
    assert [t.meta for t in fig.data] == list(figures.CATEGORIES)
    assert [t.fillcolor for t in fig.data] == [figures.CATEGORY_COLORS[c] for c in figures.CATEGORIES]
    assert list(fig.data[0].x) == list(range(len(events["kind"])))
    assert np.array_equal(stacked_sum(fig), replay_naive(events))
    totals = r.memory_totals()[step]
    assert stacked_sum(fig)[-1] == totals["recorded"]
    assert {t.meta: t.y[-1] for t in fig.data if t.y[-1]} == totals["by_category"]
    assert fig.layout.uirevision == "mem" and fig.layout.yaxis.title.text == "live bytes"


def test_two_traced_steps_replay_without_counting_carried_buffers_twice(recorded):
    r = recorded["adam"]
    events = r.memory_events(0, 1)
    total = stacked_sum(memory.timeline(events))
    boundary = int(np.argmax(events["step"] == 1))
    recorded_totals = [t["recorded"] for t in r.memory_totals()]
    assert total[boundary - 1] == recorded_totals[0] and total[-1] == recorded_totals[1]
    assert total[boundary] == total[boundary - 1]  # step 1 opens by announcing what lives: no jump
    fig = memory.timeline(events)
    separators = [s for s in fig.layout.shapes if s.type == "line"]
    assert [s.x0 for s in separators] == [-0.5, boundary - 0.5]
    bands = {s.fillcolor for s in fig.layout.shapes if s.type == "rect"}
    assert bands == {common.PHASE_COLORS[p] for p in ("forward", "backward", "optimizer")}


def test_a_step_traced_after_a_gap_starts_from_what_it_announces(recorded):
    r = recorded["gap"]  # steps 0 and 2 traced: step 2 starts a fresh trace, with new buffer ids
    events = r.memory_events(0, 2)
    total = stacked_sum(memory.timeline(events))
    boundary = int(np.argmax(events["step"] == 2))
    assert total[boundary - 1] == r.memory_totals()[0]["recorded"] and total[-1] == r.memory_totals()[1]["recorded"]
    assert events["kind"][boundary] == "alloc" and events["holder"][boundary] == "0.weight"
    assert events["buf"][boundary] > events["buf"][:boundary].max()  # ids are unique within the run
    # what step 0 left behind and step 2 does not announce is gone: from there on only step 2 counts
    assert np.array_equal(total[boundary + 1 :], replay_naive({k: v[boundary:] for k, v in events.items()})[1:])
    live = memory.live_at(events, len(total) - 1)
    assert sum(b["bytes"] for b in live) == total[-1] and all(b["step"] == 2 for b in live)


def test_consecutive_traced_steps_carry_their_buffers(recorded):
    r = recorded["adam"]  # steps 0 and 1 traced: step 1 opens by announcing what is still alive
    events = r.memory_events(0, 1)
    boundary = int(np.argmax(events["step"] == 1))
    assert events["kind"][boundary] == "live"
    carried = {int(b) for b, k, s in zip(events["buf"], events["kind"], events["step"]) if k == "live" and s == 1}
    assert carried <= {int(b) for b, s in zip(events["buf"], events["step"]) if s == 0}  # the same buffers, same ids
    total = stacked_sum(memory.timeline(events))
    assert total[boundary - 1] == total[boundary + len(carried) - 1]  # announcing them adds nothing


def test_buffer_timeline_has_one_band_per_large_buffer_and_the_rest_merged(recorded):
    events = recorded["adam"].memory_events(0)
    fig = memory.timeline(events, mode="buffers", top=5)
    assert len(fig.data) == 6 and fig.data[-1].name == "other buffers" and fig.data[-1].customdata[0] == -1
    assert np.array_equal(stacked_sum(fig), replay_naive(events))
    top = {int(t.customdata[0]) for t in fig.data[:-1]}
    sizes = {int(b): int(n) for b, n in zip(events["buf"], events["nbytes"])}
    assert min(sizes[b] for b in top) >= max(n for b, n in sizes.items() if b not in top)
    with pytest.raises(ValueError, match="mode"):
        memory.timeline(events, mode="pixels")


def test_peak_live_at_and_buffer_info(recorded):
    r = recorded["sgd"]
    events = r.memory_events(0)
    naive = replay_naive(events)
    p = memory.peak(events, top=3, ops=r.ops(0))
    assert p["peak_bytes"] == naive.max() and p["peak_index"] == int(np.argmax(naive)) < len(naive) - 1  # in backward
    assert p["phase"] == "backward"
    assert sum(p["by_category"].values()) == p["peak_bytes"] == sum(p["by_module"].values())
    assert len(p["top_buffers"]) == 3 and [b["bytes"] for b in p["top_buffers"]] == sorted(
        (b["bytes"] for b in p["top_buffers"]), reverse=True
    )
    at_end = memory.live_at(events, len(events["kind"]) - 1)
    reader_live = r.live_buffers(0)
    assert sorted((b["buf"], b["bytes"], b["category"]) for b in at_end) == sorted(
        (int(b["buf"]), int(b["nbytes"]), str(b["category"])) for b in reader_live
    )
    retagged = int(events["buf"][list(events["kind"]).index("retag")])  # a gradient made by a backward op, then .grad
    info = memory.buffer_info(events, retagged, ops=r.ops(0))
    assert [h["category"] for h in info["history"]] == ["temporary", "gradient"] and info["holder"].endswith(".grad")
    assert info["module"] in ("0", "2") and info["free_index"] is None and info["alloc_index"] < info["history"][1]["index"]
    freed = next(b for b in memory.buffers(events) if b["free"] is not None)
    assert memory.buffer_info(events, freed["buf"])["free_index"] == freed["free"]
    assert memory.buffer_info(events, 10**6) is None


def test_sampled_timeline_keeps_exact_values_and_the_peak(recorded):
    events = recorded["sgd"].memory_events(0)
    naive = replay_naive(events)
    fig = memory.timeline(events, max_points=10)
    x = np.asarray(fig.data[0].x)
    assert len(x) < len(naive) and x[-1] == len(naive) - 1 and int(np.argmax(naive)) in x
    assert np.array_equal(stacked_sum(fig), naive[x])


def test_totals_figure_shows_recorded_tracemalloc_and_rss(recorded):
    totals = recorded["sgd"].memory_totals()
    fig = memory.totals_figure(totals)
    assert [t.name for t in fig.data] == ["recorded buffers", "NumPy (tracemalloc)", "process RSS (right axis)"]
    assert list(fig.data[0].y) == [t["recorded"] for t in totals] and list(fig.data[1].y) == [t["tracemalloc"] for t in totals]
    assert list(fig.data[0].x) == ["step 0", "step 1"] and fig.data[2].yaxis == "y2"
    assert "not traced" in memory.timeline(recorded["sgd"].memory_events(3)).layout.annotations[0].text


# ---------------------------------------------------------------------------------------- compare


@pytest.mark.parametrize(
    "optimizer, copies",
    [("Adam", 2), ("AdamW", 2), ("SGD", 0), ("SGD(momentum=0.9)", 1), ("SGD(momentum=0)", 0), ("Adam(amsgrad=True)", 3),
     ("RMSprop", 1), (repr(tt.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1, momentum=0.9)), 1)],
)  # fmt: skip
def test_predicted_state_bytes(optimizer, copies):
    assert compare.predicted_state_bytes(optimizer, 1000) == copies * 1000


def test_predicted_state_bytes_refuses_unknown_optimizers():
    with pytest.raises(ValueError, match="Lion"):
        compare.predicted_state_bytes("Lion", 10)


def _compared(recorded, name):
    first = recorded[name].memory_totals()[0]
    return dict(name=name, optimizer=recorded[name].meta["config"]["optimizer"], param_bytes=recorded[name + "_param_bytes"],
                by_category=first["by_category"])  # fmt: skip


def test_ratio_statement_states_the_measured_ratio(recorded):
    adam, sgd = _compared(recorded, "adam"), _compared(recorded, "sgd")
    text = compare.ratio_statement(adam["name"], adam["optimizer"], adam["param_bytes"], adam["by_category"])
    p = adam["param_bytes"]
    assert text.startswith(
        f"Adam optimizer state = 2.00 × parameter bytes (measured {2 * p:,} B of state for {p:,} B of parameters)"
    )
    text = compare.ratio_statement(sgd["name"], sgd["optimizer"], sgd["param_bytes"], sgd["by_category"])
    assert text.startswith("SGD optimizer state = 0.00 × parameter bytes")


def test_memory_bars_stack_the_measured_categories_under_the_predicted_lines(recorded):
    runs_ = [_compared(recorded, "sgd"), _compared(recorded, "adam")]
    fig = compare.memory_bars(runs_)
    bars = {t.meta: list(t.y) for t in fig.data if t.type == "bar"}
    assert list(bars) == [c for c in figures.CATEGORIES if c in bars]  # stacked in the shared order
    for i, r in enumerate(runs_):
        assert {c: v[i] for c, v in bars.items() if v[i]} == r["by_category"]
    (predicted,) = [t for t in fig.data if t.name == "predicted"]
    p = runs_[0]["param_bytes"]
    assert list(predicted.x) == ["sgd"] * 3 + ["adam"] * 3 and list(predicted.y) == [p, 2 * p, 2 * p, p, 2 * p, 4 * p]
    assert fig.layout.barmode == "stack"


def test_loss_and_step_time_share_one_axis(recorded):
    a, b = recorded["sgd"], recorded["adam"]
    fig = compare.loss_figure(runs.loss_series("sgd", a.steps(), {}), runs.loss_series("adam", b.steps(), {}))
    assert [t.name for t in fig.data] == ["sgd train loss", "adam train loss"] and fig.data[1].line.dash == "dot"
    fig = compare.step_time_figure(("sgd", a.steps()), ("adam", b.steps()))
    assert np.allclose(fig.data[1].y, 1e3 * b.steps()["duration"]) and fig.layout.yaxis.title.text == "step time (ms)"
    series = dict(name="adam", steps=b.steps()["step"], values=1e3 * b.steps()["duration"])
    assert np.allclose(compare.step_time_figure(series, series).data[0].y, series["values"])
