"""The inspector's speed, measured in headless Chromium against a real server:

1. time to first render of the Graph page for the largest graph the examples produce (folded):
   from navigation to the graph drawn in the browser;
2. time from a step being written to it being shown (the Runs page's step count, live);
3. time to open a run with one million memory events: reading them and drawing the Memory page.

Goals: under 3 s, under 2 s, under 5 s.

    python benchmarks/bench_inspector.py [--run runs/shakespeare-gpt] [--step 0] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import inspector  # noqa: E402
from scripts.browser import open_browser, wait_for_plots  # noqa: E402
from tinytorch import viz  # noqa: E402
from tinytorch.runs import RunReader, RunWriter  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def largest_graph(logdir: Path, step: int) -> tuple[str, int]:
    """The run in logdir whose traced step has the most forward ops."""
    best = ("", 0)
    for run in sorted(p.parent for p in logdir.glob("*/run.sqlite")):
        try:
            n = len(RunReader(run).ops(step, "forward"))
        except Exception:
            continue
        if n > best[1]:
            best = (run.name, n)
    if not best[0]:
        raise SystemExit(
            f"no traced step {step} in any run under {logdir}: run an example first (e.g. examples/shakespeare_gpt.py)"
        )
    return best


def graph_render(url: str, run: str, step: int, repeats: int) -> list[float]:
    """Seconds from navigating to /graph?run=...&step=... to the graph drawn (a fresh server cache each time)."""
    from inspector.views import graph as graph_view

    times = []
    driver = open_browser()
    try:
        for _ in range(repeats):
            graph_view._layouts.clear()  # the first render of this graph: layout computed afresh
            start = time.perf_counter()
            driver.get(f"{url}graph?run={run}&step={step}")
            wait_for_plots(driver, ["graph-fig"], timeout=60)
            times.append(time.perf_counter() - start)
    finally:
        driver.quit()
    return times


WRITER = textwrap.dedent(
    """
    import json, random, sys, time
    import tinytorch as tt
    from tinytorch import nn
    logdir, steps = sys.argv[1], int(sys.argv[2])
    model = nn.Linear(4, 2)
    opt = tt.optim.SGD(model.parameters(), lr=0.1)
    run = tt.record(logdir + "/live", model=model, optimizer=opt, trace_steps=())
    for step in range(steps):
        time.sleep(random.uniform(0.5, 1.5))
        loss = model(tt.randn(3, 4)).sum()
        opt.zero_grad(); loss.backward(); opt.step()
        run.step(loss)
        print(json.dumps({"step": step, "written": time.time()}), flush=True)
    run.close()
    """
)


ROW_TEXTS = """return Array.from(document.querySelectorAll('#runs-table tr'),
                           r => Array.from(r.querySelectorAll('td'), c => c.innerText.trim()));"""


def step_latency(url: str, logdir: Path, steps: int) -> list[float]:
    """For each step a writer process commits: seconds until the Runs page shows it.

    The page is polled throughout (every 50 ms); a step counts as shown when the table's step
    count first reaches it (the page refreshes every 1.5 s, so it may jump over a count)."""
    import threading

    driver = open_browser()
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(logdir), str(steps)], stdout=subprocess.PIPE, text=True)
    written: dict[int, float] = {}
    reader = threading.Thread(target=lambda: written.update((d["step"], d["written"]) for d in map(json.loads, proc.stdout)))
    reader.start()
    shown: dict[int, float] = {}  # steps shown -> when first seen
    try:
        driver.get(url)
        end = None
        while end is None or time.time() < end:
            row = next((c for c in driver.execute_script(ROW_TEXTS) if c and c[0] == "live"), None)
            if row is not None and row[2].isdigit():
                shown.setdefault(int(row[2]), time.time())
            if end is None and not reader.is_alive():
                end = time.time() + 10  # the last step has 10 s to appear
            if len(written) == steps and max(shown, default=0) >= steps:
                break
            time.sleep(0.05)
    finally:
        proc.kill()
        reader.join(timeout=5)
        driver.quit()
    latencies = []
    for step, at in sorted(written.items()):
        seen = [t for count, t in shown.items() if count >= step + 1]  # the table's steps column counts steps
        if not seen:
            raise SystemExit(f"step {step} never appeared on the Runs page within 10 s of the last step")
        latencies.append(min(seen) - at)
    return latencies


def million_events(logdir: Path, n: int = 1_000_000, repeats: int = 3) -> list[float]:
    """Write one traced step with n memory events; then, `repeats` times, seconds to read them
    afresh and draw the Memory page's figure (nothing cached between the opens)."""
    from inspector import figures

    writer = RunWriter(logdir, "million")
    rng = np.random.default_rng(0)
    categories = ["activation", "temporary", "gradient", "parameter"]
    rows, live = [], []
    for seq in range(n):  # allocations and frees of buffers, as a long traced step makes them:
        phase = "forward" if seq < n // 2 else "backward" if seq < 0.9 * n else "optimizer"  # in that order
        if live and (rng.random() < 0.5 or len(live) > 2000):
            buf = live.pop(int(rng.integers(len(live))))
            rows.append((0, seq, "free", buf, 4096, None, None, None, "[1024]", "float32", phase, None))
        else:
            buf = seq + 1
            live.append(buf)
            rows.append(
                (0, seq, "alloc", buf, 4096, categories[seq % 4], f"output of Op#{seq}", seq, "[1024]", "float32", phase, "m")
            )
    writer.add("events", rows)
    writer.add("steps", [(0, time.time(), 1.0, 1.0, 0.1, 1)])
    writer.commit()
    writer.close()
    times = []
    for _ in range(repeats):
        figures.memory._cache.clear()  # the figure module keeps its last replay
        start = time.perf_counter()
        events = RunReader(writer.dir).memory_events(0)
        fig = figures.memory.timeline(events, mode="category")
        json.dumps(fig.to_plotly_json(), default=str)  # what the server sends
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--logdir", default=str(ROOT / "runs"), help="runs written by the examples (the largest traced graph is used)")
    p.add_argument("--step", type=int, default=0)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--steps", type=int, default=15, help="steps the live writer commits")
    p.add_argument("--json")
    args = p.parse_args()

    run, ops = largest_graph(Path(args.logdir), args.step)
    reader = RunReader(Path(args.logdir) / run)
    folded = viz.fold(viz.graph_of((reader, args.step)), 60)
    port = free_port()
    url = inspector.launch(args.logdir, port=port, display=False)
    render = graph_render(url, run, args.step, args.repeats)
    inspector.stop(port)
    print(f"1. Graph page, first render of {run} step {args.step} ({ops} forward ops, {len(folded.nodes)} nodes folded): "
          f"median {statistics.median(render):.2f} s (min {min(render):.2f}, max {max(render):.2f}; goal < 3 s)")  # fmt: skip

    live_dir = Path(tempfile.mkdtemp(prefix="tt-live-"))
    port = free_port()
    url = inspector.launch(str(live_dir), port=port, display=False)
    latency = step_latency(url, live_dir, args.steps)
    inspector.stop(port)
    print(f"2. step written -> shown: median {statistics.median(latency):.2f} s, max {max(latency):.2f} s over {len(latency)} steps "
          f"(refresh every 1.5 s; goal < 2 s)")  # fmt: skip

    opens = million_events(Path(tempfile.mkdtemp(prefix="tt-million-")))
    print(f"3. a run with 1,000,000 memory events, read and drawn: median {statistics.median(opens):.2f} s of {len(opens)} opens "
          f"(min {min(opens):.2f}, max {max(opens):.2f}; goal < 5 s)")  # fmt: skip
    if args.json:
        Path(args.json).write_text(
            json.dumps({"graph_render_s": render, "step_latency_s": latency, "million_events_s": opens}, indent=2)
        )


if __name__ == "__main__":
    main()
