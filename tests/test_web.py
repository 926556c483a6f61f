"""`advnets serve`: the endpoints on a real server on 127.0.0.1, the bounds of every request, that
nothing is written, a clean stop on Ctrl-C, and the page itself in a real headless Chromium."""

import http.client
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the web extra (pip install 'advnets[web]')")
uvicorn = pytest.importorskip("uvicorn", reason="the web extra (pip install 'advnets[web]')")

from advnets.web.app import MAX_QUERY, MAX_SAMPLES, create_app  # noqa: E402
from helpers import TINY, advnets  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from serve_screenshots import CHROMEDRIVER, CHROMIUM, chromium, loaded, wait  # noqa: E402


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """A folder of runs: an averaged run with two checkpoints and five sample grids (evaluated),
    a conditional run, a ring-2d run, and a generator file exported from the first."""
    root = tmp_path_factory.mktemp("runs")
    advnets("train", *TINY, "--train.epochs", "5", "--train.batch_size", "200", "--optim.name",
            "adam", "--optim.lr", "0.005", "--average.kind", "ema", "--average.half_life", "10",
            "--out", root / "digits")  # fmt: skip
    advnets("evaluate", root / "digits", "--samples", "200", "--valid-rows", "200", "--no-progress")
    advnets("train", *TINY, "--train.max_steps", "4", "--condition.kind", "concat",
            "--out", root / "conditional")  # fmt: skip
    advnets("train", "--preset", "ring-2d", "--data.toy_size", "500", "--train.max_steps", "4",
            "--no-progress", "--out", root / "ring")  # fmt: skip
    advnets("export", root / "digits", "--out", root / "digits.advnets")
    return root


class Served:
    """A real uvicorn server on 127.0.0.1 (a free port), in a thread of this process."""

    def __init__(self, root: Path):
        config = uvicorn.Config(create_app(root), host="127.0.0.1", port=0, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            assert time.time() < deadline and self.thread.is_alive(), "the server did not start"
            time.sleep(0.02)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> tuple[int, bytes, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=60) as r:
                return r.status, r.read(), r.headers.get("content-type", "")
        except urllib.error.HTTPError as err:
            return err.code, err.read(), err.headers.get("content-type", "")

    def json(self, path: str):
        status, body, _ = self.get(path)
        assert status == 200, body
        return json.loads(body)

    def stop(self):
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def served(runs):
    s = Served(runs)
    yield s
    s.stop()


def _tree(root: Path) -> dict:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


def test_the_list_of_runs(served, runs):
    listing = served.json("/api/entries")
    by_name = {e["name"]: e for e in listing["entries"]}
    assert sorted(by_name) == ["conditional", "digits", "digits.advnets", "ring"]
    digits = by_name["digits"]
    latest = (runs / "digits" / "checkpoints" / "latest").read_text().strip()
    assert digits["kind"] == "run" and digits["data"] == "digits"
    assert digits["step"] == int(latest.split("-")[1]) and digits["checkpoints"][-1] == latest
    assert digits["preset"] and digits["averaged"] and len(digits["checkpoints"]) == 2
    assert "parzen" in digits["evaluations"][latest]["metrics"]
    assert by_name["digits.advnets"]["kind"] == "file"
    assert by_name["digits.advnets"]["step"] == digits["step"]
    assert by_name["conditional"]["conditional"] and by_name["ring"]["preset"] == "ring-2d"


def test_curves_and_grids(served, runs):
    curves = served.json("/api/entries/digits/curves")
    rows = [
        json.loads(line) for line in (runs / "digits" / "metrics.jsonl").read_text().splitlines()
    ]
    assert curves["step"] == [r["step"] for r in rows if not r.get("partial")]
    assert curves["series"]["d_loss"] == [r["d_loss"] for r in rows if not r.get("partial")]
    grids = served.json("/api/entries/digits/grids")["grids"]
    assert grids == sorted(p.name for p in (runs / "digits" / "samples").glob("epoch-*.png"))
    assert len(grids) == 5
    status, body, kind = served.get(f"/api/entries/digits/grids/{grids[0]}")
    assert status == 200 and kind == "image/png"
    assert body == (runs / "digits" / "samples" / grids[0]).read_bytes()
    assert served.get("/api/entries/digits/grids/config.json")[0] == 404
    assert served.get("/api/entries/digits.advnets/curves")[0] == 200  # a file: no curves


def test_samples_follow_seed_truncation_class_and_checkpoint(served):
    earlier = served.json("/api/entries")["entries"][1]["checkpoints"][0]

    def png(query):
        status, body, kind = served.get("/api/entries/" + query)
        assert status == 200 and kind == "image/png", body
        return body

    first = png("digits/samples.png?seed=1")
    assert png("digits/samples.png?seed=1") == first  # drawn again, the same
    assert png("digits/samples.png?seed=2") != first
    assert png("digits/samples.png?seed=1&truncation=0.5") != first
    assert png("digits/samples.png?seed=1&weights=last") != first
    assert png(f"digits/samples.png?seed=1&checkpoint={earlier}") != first
    # the file exported from the run draws the run's samples
    assert png("digits.advnets/samples.png?seed=1") == first
    assert png("conditional/samples.png?seed=1&label=3") != png(
        "conditional/samples.png?seed=1&label=4"
    )
    assert png("digits/interpolation.png?seed_a=1&seed_b=2&steps=5")
    assert png("digits/neighbours.png?seed=1&rows=2&cols=3")
    assert png("ring/samples.png?seed=1&n=200")  # points: a scatter plot
    model = served.json("/api/entries/conditional/model")
    assert model["num_classes"] == 10 and model["image_shape"] == [8, 8]


@pytest.mark.parametrize(
    ("query", "status", "says"),
    [
        (f"digits/samples.png?n={MAX_SAMPLES + 1}", 400, f"expected 1 to {MAX_SAMPLES}"),
        ("digits/samples.png?seed=-1", 400, "seed"),
        ("digits/samples.png?truncation=2", 400, "truncation"),
        ("digits/samples.png?truncation=nan", 400, "finite"),
        ("digits/samples.png?n=ten", 400, "expected a int"),
        ("digits/samples.png?label=3", 400, "not a class-conditional model"),
        ("conditional/samples.png?label=10", 400, "not a class of this model"),
        ("digits/samples.png?weights=best", 400, "average or last"),
        ("digits/samples.png?checkpoint=step-9", 404, "no complete checkpoint"),
        ("digits/interpolation.png?steps=17", 400, "steps"),
        ("ring/neighbours.png", 400, "points"),
        ("nothing/samples.png", 404, "no run or generator file"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(served, query, status, says):
    got, body, kind = served.get("/api/entries/" + query)
    assert got == status and kind == "application/json"
    assert says in json.loads(body)["error"]


def test_requests_are_bounded(served):
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    for method, body in (("POST", b"x"), ("PUT", b""), ("DELETE", None), ("GET", b"a" * 10)):
        conn.request(method, "/api/entries", body=body)
        response = conn.getresponse()
        response.read()
        assert response.status == (413 if method == "GET" else 405), method
    conn.close()
    assert served.get("/api/entries?" + "q" * (MAX_QUERY + 1))[0] == 414


def test_concurrent_requests_all_answered(served):
    results = []

    def fetch(seed):
        results.append(served.get(f"/api/entries/digits/samples.png?seed={seed}")[0])

    threads = [threading.Thread(target=fetch, args=(s,)) for s in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 12


def test_nothing_is_written(runs, served):
    before = _tree(runs)
    for path in ("/", "/api/entries", "/api/entries/digits/curves", "/api/entries/digits/model",
                 "/api/entries/digits/samples.png?seed=9", "/api/entries/digits/neighbours.png",
                 "/api/entries/digits.advnets/samples.png"):  # fmt: skip
        assert served.get(path)[0] == 200
    assert _tree(runs) == before


def test_a_damaged_run_is_listed_with_its_fault(runs, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(runs / "ring", root / "ring")
    shutil.copytree(runs / "ring", root / "broken")
    (root / "broken" / "config.json").write_text("{not json")
    (root / "fake.advnets").write_bytes(b"not a generator file")
    s = Served(root)
    try:
        listing = {e["name"]: e for e in s.json("/api/entries")["entries"]}
        assert sorted(listing) == ["broken", "fake.advnets", "ring"]
        assert "config.json" in listing["broken"]["error"]
        assert "not a readable safetensors file" in listing["fake.advnets"]["error"]
        assert "error" not in listing["ring"] and listing["ring"]["step"] == 4
        status, body, _ = s.get("/api/entries/fake.advnets/samples.png")
        assert status == 422 and "safetensors" in json.loads(body)["error"]
    finally:
        s.stop()


def test_a_generator_file_alone(runs, tmp_path):
    only = tmp_path / "g.advnets"
    shutil.copy(runs / "digits.advnets", only)
    s = Served(only)
    try:
        assert [e["name"] for e in s.json("/api/entries")["entries"]] == ["g.advnets"]
        assert s.get("/api/entries/g.advnets/samples.png?seed=4")[0] == 200
    finally:
        s.stop()


def test_ctrl_c_stops_the_server(runs):
    proc = subprocess.Popen(
        [sys.executable, "-m", "advnets", "serve", str(runs), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = proc.stdout.readline()
    assert "serving" in line and "127.0.0.1" in line
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


# ---- the page in a real browser -------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
        pytest.skip(
            "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        )
    pytest.importorskip("selenium", reason="selenium (the test extra)")
    driver = chromium()
    yield driver
    driver.quit()


def _pixels(driver, image_id: str) -> str:
    """The image's pixels, as the page shows them (a data URL of a canvas copy)."""
    return driver.execute_script(
        "const img = document.getElementById(arguments[0]);"
        "const c = document.createElement('canvas'); c.width = img.naturalWidth;"
        "c.height = img.naturalHeight; c.getContext('2d').drawImage(img, 0, 0);"
        "return c.toDataURL();",
        image_id,
    )


def _screenshot(driver, name: str, tmp_path: Path) -> None:
    driver.save_screenshot(str(tmp_path / f"serve-{name}.png"))  # to look at when a test fails


def test_the_page_in_a_browser(browser, served, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(served.url + "/")
    wait(browser, "return document.body.dataset.ready === 'yes'", "the list never loaded")
    rows = browser.find_elements(By.CSS_SELECTOR, "#entries tbody tr")
    assert len(rows) == 4 and "parzen" in rows[1].text
    _screenshot(browser, "runs", tmp_path)

    browser.get(served.url + "/#run=digits")
    browser.refresh()
    wait(browser, loaded("samples"), "the samples never appeared")
    wait(browser, loaded("grid-image"), "the sample grid never appeared")
    assert browser.find_elements(By.CSS_SELECTOR, "#chart polyline")  # the curves are drawn
    _screenshot(browser, "run", tmp_path)

    # the slider shows another grid
    shown = _pixels(browser, "grid-image")
    browser.execute_script("const s = document.getElementById('grid-slider'); s.value = 0;"
                           "s.dispatchEvent(new Event('input'));")  # fmt: skip
    wait(browser, loaded("grid-image"), "the first grid never appeared")
    wait(
        browser,
        "return document.getElementById('grid-name').textContent.includes('0001')",
        "no epoch 1",
    )
    time.sleep(0.3)
    assert _pixels(browser, "grid-image") != shown

    # another seed, other samples
    before = _pixels(browser, "samples")
    seed = browser.find_element(By.ID, "seed")
    seed.clear()
    seed.send_keys("5")
    browser.execute_script("document.getElementById('seed').dispatchEvent(new Event('change'))")
    wait(browser, "return document.getElementById('samples').src !== '' ", "no samples")
    deadline = time.time() + 30
    while _pixels(browser, "samples") == before and time.time() < deadline:
        time.sleep(0.1)
    assert _pixels(browser, "samples") != before

    # the interpolation row appears
    browser.find_element(By.ID, "interpolate").click()
    wait(browser, loaded("interpolation"), "the interpolation never appeared")
    width, height = browser.execute_script(
        "const i = document.getElementById('interpolation');"
        "return [i.naturalWidth, i.naturalHeight]"
    )
    assert width > 5 * height  # one row of ten images
    browser.find_element(By.ID, "neighbours-button").click()
    wait(browser, loaded("neighbours"), "the neighbours never appeared")
    _screenshot(browser, "generator", tmp_path)

    # a conditional run has a class picker
    browser.get(served.url + "/#run=conditional")
    browser.refresh()
    wait(browser, loaded("samples"), "the conditional samples never appeared")
    assert browser.find_element(By.ID, "label-box").is_displayed()
    Select(browser.find_element(By.ID, "label")).select_by_value("7")
    wait(browser, loaded("samples"), "no samples of class 7")

    # two runs compared
    browser.get(served.url + "/#compare=digits,conditional")
    browser.refresh()
    wait(browser, "return document.querySelectorAll('#compare-chart polyline').length === 2",
          "the two curves never appeared")  # fmt: skip
    assert "parzen" in browser.find_element(By.ID, "compare-metrics").text
    _screenshot(browser, "compare", tmp_path)

    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == [], severe
