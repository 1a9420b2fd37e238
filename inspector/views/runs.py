"""Runs: every run with its config and status, and their curves overlaid."""

from __future__ import annotations

import dash
from dash import Input, Output, callback, dcc, html

from .. import figures, ids, state
from .common import READ_ERRORS, dropdown, message, no_runs, options, table

COLUMNS = ["name", "status", "steps", "loss", "val_accuracy", "optimizer", "parameters", "created", "duration"]


def layout(**query: str) -> html.Div:
    return html.Div(
        [
            html.H2("Runs"),
            html.Div(id=ids.RUNS_MESSAGE),
            html.Div(id=ids.RUNS_TABLE),
            html.Div(
                [dropdown(ids.RUNS_PICK, "runs to overlay (all when empty)", multi=True, width="40em")], className="controls"
            ),
            html.Div(
                [dcc.Graph(id=ids.RUNS_LOSS, className="grow"), dcc.Graph(id=ids.RUNS_METRIC, className="grow")], className="row"
            ),
            dcc.Graph(id=ids.RUNS_LR, style={"height": "320px"}),
        ]
    )


dash.register_page(__name__, path="/", name="Runs", order=0, title="Runs", layout=layout)


@callback(
    Output(ids.RUNS_MESSAGE, "children"),
    Output(ids.RUNS_TABLE, "children"),
    Output(ids.RUNS_PICK, "options"),
    Input(ids.TICK, "n_intervals"),
)
def refresh_table(_: int) -> tuple:
    summary = state.catalog().summary()
    if not summary:
        return no_runs(), None, []
    rows = figures.runs.run_rows(summary)
    broken = [r for r in summary if r["error"]]
    note = [message(f"{r['name']}: {r['error']}", error=True) for r in broken]
    links = {"name": lambda row: f"/graph?run={row['name']}"}
    return note, table(rows, [c for c in COLUMNS if c in rows[0]], links), options(r["name"] for r in summary if not r["error"])


@callback(
    Output(ids.RUNS_LOSS, "figure"), Output(ids.RUNS_METRIC, "figure"), Output(ids.RUNS_LR, "figure"),
    Input(ids.TICK, "n_intervals"), Input(ids.RUNS_PICK, "value"),
)  # fmt: skip
def refresh_curves(_: int, picked: list[str] | None) -> tuple:
    catalog = state.catalog()
    names = picked or catalog.names()
    loss, metric, lr = [], [], []
    for name in names:
        try:
            r = catalog.reader(name)
            steps = r.steps()
            scalars = {tag: r.scalars(tag) for tag in r.tags()}
        except READ_ERRORS:
            continue
        loss += figures.runs.loss_series(name, steps, scalars)
        metric += figures.runs.metric_series(name, scalars)
        lr += figures.runs.lr_series(name, steps)
    return (
        figures.runs.curves(loss, "Loss", "loss", log_y=True) if loss else figures.common.empty("no steps recorded yet"),
        figures.runs.curves(metric, "Accuracy", "accuracy")
        if metric
        else figures.common.empty("no accuracy logged (run.log('val/accuracy', ...))"),
        figures.runs.curves(lr, "Learning rate", "lr") if lr else figures.common.empty("no learning rate recorded"),
    )
