"""Latency you can trust, in a real browser: an idle app is quiet, and the app's number is the CLI's number.

The server is started the README way (the committed .streamlit/config.toml decides the file watcher), with the
virtual environment inside the repository as the README sets it up.
"""

import json
import os
import re
import subprocess
import sys
import time

import pytest
from browser_support import (
    ARTIFACTS,
    BROWSER_MARKS,
    ROOT,
    _free_port,
    _metrics,
    _wait_for,
    driver,  # noqa: F401  (a fixture, used by name)
    start_app_server,
    stop_app_server,
    wait_healthy,
)

pytestmark = BROWSER_MARKS
IDLE_WINDOW_S = 10.0
IDLE_LIMIT_CORES = 0.02  # an idle server with a tab open may use at most 2 % of a core
SETTLE_STEP_S = 2.0
SETTLE_MAX_S = 40.0
AGREEMENT = 0.10


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    data_dir = tmp_path_factory.mktemp("data")
    proc = start_app_server(port, data_dir, tmp_path_factory.mktemp("log") / "streamlit.log")
    try:
        wait_healthy(proc, port)
        yield proc, f"http://127.0.0.1:{port}/", data_dir
    finally:
        stop_app_server(proc)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all its threads (fields 14 and 15 of /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_latency_tab(browser):
    from selenium.webdriver.common.by import By

    tab = _wait_for(
        browser,
        lambda d: [t for t in d.find_elements(By.CSS_SELECTOR, '[role="tab"]') if "Latency" in t.text],
        "the Latency tab",
        60,
    )[0]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", tab)
    tab.click()


def test_an_idle_server_with_a_connected_session_is_quiet(server, driver):  # noqa: F811
    proc, url, _ = server
    driver.get(url)
    _wait_for(driver, lambda d: _metrics(d).get("Params"), "the first render", 90)
    used = idle_use(proc)
    assert used <= IDLE_LIMIT_CORES, f"idle server used {used * 100:.1f} % of a core over {IDLE_WINDOW_S:.0f} s"
    log = (proc.log_file.name and open(proc.log_file.name).read()) or ""
    assert "Inotify" not in log and "Network URL" not in log  # no watcher; loopback only


def idle_use(proc, window_s: float = IDLE_WINDOW_S) -> float:
    """Cores the server used over an idle window, once the page's own first work has finished.

    A busy host stretches that work (the charts' first draw ended seconds after the page looked idle, and a CI
    run read 2.8 % from it), so the window opens after the first 2-s stretch under the limit. A server that
    polls never has such a stretch: after SETTLE_MAX_S it is measured anyway, and fails."""
    deadline = time.monotonic() + SETTLE_MAX_S
    while time.monotonic() < deadline:
        before = cpu_seconds(proc.pid)
        time.sleep(SETTLE_STEP_S)
        if (cpu_seconds(proc.pid) - before) / SETTLE_STEP_S <= IDLE_LIMIT_CORES:
            break
    before = cpu_seconds(proc.pid)
    time.sleep(window_s)
    return (cpu_seconds(proc.pid) - before) / window_s


def _open_page(driver, url: str, path: str, title: str) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By

    driver.get(url + path)
    _wait_for(driver, lambda d: any(title in h.text for h in d.find_elements(By.TAG_NAME, "h1")), title, 90)
    _wait_for(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]'), "idle", 60)


def _click(driver, label: str) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By

    button = _wait_for(  # enabled: a button that waits for a typed value is disabled until the value arrives
        driver,
        lambda d: [b for b in d.find_elements(By.CSS_SELECTOR, "button") if b.text.strip() == label and b.is_enabled()],
        label,
    )[0]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()


def _type_into(driver, label: str, value: str) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = _wait_for(
        driver,
        lambda d: d.find_elements(By.XPATH, f'//label[.//p[normalize-space()="{label}"]]/following::input[1]'),
        label,
    )[0]
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(value)
    time.sleep(0.3)
    box.send_keys(Keys.ENTER)


def _store_prior_profile(data_dir) -> None:
    from explorer.measure.hostinfo import physical_cores
    from explorer.predict.model import prior_coefficients
    from explorer.predict.profile import profile_key
    from explorer.store.results import ResultStore

    key = profile_key("torch", "cpu", physical_cores(), 1)
    profile = {"key": key, "model": {"coefficients": prior_coefficients(50.0, 10.0, "torch")}, "band_pct": 10.0}
    ResultStore(data_dir / "results.sqlite").add_profile(key, profile)


def test_every_page_is_idle_including_search_and_fine_tune_after_their_jobs(server, driver, tmp_path):  # noqa: F811
    """The app's promise, page by page: an idle tab keeps the server under 2 % of a core, also once a search and
    a fine-tune have run (their polling must stop when the job ends)."""
    from _imagedata import imagenet_layout
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    proc, url, data_dir = server
    _store_prior_profile(data_dir)
    used = {}
    for path, title in (("", "Design"), ("compare", "Compare"), ("charts", "Charts"), ("classroom", "Classroom")):
        _open_page(driver, url, path, title)
        used[title] = idle_use(proc)

    # Fine-tune: one epoch of a tiny folder, then idle on the page that shows its result.
    _open_page(driver, url, "train", "Fine-tune")
    _type_into(driver, "Dataset folder", str(imagenet_layout(tmp_path / "ds")))
    _click(driver, "Check folder")
    _wait_for(driver, lambda d: "4 classes" in d.page_source, "the folder check", 60)
    epochs = '//label[.//p[normalize-space()="epochs"]]'
    _wait_for(driver, lambda d: d.find_elements(By.XPATH, epochs), "the budget's epochs choice", 60)[0].click()
    _type_into(driver, "Batch", "16")
    _click(driver, "Start fine-tuning")
    _wait_for(driver, lambda d: "Top-1" in _metrics(d), "the fine-tune's result", 300)
    used["Fine-tune (finished)"] = idle_use(proc)

    # Search: the shortest search, one design to measure; then idle on its result.
    _open_page(driver, url, "search", "Search")
    _type_into(driver, "Designs to measure", "1")
    slider = _wait_for(
        driver, lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="stSlider"] input[type="range"]'), "slider"
    )[0]
    driver.execute_script("arguments[0].focus();", slider)  # the range input is visually hidden: focus, then keys
    ActionChains(driver).send_keys(Keys.HOME).perform()  # the shortest search
    _wait_for(driver, lambda d: slider.get_attribute("aria-valuetext") == "20", "the time slider at 20 s")
    time.sleep(1.0)  # the slider's value reaches the server
    _click(driver, "Search")
    _wait_for(driver, lambda d: "Budget" in _metrics(d) or "Search stopped" in d.page_source, "the search", 400)
    used["Search (finished)"] = idle_use(proc)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "search_finished.png"))
    busy = {page: f"{u * 100:.1f} %" for page, u in used.items() if u > IDLE_LIMIT_CORES}
    assert not busy, f"idle server above {IDLE_LIMIT_CORES * 100:.0f} % of a core on: {busy}"
    assert len(used) == 6


def cli_median(data_dir) -> dict:
    env = {**os.environ, "EXPLORER_DATA_DIR": str(data_dir)}
    out = subprocess.run(
        [sys.executable, "-m", "explorer", "bench", "--preset", "SM_V2", "--json", "--no-store"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(out.stdout)


def test_the_app_and_the_cli_agree_back_to_back(server, driver):  # noqa: F811
    """Same design, same defaults (all physical cores, 2 s budget), measured back to back on a quiet host."""
    from selenium.webdriver.common.by import By

    _, url, data_dir = server
    driver.get(url)
    _wait_for(driver, lambda d: _metrics(d).get("Params"), "the first render", 90)
    open_latency_tab(driver)

    def measured_caption(d) -> str:
        return next(
            (
                c.text
                for c in d.find_elements(By.CSS_SELECTOR, '[data-testid="stCaptionContainer"]')
                if " · measured " in c.text
            ),
            "",
        )

    def measure_in_app() -> float:
        before = measured_caption(driver)
        button = _wait_for(
            driver,
            lambda d: [b for b in d.find_elements(By.CSS_SELECTOR, "button") if b.text == "Measure on this host"],
            "the Measure button",
        )[0]
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
        button.click()
        _wait_for(driver, lambda d: (c := measured_caption(d)) and c != before, "the app's new measurement", 180)
        value = _metrics(driver)["Median latency"]
        return float(re.match(r"([\d.]+) ms", value).group(1))

    # CLI - app - CLI, three rounds at most: this VM can slow down for a whole window with nothing visible inside
    # it (docs/repeatability.md), so a disagreeing window is measured again before the test judges.
    gaps, trusted = [], []
    for _ in range(3):
        cli_runs = [cli_median(data_dir)]
        app_ms = measure_in_app()
        cli_runs.append(cli_median(data_dir))
        trusted = [r["median_ms"] for r in cli_runs if r["quality"]["verdict"] == "ok"]
        if trusted:
            gaps.append((min(abs(app_ms - cli) / cli for cli in trusted), app_ms, trusted))
            if gaps[-1][0] <= AGREEMENT:
                break
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "latency_panel.png"))
    assert not driver.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
    if not gaps:  # the comparison means something only on a quiet host, and the verdict says it was not
        reasons = "; ".join(cli_runs[-1]["quality"]["reasons"])
        pytest.skip(f"host busy during the comparison (the CLI's own verdict: {reasons})")
    gap, app_ms, cli_ms = min(gaps)
    assert gap <= AGREEMENT, f"app {app_ms:.2f} ms vs CLI {cli_ms} ms: {gap * 100:.0f} % apart"
