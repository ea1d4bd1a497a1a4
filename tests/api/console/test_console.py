"""The console in a real headless Chromium against a real ``yutang serve`` on the embedded Redis.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them) and
selenium (the ``test`` extra). In CI a missing browser fails the test; on a
developer's machine it is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import ALPHA, PACK, auth, event
from tests.api.console.png import read_png
from tests.api.serving import yutang_serve

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
WIDTH, HEIGHT = 1280, 1000
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    f"--window-size={WIDTH},{HEIGHT}",
)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"console browser test cannot run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    if not CHROMIUM or not CHROMEDRIVER:
        _unavailable("chromium / chromedriver not installed (apt-get install -y chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed (pip install -e '.[test]')")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # never let selenium look for (or download) a browser
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_window_size(WIDTH, HEIGHT)
    yield driver
    driver.quit()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """``yutang serve`` (one worker, python backend, recording on) on a copy of the small pack."""
    rules = tmp_path / "rules"
    shutil.copytree(PACK, rules)
    with yutang_serve(tmp_path, rules=rules, env={"YUTANG_RECORD_EVENTS": "1"}) as (base, _):
        yield base


def wait_for(driver: object, predicate, what: str, seconds: float = 15.0):  # type: ignore[no-untyped-def]
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds, poll_frequency=0.1).until(lambda d: predicate(d), message=what)


def text(driver, element_id: str) -> str:  # type: ignore[no-untyped-def]
    return driver.find_element("id", element_id).text


def fill(driver, element_id: str, value: str) -> None:  # type: ignore[no-untyped-def]
    """Set a textarea's value at once (send_keys types character by character)."""
    driver.execute_script("document.getElementById(arguments[0]).value = arguments[1]", element_id, value)


def check_screenshot(driver, path: Path, shown: str) -> None:  # type: ignore[no-untyped-def]
    """Screenshot with the element ``shown`` in view: a real PNG of the window, not blank."""
    driver.execute_script("document.getElementById(arguments[0]).scrollIntoView({block: 'center'})", shown)
    assert driver.save_screenshot(str(path)) and path.stat().st_size > 10_000
    image = read_png(path)
    assert (image.width, image.height) == tuple(driver.execute_script("return [innerWidth, innerHeight]"))
    assert len(image.colours()) > 20, f"{path} looks blank"


def test_the_console_shows_the_pack_scores_a_sample_refuses_a_broken_pack_and_replays(browser, served, tmp_path):
    driver = browser
    with httpx.Client(base_url=served, timeout=10) as client:
        version = client.get("/v1/rules", headers=auth()).json()["version"]
        for customer in ("risky", "risky"):  # the second claim fires the shadow rule: review -> deny
            client.post("/v1/score", json=event("coupon_claim", customer=customer, phone="17000000001"), headers=auth())
        for number in range(4):  # a device farm, recorded for the replay
            body = event("signup", customer=f"farm{number}", device="farm-device", phone=f"1390000000{number}")
            client.post("/v1/score", json=body, headers=auth())
        original = (PACK / "pack.yaml").read_text()

    driver.get(served + "/console/all")
    assert driver.find_element("id", "login").is_displayed() and not driver.find_element("id", "app").is_displayed()
    driver.find_element("id", "key").send_keys(ALPHA)
    driver.find_element("id", "login-form").submit()

    wait_for(driver, lambda d: "many_claims_shadow" in text(d, "rules"), "rules with hit counts")
    assert version.startswith(text(driver, "version"))
    assert text(driver, "tenant") == "alpha" and "admin" in text(driver, "role")  # the caller's tenant, only
    rows = {r.get_attribute("data-rule"): r.text for r in driver.find_elements("css selector", "#rules tr")}
    assert set(rows) == {"device_farm", "blocked_device", "blocked_customer", "virtual_phone",
                         "many_claims_shadow", "referral_burst"}  # fmt: skip
    assert rows["virtual_phone"].split()[-1] == "2" and rows["many_claims_shadow"].split()[-2:] == ["1", "1"]
    assert rows["device_farm"].split()[-1] == "2"
    assert "would change 1" in text(driver, "shadow-summary") and "review→deny: 1" in text(driver, "shadow-summary")
    wait_for(driver, lambda d: "newcomer_coupon" in text(d, "offers"), "offers with budgets")
    assert "3 / 5" in driver.find_element("css selector", "#offers tr[data-offer=newcomer_coupon]").text
    assert "重要型" in text(driver, "tiers") and "pack.yaml" in text(driver, "files")
    check_screenshot(driver, tmp_path / "console.png", "rules")

    # a sample event: every reason, nothing recorded
    fill(driver, "score-event", '{"event_id": "dry-1", "type": "signup", "customer": "c-dry", "phone": "17000000002"}')
    driver.find_element("id", "score-form").submit()
    wait_for(driver, lambda d: d.find_elements("id", "score-decision"), "the dry-run result")
    assert text(driver, "score-decision") == "review" and text(driver, "score-value") == "45"
    reasons = driver.find_elements("css selector", "#score-result tr.reason")
    assert [r.get_attribute("data-rule") for r in reasons] == ["virtual_phone"] and "虚拟运营商号段" in reasons[0].text
    check_screenshot(driver, tmp_path / "dry-run.png", "score-result")

    # a broken pack is refused with its diagnostics; a valid one is reloaded
    driver.execute_script("document.getElementById('upload-text').closest('details').open = true")
    fill(driver, "upload-text", original.replace("device.accounts_24h >= 3", "device.acounts_24h >= 3"))
    driver.find_element("id", "validate").click()
    wait_for(driver, lambda d: "UNKNOWN_NAME" in text(d, "validate-result"), "the diagnostics of the broken pack")
    assert "did you mean 'device.accounts_24h'" in text(driver, "validate-result")
    assert "nothing was loaded" in text(driver, "validate-result")
    fill(driver, "upload-text", original.replace("score: 45", "score: 10"))
    driver.find_element("id", "reload").click()
    wait_for(driver, lambda d: not version.startswith(text(d, "version")), "the reloaded version in the header")
    wait_for(driver, lambda d: d.find_elements("css selector", "#audit tr[data-action='rules.reload']"), "audit row")
    reloaded = driver.find_element("css selector", "#audit tr[data-action='rules.reload']").text
    assert "rules changed: virtual_phone" in reloaded and "upload" in reloaded and "admin" in reloaded
    check_screenshot(driver, tmp_path / "audit.png", "audit")

    # replay the recorded events: the running set against the previous version
    driver.find_element("id", "replay-export").click()
    wait_for(driver, lambda d: d.find_element("id", "replay-log").get_attribute("value").count("\n") >= 6, "export")
    driver.find_element("id", "replay-run").click()
    wait_for(driver, lambda d: d.find_elements("id", "replay-summary"), "the replay result", seconds=40)
    assert text(driver, "replay-summary").startswith("6 events (6 scored)")
    assert "2 events change decision" in text(driver, "replay-diff") and "review->allow" in text(driver, "replay-diff")
    check_screenshot(driver, tmp_path / "replay.png", "replay-result")

    # roll back from the page
    driver.find_element("css selector", f"button.rollback[data-version='{version}']").click()
    wait_for(driver, lambda d: version.startswith(text(d, "version")), "the rolled-back version in the header")
    wait_for(driver, lambda d: d.find_elements("css selector", "#audit tr[data-action='rules.rollback']"), "rollback")
    assert [r.get_attribute("data-action") for r in driver.find_elements("css selector", "#audit tr")] == [
        "rules.rollback",
        "rules.reload",
    ]
    with httpx.Client(base_url=served, timeout=10) as client:
        assert client.get("/v1/rules", headers=auth()).json()["version"] == version


def test_a_wrong_key_goes_back_to_the_login(browser, served):
    driver = browser
    driver.get(served + "/console/all")
    driver.find_element("id", "key").send_keys("not-a-key-0123456789")
    driver.find_element("id", "login-form").submit()
    wait_for(driver, lambda d: d.find_element("id", "login").is_displayed(), "the login form again")
    assert "invalid API key" in text(driver, "login-error")
    assert driver.execute_script("return sessionStorage.getItem('yutang-admin-key')") is None
