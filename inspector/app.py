"""The Dash app: a header of page links, one dcc.Interval for live refresh, and the pages
(inspector/views/, each registering itself and owning its callbacks)."""

from __future__ import annotations

import importlib
import importlib.resources

import dash
from dash import _callback, dcc, html

from . import ids, state

PAGES = ("runs", "graph", "gradients", "memory", "attention", "compare", "profile")
REFRESH_MS = 1500
_view_callbacks: tuple[list, dict] | None = None


def _views() -> tuple[list, dict]:
    """The pages' callbacks, registered once. Dash hands `dash.callback`s to the first app that
    serves and forgets them, so every app made here (launch() again, tests) gets its own copy."""
    global _view_callbacks
    if _view_callbacks is None:
        for page in PAGES:  # importing a view registers its page and its callbacks
            importlib.import_module(f"inspector.views.{page}")
        _view_callbacks = list(_callback.GLOBAL_CALLBACK_LIST), dict(_callback.GLOBAL_CALLBACK_MAP)
        _callback.GLOBAL_CALLBACK_LIST.clear()
        _callback.GLOBAL_CALLBACK_MAP.clear()
    return _view_callbacks


def create_app(logdir: str = "runs", refresh_ms: int = REFRESH_MS) -> dash.Dash:
    """The inspector for the runs under logdir (read-only)."""
    catalog = state.set_logdir(logdir)
    app = dash.Dash(__name__, use_pages=True, pages_folder="", suppress_callback_exceptions=True, title="tinytorch inspector",
                    update_title=None, assets_folder=str(importlib.resources.files("inspector") / "assets"))  # fmt: skip
    app.server.config[state.KEY] = catalog  # what this app's callbacks read
    callbacks, by_output = _views()
    app._callback_list.extend(dict(c) for c in callbacks)
    app.callback_map.update({k: dict(v) for k, v in by_output.items()})
    links = [
        dcc.Link(p["name"], href=p["relative_path"], className="nav-link")
        for p in sorted(dash.page_registry.values(), key=lambda p: p["order"])
    ]
    app.layout = html.Div(
        [
            html.Header(
                [
                    html.Span("tinytorch inspector", className="brand"),
                    html.Nav(links),
                    html.Span(str(catalog.root), className="logdir"),
                ]
            ),
            dcc.Interval(id=ids.TICK, interval=refresh_ms),
            dcc.Location(id=ids.URL),
            html.Main(dash.page_container),
        ]
    )
    return app
