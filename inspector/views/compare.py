"""Compare: two runs side by side: memory by category against the predicted lines (P, +P
gradients, SGD +0, momentum +P, Adam +2P), the measured ratio in one line, loss and step time."""

from __future__ import annotations

import math

import dash
from dash import Input, Output, State, callback, dcc, html

from .. import figures, ids, state
from .common import READ_ERRORS, dropdown, failed, message, no_runs, options, readable_runs


def layout(a: str | None = None, b: str | None = None, **query: str) -> html.Div:
    return html.Div(
        [
            html.H2("Compare"),
            html.Div([dropdown(ids.CMP_A, "run A", a), dropdown(ids.CMP_B, "run B", b)], className="controls"),
            html.Div(id=ids.CMP_MESSAGE),
            html.Div(id=ids.CMP_STATEMENT),
            dcc.Graph(id=ids.CMP_MEMORY, style={"height": "45vh"}),
            html.Div(
                [dcc.Graph(id=ids.CMP_LOSS, className="grow"), dcc.Graph(id=ids.CMP_TIME, className="grow")], className="row"
            ),
        ]
    )


dash.register_page(__name__, path="/compare", name="Compare", order=5, title="Compare", layout=layout)


def with_memory(reader) -> bool:
    return bool(reader.memory_totals()) and bool(reader.params())


def optimizer_of(reader) -> str:
    """The run's optimizer as recorded (its repr, hyperparameters included), else 'unknown'."""
    meta = reader.meta
    return str(meta.get("optimizer") or (meta.get("config") or {}).get("optimizer", "unknown"))


@callback(
    Output(ids.CMP_A, "options"), Output(ids.CMP_A, "value"), Output(ids.CMP_B, "options"), Output(ids.CMP_B, "value"),
    Input(ids.TICK, "n_intervals"), State(ids.CMP_A, "value"), State(ids.CMP_B, "value"),
)  # fmt: skip
def choices(_: int, a: str | None, b: str | None) -> tuple:
    names = readable_runs(with_memory)
    if a not in names or b not in names:
        a, b = default_pair(names)
    return options(names), a, options(names), b


def default_pair(names: list[str]) -> tuple[str | None, str | None]:
    """An SGD run and an Adam run of the same model when there are such (same parameter count;
    runs whose loss went non-finite last), else any two runs."""
    readers = {n: state.catalog().reader(n) for n in names}
    kind = {n: optimizer_of(r).split("(")[0].split(" ")[0].strip() for n, r in readers.items()}
    size = {n: r.meta.get("parameters") for n, r in readers.items()}
    ranked = sorted(names, key=lambda n: not _healthy(readers[n]))  # stable: newest first among equals
    for sgd in (n for n in ranked if kind[n] == "SGD"):
        for adam in (n for n in ranked if kind[n] == "Adam" and size[n] == size[sgd]):
            return sgd, adam
    return (names[0] if names else None), (names[1] if len(names) > 1 else names[0] if names else None)


def _healthy(reader) -> bool:
    """Its latest loss is finite: a run that blew up (the demo's `exploding`) compares poorly."""
    last = reader.last_step()
    loss = reader.steps(since=last - 1)["loss"] if last is not None else []
    return len(loss) > 0 and math.isfinite(float(loss[-1]))


def _run(name: str) -> dict:
    reader = state.catalog().reader(name)
    first = reader.memory_totals()[0]
    return dict(name=name, optimizer=optimizer_of(reader), param_bytes=first["by_category"].get("parameter", 0),
                by_category=first["by_category"], steps=reader.steps())  # fmt: skip


@callback(
    Output(ids.CMP_MESSAGE, "children"), Output(ids.CMP_STATEMENT, "children"), Output(ids.CMP_MEMORY, "figure"),
    Output(ids.CMP_LOSS, "figure"), Output(ids.CMP_TIME, "figure"),
    Input(ids.TICK, "n_intervals"), Input(ids.CMP_A, "value"), Input(ids.CMP_B, "value"),
)  # fmt: skip
def refresh(_: int, a: str | None, b: str | None) -> tuple:
    if a is None or b is None:
        empty = figures.common.empty("two runs with a traced step are needed")
        note = (
            no_runs()
            if not state.catalog().names()
            else message("Compare needs two runs recorded with a traced step and a model.")
        )
        return note, None, empty, empty, empty
    try:
        runs = [_run(a), _run(b)]
    except READ_ERRORS as e:
        return failed(e, 5)
    statements = [
        html.P(
            figures.compare.ratio_statement(r["name"], r["optimizer"], r["param_bytes"], r["by_category"]), className="statement"
        )
        for r in runs
    ]
    loss = [figures.runs.loss_series(r["name"], r["steps"], {}) for r in runs]
    time = [dict(name=r["name"], steps=r["steps"]["step"], values=1e3 * r["steps"]["duration"]) for r in runs]
    return (None, statements, figures.compare.memory_bars(runs), figures.compare.loss_figure(loss[0], loss[1]),
            figures.compare.step_time_figure(time[0], time[1]))  # fmt: skip
