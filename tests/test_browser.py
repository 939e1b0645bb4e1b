"""The whole path in a real browser: Debian's Chromium drives the app served on 127.0.0.1.

Mandatory in CI (.ci/run installs Chromium and sets EXPLORER_REQUIRE_BROWSER=1); skipped locally, with the
reason printed, when no Chromium is installed.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from explorer.cost import compute_cost
from explorer.fmt import si, size
from explorer.presets import get_preset

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
REQUIRED = os.environ.get("EXPLORER_REQUIRE_BROWSER") == "1"

pytestmark = pytest.mark.browser
if not (CHROMIUM and DRIVER) and not REQUIRED:
    pytestmark = [
        pytest.mark.browser,
        pytest.mark.skip(
            reason="no chromium/chromedriver here (apt-get install chromium chromium-driver); CI runs this test"
        ),
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    port = _free_port()
    env = {**os.environ, "EXPLORER_DATA_DIR": str(tmp_path_factory.mktemp("data"))}
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.address", "127.0.0.1",
           "--server.port", str(port), "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]  # fmt: skip
    log = open(tmp_path_factory.mktemp("log") / "streamlit.log", "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).status == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, "streamlit exited early; see its log"
            assert time.monotonic() < deadline, "streamlit did not become healthy in 60 s"
            time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM or "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1400"):  # fmt: skip
        opts.add_argument(flag)
    d = webdriver.Chrome(service=Service(DRIVER or "/usr/bin/chromedriver"), options=opts)
    yield d
    d.quit()


def _metrics(driver) -> dict:
    from selenium.webdriver.common.by import By

    out = {}
    for m in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stMetric"]'):
        label = m.find_element(By.CSS_SELECTOR, '[data-testid="stMetricLabel"]').text.strip()
        out[label] = m.find_element(By.CSS_SELECTOR, '[data-testid="stMetricValue"]').text.strip()
    return out


def _wait_for(driver, cond, what: str, timeout: float = 30):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: cond(d), message=f"waited for {what}")


def _edit_cell(driver, row: int, col: int, value: str) -> None:
    """Click the row's index cell on the grid's canvas, arrow to the column, type into the overlay editor."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    index_cell = driver.find_element(By.CSS_SELECTOR, f'[data-testid="glide-cell-1-{row}"]')
    canvas = driver.find_element(By.CSS_SELECTOR, '[data-testid="data-grid-canvas"]')
    header = 35  # glide's header row; rows are 35 px in Streamlit's default grid
    y = header + 35 * row + 17 - canvas.size["height"] / 2
    x = 60 - canvas.size["width"] / 2  # the index column, right of the row-selection checkboxes
    ActionChains(driver).move_to_element_with_offset(canvas, int(x), int(y)).click().perform()
    assert index_cell is not None
    keys = ActionChains(driver)
    for _ in range(col):
        keys.send_keys(Keys.ARROW_RIGHT)
    keys.send_keys(Keys.ENTER).perform()
    box = _wait_for(
        driver, lambda d: d.find_elements(By.CSS_SELECTOR, "input.gdg-input, textarea.gdg-input"), "the cell editor"
    )[0]
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(value)
    time.sleep(0.3)  # the grid drops an edit committed straight after typing
    box.send_keys(Keys.ENTER)


def _click_toggle(driver, label: str) -> None:
    from selenium.webdriver.common.by import By

    el = driver.find_element(By.XPATH, f'//label[.//p[normalize-space()="{label}"]]')
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", el)
    el.click()


def test_edit_a_cell_and_flip_the_skip_toggle(app_url, driver):
    from selenium.webdriver.common.by import By

    driver.get(app_url)
    sm = get_preset("SM_V2")
    _wait_for(driver, lambda d: _metrics(d).get("Params") == si(compute_cost(sm).params), "SM_V2's params", 60)
    _wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="glide-cell-3-1"]'), "the grid")

    # Row 1 (t4 c16 n2 s2): c 16 -> 24, i.e. SM_V2 with a wider second stage.
    _edit_cell(driver, row=1, col=2, value="24")
    wider = sm.with_changes(stages=(sm.stages[0], sm.stages[1].__class__(4, 24, 2, 2), *sm.stages[2:]))
    want = compute_cost(wider)
    _wait_for(driver, lambda d: _metrics(d).get("MACs") == si(want.macs), f"MACs {si(want.macs)} after the edit")
    assert _metrics(driver)["Params"] == si(want.params)

    # Skips off: same MACs (skips have none), less memory traffic (no add re-reads its block input).
    _click_toggle(driver, "Skip connections")
    no_skip = compute_cost(wider.with_skips(False))
    _wait_for(
        driver, lambda d: _metrics(d).get("Memory traffic") == size(no_skip.bytes), "memory traffic without skips"
    )
    assert _metrics(driver)["MACs"] == si(want.macs)

    # And the final 1x1 conv on: MobileNetV2's conv to 1280 adds its params.
    _click_toggle(driver, "Final 1×1 conv")
    with_head = compute_cost(wider.with_skips(False).with_changes(last_conv=1280))
    _wait_for(driver, lambda d: _metrics(d).get("Params") == si(with_head.params), "params with the final conv")
    assert not driver.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "design_page.png"))
    assert (ARTIFACTS / "design_page.png").stat().st_size > 10_000
