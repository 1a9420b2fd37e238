"""Memory: live bytes by category along a traced step's events (forward, backward and optimizer
phases shaded); zoom in for one band per buffer; click a band for the buffer; the peak."""

from __future__ import annotations

import dash
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from .. import figures, ids, state
from .common import READ_ERRORS, choose, dropdown, failed, message, no_runs, options, readable_runs, table

ZOOMED = 300  # events in view below which the chart switches to one band per buffer


def layout(run: str | None = None, step: str | None = None, op: str | None = None, **query: str) -> html.Div:
    return html.Div(
        [
            html.H2("Memory"),
            html.Div(
                [
                    dropdown(ids.MEM_RUN, "run", run),
                    dropdown(ids.MEM_STEP, "traced step", int(step) if step and step.isdigit() else None, width="10em"),
                    dcc.RadioItems(
                        id=ids.MEM_MODE,
                        options=[{"label": "by category", "value": "category"}, {"label": "by buffer", "value": "buffers"}],
                        value="category",
                        inline=True,
                    ),
                ],
                className="controls",
            ),  # fmt: skip
            html.Div(id=ids.MEM_MESSAGE),
            html.Div(
                [
                    dcc.Graph(id=ids.MEM_FIG, className="grow", style={"height": "55vh"}),
                    html.Div(id=ids.MEM_BUFFER, className="side card"),
                ],
                className="row",
            ),  # fmt: skip
            html.Div(
                [html.Div(id=ids.MEM_PEAK, className="grow card"), dcc.Graph(id=ids.MEM_TOTALS, className="grow")],
                className="row",
            ),
        ]
    )


dash.register_page(__name__, path="/memory", name="Memory", order=3, title="Memory", layout=layout)


def traced(reader) -> bool:
    return bool(reader.traced_steps())


@callback(
    Output(ids.MEM_RUN, "options"), Output(ids.MEM_RUN, "value"), Output(ids.MEM_STEP, "options"), Output(ids.MEM_STEP, "value"),
    Input(ids.TICK, "n_intervals"), Input(ids.MEM_RUN, "value"), State(ids.MEM_STEP, "value"),
)  # fmt: skip
def choices(_: int, run: str | None, step: int | None) -> tuple:
    names = readable_runs(traced)
    run = choose(run, names)
    steps = [t["step"] for t in state.catalog().reader(run).memory_totals()] if run else []
    return options(names), run, [{"label": f"step {s}", "value": s} for s in steps], choose(step, steps)


@callback(
    Output(ids.MEM_MODE, "value"), Input(ids.MEM_FIG, "relayoutData"), State(ids.MEM_MODE, "value"), prevent_initial_call=True
)
def zoom(relayout: dict | None, mode: str) -> str:
    """Zooming into fewer than ZOOMED events shows the buffers; zooming out, the categories."""
    if not relayout:
        return no_update
    if "xaxis.range[0]" in relayout:
        return "buffers" if relayout["xaxis.range[1]"] - relayout["xaxis.range[0]"] < ZOOMED else "category"
    return "category" if relayout.get("xaxis.autorange") else no_update


@callback(
    Output(ids.MEM_MESSAGE, "children"), Output(ids.MEM_FIG, "figure"), Output(ids.MEM_PEAK, "children"), Output(ids.MEM_TOTALS, "figure"),
    Input(ids.MEM_RUN, "value"), Input(ids.MEM_STEP, "value"), Input(ids.MEM_MODE, "value"), Input(ids.TICK, "n_intervals"),
)  # fmt: skip
def refresh(run: str | None, step: int | None, mode: str, _: int) -> tuple:
    if run is None or step is None:
        empty = figures.common.empty("no traced step yet")
        return (no_runs() if not state.catalog().names() else message("no run with a traced step yet")), empty, None, empty
    if ctx.triggered_id == ids.TICK and step is not None:
        return no_update, no_update, no_update, no_update  # a traced step is written once: nothing to redraw
    try:
        reader = state.catalog().reader(run)
        events = reader.memory_events(step)
        totals = reader.memory_totals()
    except READ_ERRORS as e:
        return failed(e, 4)
    fig = figures.memory.timeline(events, mode=mode, ops=reader.ops(step), uirevision=f"{run}/{step}")
    return None, fig, peak_panel(events), figures.memory.totals_figure(totals)


def peak_panel(events: dict) -> list:
    p = figures.memory.peak(events)
    fmt = figures.common.fmt_bytes
    by_cat = [{"category": k, "bytes": fmt(v)} for k, v in sorted(p["by_category"].items(), key=lambda kv: -kv[1]) if v]
    by_mod = [
        {"module": k or "(top level)", "bytes": fmt(v)} for k, v in sorted(p["by_module"].items(), key=lambda kv: -kv[1])[:8] if v
    ]
    top = [{"buffer": b.get("holder"), "shape": b.get("shape"), "category": b.get("category"), "bytes": fmt(b.get("nbytes") or b.get("bytes") or 0)}
           for b in p["top_buffers"][:8]]  # fmt: skip
    return [html.H4(f"Peak: {fmt(p['peak_bytes'])} at event {p['peak_index']}"),
            html.Div([table(by_cat), table(by_mod)], className="row"), html.H5("largest buffers at the peak"), table(top)]  # fmt: skip


@callback(
    Output(ids.MEM_BUFFER, "children"),
    Input(ids.MEM_FIG, "clickData"), State(ids.MEM_RUN, "value"), State(ids.MEM_STEP, "value"),
    prevent_initial_call=True,
)  # fmt: skip
def buffer(click: dict | None, run: str, step: int) -> list:
    if not click or not click.get("points"):
        return no_update
    point = click["points"][0]
    events = state.catalog().reader(run).memory_events(step)
    custom = point.get("customdata")
    if isinstance(custom, (int, float)) and custom >= 0:  # a buffer band
        info = figures.memory.buffer_info(events, int(custom))
        return [html.H4("buffer"), html.Dl([x for k, v in info.items() for x in (html.Dt(k.replace("_", " ")), html.Dd(str(v)))])]
    live = figures.memory.live_at(events, int(point.get("x", 0)))
    live = sorted(live, key=lambda b: -(b.get("nbytes") or b.get("bytes") or 0))[:10]
    rows = [
        {
            "holder": b.get("holder"),
            "category": b.get("category"),
            "bytes": figures.common.fmt_bytes(b.get("nbytes") or b.get("bytes") or 0),
        }
        for b in live
    ]
    return [html.H4(f"largest live buffers after event {int(point.get('x', 0))}"), table(rows)]
