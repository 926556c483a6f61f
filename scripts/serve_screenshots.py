"""Screenshots of `advnets serve`'s views, for docs/after-training.md, taken in headless Chromium.

    python scripts/serve_screenshots.py RUNS_FOLDER RUN OTHER_RUN --out docs/figures

Serves RUNS_FOLDER on 127.0.0.1, opens the list of runs, RUN (its curves and grids, then its
generator with an interpolation and the nearest-neighbour view drawn) and RUN beside OTHER_RUN,
and writes serve-runs.png, serve-run.png, serve-generator.png and serve-compare.png. Needs the web
extra, selenium, and Debian's chromium and chromium-driver. `chromium()` is also how the tests
drive the page.
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# the flags a headless Chromium needs on a machine with no display and no network beyond it
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage")  # fmt: skip


def chromium(width: int = 1200, height: int = 1000):
    """A Selenium driver of the system's Chromium, its console log kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def wait(driver, condition: str, what: str, timeout: float = 60) -> None:
    """Until the JavaScript `condition` returns true."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(lambda d: d.execute_script(condition), message=what)


def loaded(image_id: str) -> str:
    """A condition: the image is shown and has its pixels."""
    return (
        f"const i = document.getElementById('{image_id}');"
        "return !i.hidden && i.complete && i.naturalWidth > 0"
    )


def main() -> None:
    import uvicorn

    from advnets.web.app import create_app

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs")
    ap.add_argument("run")
    ap.add_argument("other")
    ap.add_argument("--out", default="docs/figures")
    args = ap.parse_args()
    server = uvicorn.Server(uvicorn.Config(create_app(args.runs), port=0, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    out = Path(args.out)
    driver = chromium(1200, 1300)
    try:
        driver.get(url + "/")
        wait(driver, "return document.body.dataset.ready === 'yes'", "the list")
        driver.save_screenshot(str(out / "serve-runs.png"))
        driver.get(f"{url}/#run={args.run}")
        driver.refresh()
        wait(driver, loaded("grid-image"), "the grids")
        wait(driver, loaded("samples"), "the samples")
        driver.save_screenshot(str(out / "serve-run.png"))
        driver.find_element("id", "interpolate").click()
        wait(driver, loaded("interpolation"), "the interpolation")
        driver.find_element("id", "neighbours-button").click()
        wait(driver, loaded("neighbours"), "the neighbours")
        driver.execute_script("document.getElementById('play-panel').scrollIntoView()")
        driver.save_screenshot(str(out / "serve-generator.png"))
        driver.get(f"{url}/#compare={args.run},{args.other}")
        driver.refresh()
        wait(
            driver,
            "return document.querySelectorAll('#compare-chart polyline').length === 2",
            "curves",
        )
        driver.save_screenshot(str(out / "serve-compare.png"))
    finally:
        driver.quit()
        server.should_exit = True


if __name__ == "__main__":
    main()
