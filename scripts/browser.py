"""Headless Chromium for the end-to-end tests and the README screenshots (Debian's chromium and
chromium-driver; as root Chromium needs --no-sandbox; the machine has no internet, so nothing
may phone home)."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1500,1000"]  # fmt: skip


def available() -> bool:
    return shutil.which("chromium") is not None and shutil.which("chromedriver") is not None


def open_browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in FLAGS + [f"--user-data-dir={tempfile.mkdtemp(prefix='tt-chromium-')}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def wait_for(driver: Any, css: str, timeout: float = 30.0, count: int = 1) -> list:
    """The elements matching css once at least `count` exist (and Dash is not loading)."""
    from selenium.webdriver.common.by import By

    end = time.time() + timeout
    while time.time() < end:
        found = driver.find_elements(By.CSS_SELECTOR, css)
        loading = driver.find_elements(By.CSS_SELECTOR, "[data-dash-is-loading='true']")
        if len(found) >= count and not loading:
            return found
        time.sleep(0.2)
    raise TimeoutError(f"no {count} x {css!r} after {timeout} s on {driver.current_url}")


def wait_for_plots(driver: Any, ids: list[str], timeout: float = 40.0) -> None:
    """Every dcc.Graph with these ids has drawn at least one trace."""
    end = time.time() + timeout
    script = "return (document.getElementById(arguments[0])||{}).querySelector ? !!document.getElementById(arguments[0]).querySelector('.main-svg .trace, .main-svg .hm, .main-svg .imagelayer image, .main-svg .bars') : false"
    pending = list(ids)
    while pending and time.time() < end:
        pending = [i for i in pending if not driver.execute_script(script, i)]
        time.sleep(0.3)
    if pending:
        raise TimeoutError(f"figures {pending} drew nothing within {timeout} s on {driver.current_url}")


def pixel_variance(png: bytes) -> float:
    """How far a screenshot is from blank (variance of its grey levels)."""
    import io

    import numpy as np
    from PIL import Image

    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float64)
    return float(grey.var())


def element_png(driver: Any, element_id: str) -> bytes:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id).screenshot_as_png


def console_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def save(driver: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
