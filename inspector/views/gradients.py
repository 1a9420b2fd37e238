"""Gradients: a layers x steps heatmap (log10 |g|, or the update-to-weight ratio), one layer's
histogram over time, and the alerts with their rule; an alert links to the layer in the Graph."""

from __future__ import annotations

import dash
from dash import Input, Output, State, callback, dcc, html

from .. import figures, ids, state
from .common import READ_ERRORS, choose, dropdown, failed, message, no_runs, options, readable_runs, table

FIELDS = {"norm": "log10 |gradient|", "update_ratio": "log10 |update| / |weight|", "max_abs": "log10 max |gradient|"}


def layout(run: str | None = None, param: str | None = None, **query: str) -> html.Div:
    return html.Div(
        [
            html.H2("Gradients"),
            html.Div(
                [
                    dropdown(ids.GRAD_RUN, "run", run),
                    dcc.RadioItems(
                        id=ids.GRAD_FIELD,
                        options=[{"label": v, "value": k} for k, v in FIELDS.items()],
                        value="norm",
                        inline=True,
                    ),
                ],
                className="controls",
            ),  # fmt: skip
            html.Div(id=ids.GRAD_MESSAGE),
            dcc.Graph(id=ids.GRAD_HEATMAP, style={"height": "46vh"}),
            html.Div(
                [
                    html.Div(
                        [dropdown(ids.GRAD_PARAM, "parameter", param, width="22em"), dcc.Graph(id=ids.GRAD_HIST)],
                        className="grow",
                    ),
                    html.Div([html.H4("Alerts"), html.Div(id=ids.GRAD_ALERTS)], className="side"),
                ],
                className="row",
            ),  # fmt: skip
        ]
    )


dash.register_page(__name__, path="/gradients", name="Gradients", order=2, title="Gradients", layout=layout)


def has_stats(reader) -> bool:
    return bool(reader.params())


@callback(
    Output(ids.GRAD_RUN, "options"), Output(ids.GRAD_RUN, "value"), Output(ids.GRAD_PARAM, "options"), Output(ids.GRAD_PARAM, "value"),
    Input(ids.TICK, "n_intervals"), Input(ids.GRAD_RUN, "value"), State(ids.GRAD_PARAM, "value"),
)  # fmt: skip
def choices(_: int, run: str | None, param: str | None) -> tuple:
    names = readable_runs(has_stats)
    run = choose(run, names)
    params = [p["name"] for p in state.catalog().reader(run).params()] if run else []
    return options(names), run, options(params), choose(param, params)


@callback(
    Output(ids.GRAD_MESSAGE, "children"), Output(ids.GRAD_HEATMAP, "figure"), Output(ids.GRAD_HIST, "figure"), Output(ids.GRAD_ALERTS, "children"),
    Input(ids.TICK, "n_intervals"), Input(ids.GRAD_RUN, "value"), Input(ids.GRAD_FIELD, "value"), Input(ids.GRAD_PARAM, "value"),
)  # fmt: skip
def refresh(_: int, run: str | None, field: str, param: str | None) -> tuple:
    if run is None:
        empty = figures.common.empty("no gradient statistics yet")
        return (no_runs() if not state.catalog().names() else message("no run with gradient statistics yet")), empty, empty, None
    try:
        reader = state.catalog().reader(run)
        steps, names, values = reader.grad_stats(field)
        hist = reader.histograms(param) if param else []
        alerts = reader.alerts()
    except READ_ERRORS as e:
        return failed(e, 4)
    heat = figures.gradients.heatmap(
        steps, names, values, f"{FIELDS[field]} per parameter and step", log10=True, uirevision=f"{run}/{field}"
    )
    hist_fig = figures.gradients.histogram_figure(hist, param) if hist else figures.common.empty("pick a parameter")
    rows = figures.gradients.alert_rows(alerts)
    links = {"where": lambda row: f"/graph?run={run}&param={row['parameter']}" if row.get("parameter") else f"/graph?run={run}"}
    return None, heat, hist_fig, table(rows, links=links) if rows else html.P("no alerts")
