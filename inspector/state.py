"""What the pages share: the catalog of runs of the LOGDIR being served."""

from __future__ import annotations

from .catalog import Catalog

_catalog: Catalog | None = None


def set_logdir(logdir: str) -> Catalog:
    global _catalog
    _catalog = Catalog(logdir)
    return _catalog


def catalog() -> Catalog:
    if _catalog is None:
        raise RuntimeError("the inspector has no LOGDIR: create the app with inspector.app.create_app(logdir)")
    return _catalog
