"""The whole path in a real browser: Debian's Chromium drives the app served on 127.0.0.1.

Mandatory in CI (.ci/run installs Chromium and sets EXPLORER_REQUIRE_BROWSER=1); skipped locally, with the
reason printed, when no Chromium is installed.
"""

from browser_support import ARTIFACTS, BROWSER_MARKS, _click_toggle, _edit_cell, _metrics, _wait_for, app_url, driver

from explorer.cost import compute_cost
from explorer.fmt import si, size
from explorer.presets import get_preset

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
