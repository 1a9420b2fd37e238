"""Every Dash component id, in one place (pages import them from here)."""

TICK = "tick"  # the one dcc.Interval that drives live refresh
URL = "url"

RUNS_TABLE, RUNS_MESSAGE, RUNS_PICK = "runs-table", "runs-message", "runs-pick"
RUNS_LOSS, RUNS_METRIC, RUNS_LR = "runs-loss", "runs-metric", "runs-lr"

GRAPH_RUN, GRAPH_STEP, GRAPH_DIRECTION, GRAPH_COLOR = "graph-run", "graph-step", "graph-direction", "graph-color"
GRAPH_FIG, GRAPH_CARD, GRAPH_EXPANDED, GRAPH_MESSAGE, GRAPH_SELECTED = (
    "graph-fig",
    "graph-card",
    "graph-expanded",
    "graph-message",
    "graph-selected",
)

GRAD_RUN, GRAD_FIELD, GRAD_HEATMAP, GRAD_PARAM, GRAD_HIST, GRAD_ALERTS, GRAD_MESSAGE = (
    "grad-run", "grad-field", "grad-heatmap", "grad-param", "grad-hist", "grad-alerts", "grad-message",
)  # fmt: skip

MEM_RUN, MEM_STEP, MEM_MODE, MEM_FIG, MEM_BUFFER, MEM_PEAK, MEM_TOTALS, MEM_MESSAGE = (
    "mem-run", "mem-step", "mem-mode", "mem-fig", "mem-buffer", "mem-peak", "mem-totals", "mem-message",
)  # fmt: skip

ATT_RUN, ATT_STEP, ATT_GRID, ATT_SINGLE, ATT_MESSAGE = "att-run", "att-step", "att-grid", "att-single", "att-message"

CMP_A, CMP_B, CMP_MEMORY, CMP_STATEMENT, CMP_LOSS, CMP_TIME, CMP_MESSAGE = (
    "cmp-a", "cmp-b", "cmp-memory", "cmp-statement", "cmp-loss", "cmp-time", "cmp-message",
)  # fmt: skip

PROF_RUN, PROF_STEP, PROF_BY, PROF_TABLE, PROF_FIG, PROF_MESSAGE = (
    "prof-run",
    "prof-step",
    "prof-by",
    "prof-table",
    "prof-fig",
    "prof-message",
)
