"""Profile: op types and modules of a traced step by calls, total and self time, bytes and
FLOPs, forward and backward apart."""

from __future__ import annotations

import dash
from dash import Input, Output, State, callback, dcc, html

from .. import figures, ids, state
from .common import READ_ERRORS, choose, dropdown, failed, message, no_runs, options, readable_runs, table

COLUMNS = ["name", "phase", "calls", "total_ms", "self_ms", "share", "bytes", "flops"]


def layout(run: str | None = None, **query: str) -> html.Div:
    return html.Div(
        [
            html.H2("Profile"),
            html.Div(
                [
                    dropdown(ids.PROF_RUN, "run", run),
                    dropdown(ids.PROF_STEP, "traced step", width="10em"),
                    dcc.RadioItems(
                        id=ids.PROF_BY,
                        options=[{"label": "by op type", "value": "op"}, {"label": "by module", "value": "module"}],
                        value="op",
                        inline=True,
                    ),
                ],
                className="controls",
            ),  # fmt: skip
            html.Div(id=ids.PROF_MESSAGE),
            html.Div(
                [dcc.Graph(id=ids.PROF_FIG, className="grow"), html.Div(id=ids.PROF_TABLE, className="grow")], className="row"
            ),
        ]
    )


dash.register_page(__name__, path="/profile", name="Profile", order=6, title="Profile", layout=layout)


@callback(
    Output(ids.PROF_RUN, "options"), Output(ids.PROF_RUN, "value"), Output(ids.PROF_STEP, "options"), Output(ids.PROF_STEP, "value"),
    Input(ids.TICK, "n_intervals"), Input(ids.PROF_RUN, "value"), State(ids.PROF_STEP, "value"),
)  # fmt: skip
def choices(_: int, run: str | None, step: int | None) -> tuple:
    names = readable_runs(lambda r: bool(r.traced_steps()))
    run = choose(run, names)
    steps = state.catalog().reader(run).traced_steps() if run else []
    return options(names), run, [{"label": f"step {s}", "value": s} for s in steps], choose(step, steps)


@callback(
    Output(ids.PROF_MESSAGE, "children"), Output(ids.PROF_FIG, "figure"), Output(ids.PROF_TABLE, "children"),
    Input(ids.PROF_RUN, "value"), Input(ids.PROF_STEP, "value"), Input(ids.PROF_BY, "value"),
)  # fmt: skip
def refresh(run: str | None, step: int | None, by: str) -> tuple:
    if run is None or step is None:
        note = no_runs() if not state.catalog().names() else message("no traced step to profile yet")
        return note, figures.common.empty("no traced step yet"), None
    try:
        rows = figures.profile.profile_rows(state.catalog().reader(run).ops(step), by=by)
    except READ_ERRORS as e:
        return failed(e, 3)
    shown = [{k: _fmt(k, r.get(k)) for k in COLUMNS} for r in rows]
    return None, figures.profile.profile_figure(rows), table(shown, COLUMNS)


def _fmt(key: str, value: object) -> object:
    if value is None:
        return ""
    if key in ("total_ms", "self_ms"):
        return f"{value:.3f}"
    if key == "share":
        return f"{value:.1f}%"
    if key == "bytes":
        return figures.common.fmt_bytes(int(value))
    if key == "flops":
        return f"{value:.3g}"
    return value
