"""Pure functions from RunReader data to Plotly figures (and plain rows): no Dash here, so the
inspector's pages and notebooks draw the same pictures.

    from inspector import figures
    figures.memory.timeline(reader.memory_events(0))      # displays inline in Jupyter
"""

from . import attention, common, compare, gradients, graph, memory, profile, runs
from .common import CATEGORIES, CATEGORY_COLORS, empty, fmt_bytes

__all__ = ["attention", "common", "compare", "gradients", "graph", "memory", "profile", "runs", "CATEGORIES", "CATEGORY_COLORS",
           "empty", "fmt_bytes"]  # fmt: skip
