"""The whole path in a real browser: Debian's Chromium drives the app served on 127.0.0.1.

Mandatory in CI (.ci/run installs Chromium and sets EXPLORER_REQUIRE_BROWSER=1); skipped locally, with the
reason printed, when no Chromium is installed.
"""

from browser_support import ARTIFACTS, BROWSER_MARKS, _click_toggle, _edit_cell, _metrics, _wait_for, app_url, driver

from explorer.design.cost import compute_cost
from explorer.design.presets import get_preset
from explorer.fmt import si, size

pytestmark = BROWSER_MARKS
__all__ = ["app_url", "driver"]  # fixtures used by name


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


def _alerts(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return [e.text.strip() for e in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stAlert"]')]


def _design_metrics(driver) -> dict:
    """The design's own numbers; other panels (the latency prediction) add metrics of their own."""
    return {
        k: v
        for k, v in _metrics(driver).items()
        if k in ("Params", "MACs", "FLOPs", "Memory traffic", "Peak activations")
    }


def _fresh_design_page(driver, app_url) -> None:
    from selenium.webdriver.common.by import By

    driver.get(app_url)  # a new session: nothing left over from another test
    sm = get_preset("SM_V2")
    _wait_for(driver, lambda d: _metrics(d).get("Params") == si(compute_cost(sm).params), "SM_V2's params", 60)
    _wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="glide-cell-3-1"]'), "the grid")


def test_bad_cells_reach_the_validator_instead_of_being_clamped_or_reverted(app_url, driver):
    _fresh_design_page(driver, app_url)
    valid = _design_metrics(driver)
    _edit_cell(driver, row=1, col=3, value="999")  # n: a bounded number cell used to turn this into 32
    problem = "row 2, n: must be from 1 to 32, got 999"
    _wait_for(driver, lambda d: problem in _alerts(d), f"the named problem {problem!r}")
    _wait_for(driver, lambda d: _design_metrics(d) == valid, "the last valid numbers, kept on screen (greyed)", 10)
    _edit_cell(driver, row=2, col=2, value="abc")  # c: a number cell used to refuse the typing silently
    typo = 'row 3, c: must be an integer from 1 to 4096, got "abc"'
    _wait_for(driver, lambda d: typo in _alerts(d) and problem in _alerts(d), "both problems, one per line")
    _edit_cell(driver, row=1, col=3, value="2")
    _edit_cell(driver, row=2, col=2, value="32")
    _wait_for(driver, lambda d: not any(a.startswith("row ") for a in _alerts(d)), "no problem once both are fixed")
    assert _design_metrics(driver) == valid


def test_no_deploy_button_for_a_local_user(app_url, driver):
    from selenium.webdriver.common.by import By

    _fresh_design_page(driver, app_url)
    assert not driver.find_elements(By.CSS_SELECTOR, '[data-testid="stAppDeployButton"]')
    assert not [b for b in driver.find_elements(By.TAG_NAME, "button") if b.text.strip() == "Deploy"]


def test_walk_every_page_and_keep_a_screenshot_of_each(app_url, driver):
    from selenium.webdriver.common.by import By

    _fresh_design_page(driver, app_url)
    links = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebarNav"] a')
    pages = [(a.text.strip().splitlines()[-1], a.get_attribute("href")) for a in links]  # after the icon's name
    assert {"Design", "Compare", "Charts", "Search", "Fine-tune", "Classroom"} == {name for name, _ in pages}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, href in pages:
        driver.get(href)
        title = name.split("-")[0]  # the Fine-tune page's title starts "Fine"
        _wait_for(driver, lambda d, t=title: any(t in h.text for h in d.find_elements(By.TAG_NAME, "h1")), name, 60)
        _wait_for(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, '[data-testid="stSkeleton"]'), "rendering")
        _wait_for(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]'), "idle")
        assert not driver.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]'), name
        assert not [a for a in _alerts(driver) if a.startswith("Something went wrong")], name
        shot = ARTIFACTS / f"page_{name.lower().replace(' ', '_').replace('-', '_')}.png"
        driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 20_000, f"{shot} looks blank"


def test_tall_design_page_screenshot_for_the_readme(app_url, driver):
    """artifacts/browser/design_full.png: table, switches, metrics and diagram in one picture (docs/screenshot.png
    is a copy of it)."""
    from selenium.webdriver.common.by import By

    size = driver.get_window_size()
    driver.set_window_size(1400, 1800)
    try:
        _fresh_design_page(driver, app_url)
        _wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .bars"), "the diagram", 60)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "design_full.png"))
        assert (ARTIFACTS / "design_full.png").stat().st_size > 50_000
    finally:
        driver.set_window_size(size["width"], size["height"])
