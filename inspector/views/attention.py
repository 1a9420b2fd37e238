"""Attention: a layers x heads grid of attention maps of the probe input, a slider over the
probes taken while training, and one map enlarged on click."""

from __future__ import annotations

import dash
from dash import Input, Output, State, callback, dcc, html, no_update

from .. import figures, ids, state
from .common import READ_ERRORS, choose, dropdown, failed, message, no_runs, options, readable_runs


def layout(run: str | None = None, **query: str) -> html.Div:
    return html.Div(
        [
            html.H2("Attention"),
            html.Div([dropdown(ids.ATT_RUN, "run", run)], className="controls"),
            html.Div(dcc.Slider(id=ids.ATT_STEP, min=0, max=0, step=None, value=None, marks={}), style={"margin": "0 1em 1em"}),
            html.Div(id=ids.ATT_MESSAGE),
            html.Div(
                [
                    dcc.Graph(id=ids.ATT_GRID, className="grow", style={"height": "70vh"}),
                    dcc.Graph(id=ids.ATT_SINGLE, className="side"),
                ],
                className="row",
            ),  # fmt: skip
        ]
    )


dash.register_page(__name__, path="/attention", name="Attention", order=4, title="Attention", layout=layout)


def probed(reader) -> bool:
    return bool(reader.probe_steps())


@callback(
    Output(ids.ATT_RUN, "options"), Output(ids.ATT_RUN, "value"),
    Output(ids.ATT_STEP, "min"), Output(ids.ATT_STEP, "max"), Output(ids.ATT_STEP, "marks"), Output(ids.ATT_STEP, "value"),
    Input(ids.TICK, "n_intervals"), Input(ids.ATT_RUN, "value"), State(ids.ATT_STEP, "value"), State(ids.ATT_STEP, "max"),
)  # fmt: skip
def choices(_: int, run: str | None, step: int | None, old_max: int) -> tuple:
    names = readable_runs(probed)
    run = choose(run, names)
    steps = state.catalog().reader(run).probe_steps() if run else []
    if not steps:
        return options(names), run, 0, 0, {}, None
    every = max(1, len(steps) // 10)
    marks = {s: str(s) for i, s in enumerate(steps) if i % every == 0 or s == steps[-1]}
    following = step is None or step == old_max  # at the newest probe: follow new ones as they come
    return options(names), run, steps[0], steps[-1], marks, steps[-1] if following or step not in steps else step


@callback(
    Output(ids.ATT_MESSAGE, "children"), Output(ids.ATT_GRID, "figure"),
    Input(ids.ATT_RUN, "value"), Input(ids.ATT_STEP, "value"),
)  # fmt: skip
def refresh(run: str | None, step: int | None) -> tuple:
    if run is None or step is None:
        note = (
            no_runs()
            if not state.catalog().names()
            else message("no attention probes yet: record with probe=..., and layers that call tinytorch.record.attention")
        )
        return note, figures.common.empty("no attention probes yet")
    try:
        probe = state.catalog().reader(run).probe(step)
    except READ_ERRORS as e:
        return failed(e, 2)
    if not probe:
        return message(f"no probe at step {step}"), figures.common.empty("")
    return None, figures.attention.grid(probe, uirevision=f"{run}")


@callback(
    Output(ids.ATT_SINGLE, "figure"),
    Input(ids.ATT_GRID, "clickData"), State(ids.ATT_RUN, "value"), State(ids.ATT_STEP, "value"),
)  # fmt: skip
def enlarge(click: dict | None, run: str | None, step: int | None):
    if not click or not click.get("points") or run is None or step is None:
        return figures.common.empty("click a map to enlarge it")
    probe = state.catalog().reader(run).probe(step)
    picked = _map_of(click["points"][0], probe)
    if picked is None:
        return no_update
    layer, head = picked
    entry = probe[layer]
    return figures.attention.single(entry["weights"][head], entry["tokens"], f"{layer}, head {head}, step {step}")


def _map_of(point: dict, probe: dict) -> tuple[str, int] | None:
    """(layer, head) of a clicked map. Dash leaves a heatmap point's customdata out of clickData,
    so its trace number says which: grid() draws the layers in probe order, each head in turn."""
    custom = point.get("customdata")
    if isinstance(custom, list) and len(custom) >= 2:
        return str(custom[0]), int(custom[1])
    maps = [(layer, h) for layer, e in probe.items() if e.get("weights") is not None for h in range(len(e["weights"]))]
    n = point.get("curveNumber")
    return maps[n] if isinstance(n, int) and 0 <= n < len(maps) else None
