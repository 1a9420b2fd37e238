"""Regenerate the README screenshots from a real demo run: train the four demo runs (no
download), serve the inspector, open each page in headless Chromium at 1500x1000, wait for its
figures (on the Graph page, click a node so its card shows) and save docs/screenshots/<page>.png.

    python scripts/screenshots.py [--steps 300] [--out docs/screenshots] [--logdir DIR]

--logdir trains into DIR and keeps it; when DIR already holds the four runs, only shoots.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import inspector  # noqa: E402
from inspector import demo  # noqa: E402
from scripts import browser  # noqa: E402

# page -> (path with the runs that show it best, the figures to wait for)
SHOTS = {
    "runs": ("", ["runs-loss", "runs-metric", "runs-lr"]),
    "graph": ("graph?run=tiny-transformer", ["graph-fig"]),
    "gradients": ("gradients?run=tiny-transformer&param=blocks.0.attn.qkv.weight", ["grad-heatmap", "grad-hist"]),
    "memory": ("memory?run=spirals-adam&step=1", ["mem-fig", "mem-totals"]),
    "attention": ("attention?run=tiny-transformer", ["att-grid"]),
    "compare": ("compare?a=spirals-sgd&b=spirals-adam", ["cmp-memory", "cmp-loss", "cmp-time"]),
    "profile": ("profile?run=tiny-transformer", ["prof-fig"]),
}
FOLD, NODE = "fold-blocks.0.attn", "Linear"  # the Graph shot opens this fold and shows this op's card (its first)


def train(logdir: Path, steps: int) -> None:
    """The four demo trainings, as fast as they go; raises if one fails."""
    procs = demo.start(logdir, steps=steps, pace=0)
    for name, proc in zip(demo.RUNS, procs):
        _, err = proc.communicate()
        if proc.returncode:
            raise RuntimeError(f"demo {name} failed ({proc.returncode}):\n{err}")
        print(f"trained {name}")


def until(check, what: str, timeout: float = 20.0) -> None:
    end = time.time() + timeout
    while not check():
        if time.time() > end:
            raise RuntimeError(f"{what} did not happen within {timeout} s")
        time.sleep(0.2)


def click(driver, element) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    ActionChains(driver).move_to_element(element).click().perform()


POINTS = "#graph-fig .scatterlayer .trace:last-child .point"  # the graph's node markers, in data order
NODES = "const t = document.querySelector('#graph-fig .js-plotly-plot').data.slice(-1)[0]; return [t.customdata, t.text]"


def click_node(driver, pick) -> None:
    """Click the node at index pick(ids, ops) (again if a refresh redrew the markers meanwhile)."""
    from selenium.common.exceptions import StaleElementReferenceException

    for attempt in range(3):
        ids, ops = driver.execute_script(NODES)
        try:
            return click(driver, browser.wait_for(driver, POINTS, count=len(ids))[pick(ids, ops)])
        except StaleElementReferenceException:
            if attempt == 2:
                raise


def open_fold_and_card(driver, fold: str, op: str) -> None:
    """With the mouse: open a fold of the graph, then click the first node of `op` for its card."""
    shown = len(driver.execute_script(NODES)[0])
    click_node(driver, lambda ids, ops: ids.index(fold))
    until(lambda: len(driver.find_elements("css selector", POINTS)) > shown, f"opening {fold}")
    click_node(driver, lambda ids, ops: ops.index(op))
    card = driver.find_element("id", "graph-card")
    until(lambda: card.text.startswith(op), f"the card of {op}")


def shoot(url: str, out: Path) -> list[Path]:
    driver = browser.open_browser()
    profile = driver.capabilities.get("chrome", {}).get("userDataDir")
    saved = []
    try:
        for name, (path, figures) in SHOTS.items():
            driver.get(url + path)
            browser.wait_for_plots(driver, figures)
            if name == "graph":
                open_fold_and_card(driver, FOLD, NODE)
            time.sleep(2.0)  # a refresh of the live view, and plotly's transitions, settle
            driver.execute_script("window.scrollTo(0, 0)")
            errors = [e.text for e in driver.find_elements("css selector", ".message.error")]
            if errors:
                raise RuntimeError(f"/{path} shows an error: {errors}")
            browser.save(driver, out / f"{name}.png")
            saved.append(out / f"{name}.png")
            print(f"saved {out / name}.png")
        if browser.console_errors(driver):
            raise RuntimeError(f"browser console errors: {browser.console_errors(driver)}")
    finally:
        driver.quit()
        if profile and Path(profile).name.startswith("tt-chromium-"):
            shutil.rmtree(profile, ignore_errors=True)  # open_browser's profile would stay in /tmp
    return saved


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=300, help="training steps of each demo run")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    p.add_argument("--logdir", type=Path, default=None, help="train into this directory and keep it (default: a temporary one)")
    args = p.parse_args(argv)
    if args.steps < 50:
        p.error("--steps must be at least 50: the demo logs validation accuracy every 50 steps")
    if not browser.available():
        sys.exit("needs chromium and chromedriver (Debian: apt install chromium chromium-driver)")
    work = None if args.logdir else Path(tempfile.mkdtemp(prefix="tinytorch-screenshots-"))
    logdir = args.logdir or work / "runs"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        if not all((logdir / name / "run.sqlite").is_file() for name in demo.RUNS):
            train(logdir, args.steps)
        url = inspector.launch(str(logdir), port=port, display=False)
        shoot(url, args.out)
    finally:
        inspector.stop(port)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
