"""Small pieces every page uses: run pickers, messages, tables, and guarded reading."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from dash import dcc, html, no_update

from tinytorch.runs import RunFileError

from .. import state

READ_ERRORS = (RunFileError, KeyError, ValueError, OSError)


def message(text: str, error: bool = False) -> html.Div:
    return html.Div(text, className="message error" if error else "message")


def no_runs() -> html.Div:
    return message(
        f"No runs in {state.catalog().root} yet. Record one with tinytorch.record(...) or fit(..., record='runs/name'), "
        "or start `tinytorch-inspector --demo`; new runs appear here without a restart."
    )


def readable_runs(need: Callable[[Any], bool] | None = None) -> list[str]:
    """Names of the runs that open (and pass `need(reader)`, e.g. having probes)."""
    names = []
    for name in state.catalog().names():
        try:
            if need is None or need(state.catalog().reader(name)):
                names.append(name)
        except READ_ERRORS:
            continue
    return names


def options(names: Iterable[str]) -> list[dict[str, str]]:
    return [{"label": n, "value": n} for n in names]


def choose(current: Any, available: list[Any]) -> Any:
    """Keep the user's choice while it is still there, else take the first."""
    return current if current in available else (available[0] if available else None)


def dropdown(id: str, placeholder: str, value: Any = None, multi: bool = False, width: str = "18em") -> html.Div:
    """A picker; a value from the URL starts among its options, or dcc.Dropdown may drop it (to
    None) when the real options arrive, and a link to /graph?run=x would show another run."""
    seed = [] if value is None else [value] if not multi else list(value)
    return html.Div(
        dcc.Dropdown(id=id, placeholder=placeholder, value=value, options=seed, multi=multi, clearable=multi),
        style={"width": width},
    )


def table(
    rows: list[dict[str, Any]], columns: list[str] | None = None, links: dict[str, Callable[[dict], str]] | None = None
) -> html.Table:
    """A plain HTML table; `links` turns a column's cells into links (column -> href of the row)."""
    if not rows:
        return html.Table(className="data")
    columns = columns or list(rows[0])
    links = links or {}

    def cell(row: dict, col: str) -> Any:
        value = "" if row.get(col) is None else str(row[col])
        return dcc.Link(value, href=links[col](row)) if col in links else value

    head = html.Tr([html.Th(c.replace("_", " ")) for c in columns])
    return html.Table(
        [html.Thead(head), html.Tbody([html.Tr([html.Td(cell(r, c)) for c in columns]) for r in rows])], className="data"
    )


def failed(error: Exception, outputs: int) -> tuple:
    """Callback outputs for a run that could not be read: the message first, no update for the rest."""
    return (message(f"{type(error).__name__}: {error}", error=True),) + (no_update,) * (outputs - 1)
