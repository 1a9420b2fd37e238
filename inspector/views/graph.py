"""Graph: the autograd graph of a traced step, laid out by Graphviz dot once, folded by module
scope and repeated blocks (click a fold to open it), restyled without moving anything."""

from __future__ import annotations

import dash
from dash import Input, Output, Patch, State, callback, ctx, dcc, html, no_update

from tinytorch import viz

from .. import figures, ids, state
from .common import READ_ERRORS, choose, dropdown, failed, message, no_runs, options, readable_runs

BUDGET = 60  # nodes shown before folding: readable at a glance; clicking a fold opens it
MAX_NODES = 400  # however much is opened, an interactive view holds at most this many
_layouts: dict[tuple, tuple[viz.Graph, dict]] = {}  # (run file, created, step, direction, expanded) -> graph, dot's layout


def layout(run: str | None = None, step: str | None = None, param: str | None = None, **query: str) -> html.Div:
    return html.Div(
        [
            html.H2("Graph"),
            html.Div(
                [
                    dropdown(ids.GRAPH_RUN, "run", run),
                    dropdown(
                        ids.GRAPH_STEP, "traced step", int(step) if step is not None and step.isdigit() else None, width="10em"
                    ),
                    dcc.RadioItems(id=ids.GRAPH_DIRECTION, options=["forward", "backward"], value="forward", inline=True),
                    html.Span("colour by"),
                    dcc.RadioItems(id=ids.GRAPH_COLOR, options=["time", "bytes", "grad", "kind"], value="time", inline=True),
                ],
                className="controls",
            ),
            html.Div(id=ids.GRAPH_MESSAGE),
            dcc.Store(id=ids.GRAPH_EXPANDED, data=[]),
            dcc.Store(id=ids.GRAPH_SELECTED, data={"param": param}),
            html.Div(
                [
                    dcc.Graph(id=ids.GRAPH_FIG, className="grow", style={"height": "78vh"}, config={"scrollZoom": True}),
                    html.Div(id=ids.GRAPH_CARD, className="side card"),
                ],
                className="row",
            ),  # fmt: skip
        ]
    )


dash.register_page(__name__, path="/graph", name="Graph", order=1, title="Graph", layout=layout)


def traced(reader) -> bool:
    return bool(reader.traced_steps())


@callback(
    Output(ids.GRAPH_RUN, "options"), Output(ids.GRAPH_RUN, "value"), Output(ids.GRAPH_STEP, "options"), Output(ids.GRAPH_STEP, "value"),
    Input(ids.TICK, "n_intervals"), Input(ids.GRAPH_RUN, "value"), State(ids.GRAPH_STEP, "value"),
)  # fmt: skip
def choices(_: int, run: str | None, step: int | None) -> tuple:
    names = readable_runs(traced)
    run = choose(run, names)
    steps = state.catalog().reader(run).traced_steps() if run else []
    return options(names), run, [{"label": f"step {s}", "value": s} for s in steps], choose(step, steps)


def _graph(run: str, step: int, direction: str, expanded: list[str]) -> tuple[viz.Graph, dict]:
    reader = state.catalog().reader(run)
    key = (str(reader.path), reader.meta.get("created"), step, direction, tuple(sorted(expanded)))  # this LOGDIR's run
    if key not in _layouts:  # a traced step never changes: lay it out once
        budget = min(MAX_NODES, BUDGET + 40 * len(expanded))  # each opened module may add its own nodes
        graph = viz.fold(viz.graph_of((reader, step)), budget, expanded)
        if len(graph.nodes) > MAX_NODES:
            raise ValueError(
                f"step {step} opened this far has {len(graph.nodes):,} nodes, more than the {MAX_NODES} a view can draw; "
                "reload the page to fold it again"
            )
        _layouts[key] = (graph, viz.layout(viz.to_dot(graph, direction).source))
    return _layouts[key]


@callback(
    Output(ids.GRAPH_FIG, "figure"), Output(ids.GRAPH_MESSAGE, "children"), Output(ids.GRAPH_FIG, "style"),
    Input(ids.GRAPH_RUN, "value"), Input(ids.GRAPH_STEP, "value"), Input(ids.GRAPH_DIRECTION, "value"),
    Input(ids.GRAPH_EXPANDED, "data"), Input(ids.GRAPH_COLOR, "value"), Input(ids.GRAPH_SELECTED, "data"),
)  # fmt: skip
def draw(run: str | None, step: int | None, direction: str, expanded: list[str], color_by: str, selected: dict) -> tuple:
    if run is None:
        note = no_runs() if not state.catalog().names() else message("no run with a traced step yet")
        return figures.common.empty("no traced step to show yet"), note, no_update
    if step is None:
        return no_update, no_update, no_update
    try:
        graph, drawn = _graph(run, step, direction, expanded)
    except READ_ERRORS as e:
        return figures.common.empty("this run cannot be drawn"), failed(e, 1)[0], no_update
    positions = drawn["nodes"]
    if ctx.triggered_id == ids.GRAPH_COLOR:  # only the colours change: restyle, keep the layout and zoom
        patch = Patch()  # the nodes' markers are the last trace, their boxes the layout's shapes
        for key, value in figures.graph.node_style(graph, color_by).items():
            patch["data"][-1]["marker"][key] = value
        shown = [n for n in graph.nodes if n.id in positions]
        for i, fill in enumerate(figures.graph.node_fills(viz.Graph(shown, []), color_by)):
            patch["layout"]["shapes"][i]["fillcolor"] = fill
        return patch, no_update, no_update
    node = _selected_node(graph, selected)
    fig = figures.graph.graph_figure(
        graph, positions, color_by, node, uirevision=f"{run}/{step}/{direction}", edge_paths=drawn["edges"]
    )
    return fig, None, {"height": f"{fig.layout.height or 450}px"}  # as tall as the graph; the panel scrolls


def _selected_node(graph: viz.Graph, selected: dict | None) -> str | None:
    selected = selected or {}
    if selected.get("node"):
        return selected["node"]
    param = selected.get("param")
    if param:  # arriving from an alert: select the first op that uses this parameter
        return next((n.id for n in graph.nodes if param in n.badges or any(b.split(" ")[0] == param for b in n.badges)), None)
    return None


@callback(
    Output(ids.GRAPH_EXPANDED, "data"), Output(ids.GRAPH_CARD, "children"), Output(ids.GRAPH_SELECTED, "data"),
    Input(ids.GRAPH_FIG, "clickData"),
    State(ids.GRAPH_EXPANDED, "data"), State(ids.GRAPH_RUN, "value"), State(ids.GRAPH_STEP, "value"), State(ids.GRAPH_DIRECTION, "value"),
    prevent_initial_call=True,
)  # fmt: skip
def click(click: dict | None, expanded: list[str], run: str, step: int, direction: str) -> tuple:
    if not click or not click.get("points") or "customdata" not in click["points"][0]:
        return no_update, no_update, no_update
    node_id = click["points"][0]["customdata"]
    try:
        graph, _ = _graph(run, step, direction, expanded)
        node = next((n for n in graph.nodes if n.id == node_id), None)
        if node is None:
            return no_update, no_update, no_update
        if node.kind == "fold":  # open it: its modules stay unfolded from now on
            return sorted(set(expanded) | set(node.prefixes)), card(node, run, step), no_update
        return no_update, card(node, run, step), {"node": node.id}
    except READ_ERRORS as e:  # the run went away (or never was in LOGDIR)
        return no_update, failed(e, 1)[0], no_update


def card(node: viz.GNode, run: str, step: int) -> list:
    """The node's card: what it is, what it computed, how its gradient is formed, and links."""
    ops = state.catalog().reader(run).ops(step)
    info = figures.graph.node_card(node, ops, step=step)
    fields = [("op", info.get("op")), ("module", info.get("module") or "(top level)"), ("output", f"{info.get('shape')} {info.get('dtype')}"),
              ("bytes", figures.common.fmt_bytes(info.get("bytes") or 0)), ("forward time", _ms(info.get("time_ms"))),
              ("backward time", _ms(info.get("backward_ms"))), ("backward", info.get("formula")), ("saved for backward", info.get("saved")),
              ("parameters", ", ".join(info.get("badges") or []) or None), ("gradient statistics", info.get("grad_stats"))]  # fmt: skip
    body = [html.H4(info.get("op"))]
    for label, value in fields:
        if value not in (None, "", [], {}):
            body += [html.Dt(label), html.Dd(_text(value))]
    links = []
    mem = info.get("memory_link")
    if mem:
        links.append(
            dcc.Link("its memory band", href=f"/memory?run={run}&step={mem.get('step', step)}&op={mem.get('op_seq', '')}")
        )
    for p in info.get("gradients_link") or []:
        links.append(dcc.Link(f"{p} in Gradients", href=f"/gradients?run={run}&param={p}"))
    return [html.Dl(body), html.Div(links, style={"display": "flex", "flexDirection": "column", "gap": "0.3em"})]


def _ms(value: float | None) -> str | None:
    return None if value is None else f"{value:.3f} ms"


def _text(value: object) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v:.3g}" if isinstance(v, float) else f"{k}: {v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)
