"""The inspector end to end in headless Chromium, while demo trainings write their runs: the step
counter advances live, every page draws its figures, a click on the graph opens a fold and a
node's card, a corrupt run file is named on the page, and the console stays free of errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import inspector
from scripts import browser

from .inspector_client import free_port

pytestmark = [
    pytest.mark.skipif(not browser.available(), reason="needs Debian's chromium and chromium-driver"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:selenium.*"),  # selenium 4.2 on urllib3 2
]

ROOT = Path(__file__).resolve().parents[1]
BLANK = 150  # pixel variance: an empty figure with its note measures 38-103 (148 a narrow one), a drawn one 230-6000
FIGURES = {
    "": ["runs-loss", "runs-metric", "runs-lr"],
    "graph?run=tiny-transformer": ["graph-fig"],
    "gradients": ["grad-heatmap", "grad-hist"],
    "memory": ["mem-fig", "mem-totals"],
    "attention": ["att-grid"],
    "compare": ["cmp-memory", "cmp-loss", "cmp-time"],
    "profile": ["prof-fig"],
}
POINTS = "#graph-fig .scatterlayer .trace:last-child .point"  # the node markers, in the order of their customdata
STEPS_OF = """const row = [...document.querySelectorAll('#runs-table tbody tr')].find(r => r.cells[0].innerText.trim() === arguments[0]);
return row ? [row.cells[1].innerText.trim(), parseInt(row.cells[2].innerText.replace(/,/g, ''))] : null;"""


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("live")
    (logdir / "corrupt").mkdir()
    (logdir / "corrupt" / "run.sqlite").write_bytes(b"not a run file" * 500)
    demo = [sys.executable, "-m", "inspector.demo"]
    runs = [["spirals-sgd", "--steps", "1000", "--pace", "0.02"], ["spirals-adam", "--steps", "120", "--pace", "0"],
            ["tiny-transformer", "--steps", "4", "--pace", "0"]]  # fmt: skip
    procs = [subprocess.Popen(demo + [r[0], str(logdir)] + r[1:], cwd=ROOT, stderr=subprocess.DEVNULL) for r in runs]
    port = free_port()
    url = inspector.launch(str(logdir), port=port, display=False)
    driver = browser.open_browser()
    profile = driver.capabilities.get("chrome", {}).get("userDataDir")
    try:
        yield url, driver
    finally:
        driver.quit()
        if profile and Path(profile).name.startswith("tt-chromium-"):
            shutil.rmtree(profile, ignore_errors=True)  # open_browser's profile (~20 MB) would stay in /tmp
        inspector.stop(port)
        for proc in procs:
            proc.kill()
            proc.wait(timeout=10)


def until(check, timeout: float = 30.0, what: str = ""):
    end = time.time() + timeout
    while time.time() < end:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"{what} not within {timeout} s")


def test_the_step_counter_advances_live(live):
    url, driver = live
    driver.get(url)
    first = until(lambda: (s := driver.execute_script(STEPS_OF, "spirals-sgd")) and s[0] == "running" and s[1] >= 5 and s,
                  what="spirals-sgd running on the Runs page")  # fmt: skip
    driver.execute_script("window.notReloaded = true")
    time.sleep(3.5)  # two refreshes of the one dcc.Interval (1.5 s); a busy machine may need more
    later = until(lambda: (s := driver.execute_script(STEPS_OF, "spirals-sgd")) and s[1] > first[1] and s, 20, "a step more")
    assert driver.execute_script("return window.notReloaded === true") and later[0] == "running", (first, later)


def test_a_corrupt_run_file_is_named_and_the_others_still_show(live):
    url, driver = live
    driver.get(url)
    errors = "return [...document.querySelectorAll('#runs-message .message.error')].map(e => e.innerText)"  # redrawn each refresh
    (error,) = until(lambda: driver.execute_script(errors), what="the message about the corrupt file")
    assert error.startswith("corrupt: ") and "corrupt/run.sqlite is not a readable tinytorch run file" in error
    assert driver.execute_script(STEPS_OF, "corrupt")[0] == "unreadable"
    assert until(lambda: driver.execute_script(STEPS_OF, "spirals-adam"), what="spirals-adam listed")[1] > 0


def test_every_page_draws_non_blank_figures(live):
    url, driver = live
    for path, ids in FIGURES.items():
        driver.get(url + path)
        browser.wait_for_plots(driver, ids)
        for figure in ids:  # element_png keeps only what is in the viewport: bring the figure there first
            driver.execute_script("document.getElementById(arguments[0]).scrollIntoView({block: 'start'})", figure)
            variance = browser.pixel_variance(browser.element_png(driver, figure))
            assert variance > BLANK, f"{figure} on /{path} looks blank (pixel variance {variance:.0f})"
        if path:  # only Runs names the corrupt file; the other pages just leave it out
            assert [e.text for e in driver.find_elements("css selector", ".message.error")] == [], path


def click(driver, element) -> None:
    """A real mouse click (plotly finds the point under the pointer)."""
    from selenium.webdriver.common.action_chains import ActionChains

    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    ActionChains(driver).move_to_element(element).click().perform()


def click_node(driver, predicate) -> str | None:
    """Click the first graph node whose id satisfies predicate; returns its id."""
    from selenium.common.exceptions import StaleElementReferenceException

    for attempt in range(3):  # a refresh may redraw the markers under us
        points = browser.wait_for(driver, POINTS)
        ids = driver.execute_script("return document.querySelector('#graph-fig .js-plotly-plot').data.slice(-1)[0].customdata")
        assert len(ids) == len(points)
        i = next(k for k, node in enumerate(ids) if predicate(node))
        try:
            click(driver, points[i])
            return ids[i]
        except StaleElementReferenceException:
            if attempt == 2:
                raise


def test_clicking_the_graph_opens_a_fold_and_a_node_card(live):
    url, driver = live
    driver.get(url + "graph?run=tiny-transformer")
    browser.wait_for_plots(driver, ["graph-fig"])
    before = len(browser.wait_for(driver, POINTS))
    fold = click_node(driver, lambda node: node.startswith("fold-"))
    until(lambda: len(driver.find_elements("css selector", POINTS)) > before, 20, f"more nodes after opening {fold}")
    card = driver.find_element("id", "graph-card")
    assert card.text.startswith(fold.removeprefix("fold-"))  # a fold's card: the module, and the ops inside
    js = "const t = document.querySelector('#graph-fig .js-plotly-plot').data.slice(-1)[0]; return [t.customdata, t.text]"
    ops = dict(zip(*driver.execute_script(js)))
    node = click_node(driver, lambda node: ops[node] == "Add")
    until(lambda: card.text.startswith(ops[node]) and "backward" in card.text, 20, f"the card of {node}")
    assert "its memory band" in card.text


def test_clicking_an_attention_map_enlarges_it(live):
    url, driver = live
    driver.get(url + "attention")
    browser.wait_for_plots(driver, ["att-grid"])
    click(driver, browser.wait_for(driver, "#att-grid .nsewdrag", count=6)[5])  # layer 1, head 1
    browser.wait_for_plots(driver, ["att-single"])
    title = "return document.querySelector('#att-single .js-plotly-plot').layout.title.text"
    until(lambda: (driver.execute_script(title) or "").startswith("blocks.1.attn, head 1, step"), 10, "the enlarged map")


def test_links_open_the_run_they_name(live):
    """The Runs table, alerts and node cards link to /graph?run=..., /gradients?run=...&param=...,
    /memory?run=...&step=...: the page must show that run, not the newest."""
    url, driver = live
    links = {("graph?run=tiny-transformer", "graph-fig"): {"graph-run": "tiny-transformer"},
             ("gradients?run=spirals-adam&param=2.weight", "grad-hist"): {"grad-run": "spirals-adam", "grad-param": "2.weight"},
             ("memory?run=spirals-adam&step=1", "mem-fig"): {"mem-run": "spirals-adam", "mem-step": "step 1"}}  # fmt: skip
    for (link, figure), shown in links.items():
        driver.get(url + link)
        browser.wait_for_plots(driver, [figure])
        time.sleep(1.6)  # and a refresh
        assert {picker: driver.find_element("id", picker).text for picker in shown} == shown, link


def test_the_console_has_no_errors(live):
    url, driver = live
    driver.get(url + "memory")  # and every page before this test
    browser.wait_for_plots(driver, ["mem-fig"])
    assert browser.console_errors(driver) == []
