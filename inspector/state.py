"""What the pages share: the catalog of runs of the LOGDIR being served (each app its own, so two
inspectors launched from one notebook show their own runs)."""

from __future__ import annotations

import flask

from .catalog import Catalog

KEY = "TINYTORCH_CATALOG"
_catalog: Catalog | None = None  # the latest app's, for code outside a request


def set_logdir(logdir: str) -> Catalog:
    global _catalog
    _catalog = Catalog(logdir)
    return _catalog


def catalog() -> Catalog:
    if flask.has_app_context() and KEY in flask.current_app.config:
        return flask.current_app.config[KEY]
    if _catalog is None:
        raise RuntimeError("the inspector has no LOGDIR: create the app with inspector.app.create_app(logdir)")
    return _catalog
