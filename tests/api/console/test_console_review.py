"""The console's review queue in a real headless Chromium against a real ``yutang serve``.

A reviewer opens the queue, opens a case and sees the accounts it is linked to, claims
it, approves one case with a note (its withheld trial is granted) and denies another
(the customer, linked at checkout to a farm's account by a shared parcel locker, is blocked;
its released gift was marked for clawback at that checkout).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.cases.review_pack import ENV, write_pack
from tests.api.conftest import ALPHA, auth, event
from tests.api.console.test_console import browser, check_screenshot, fill, text
from tests.api.serving import yutang_serve

__all__ = ["browser"]  # the fixture, shared with the console's other test
VIRTUAL = "17012345678"
SLOW = 40.0  # seconds a page update may take on a loaded box
ROWS = "return [...document.querySelectorAll('#review-queue tr.case')].map((r) => [r.dataset.customer, r.innerText])"


def settle(driver, predicate, what: str):  # type: ignore[no-untyped-def]
    """Wait until ``predicate`` holds; an element redrawn while it was read is read again."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, SLOW, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,))
    return wait.until(lambda d: predicate(d), message=what)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    with yutang_serve(tmp_path, rules=write_pack(tmp_path), env=ENV) as (base, _):
        yield base


def test_a_reviewer_works_the_queue_in_the_console(browser, served, tmp_path):  # type: ignore[no-untyped-def]
    driver = browser
    with httpx.Client(base_url=served, timeout=10) as client:
        client.post("/v1/score", json=event("signup", customer="mum-in-review", phone=VIRTUAL), headers=auth())
        locker = "丰巢柜 A-12"
        client.post("/v1/events", json=event("order_paid", customer="farm-boss", address=locker), headers=auth())
        client.post("/v1/events", json=event("label", customer="farm-boss", label="fraud"), headers=auth())
        client.post("/v1/score", json=event("coupon_claim", customer="farm-x", device="rack-7"), headers=auth())
        client.post("/v1/events", json=event("order_paid", customer="farm-x", amount=30), headers=auth())  # released
        paid = client.post("/v1/events", json=event("order_paid", customer="farm-x", address=locker), headers=auth())
        assert paid.json()["late_evidence"]["links"][0]["linked_customer"] == "farm-boss"  # the shared locker
        client.post("/v1/score", json=event("red_packet_claim", customer="farm-x", phone=VIRTUAL), headers=auth())

    driver.get(served + "/console/all")
    driver.find_element("id", "key").send_keys(ALPHA)
    driver.find_element("id", "login-form").submit()
    settle(driver, lambda d: len(d.find_elements("css selector", "#review-queue tr.case")) == 2, "two cases")
    rows = dict(driver.execute_script(ROWS))  # read in one go: the queue may be redrawn meanwhile
    assert set(rows) == {"mum-in-review", "farm-x"} and "virtual_phone" in rows["mum-in-review"]
    assert "¥99" in rows["mum-in-review"]

    # open the mother's case: claim, note, approve; the withheld trial is granted
    driver.find_element("css selector", "#review-queue tr[data-customer=mum-in-review] button.open-case").click()
    settle(driver, lambda d: "mum-in-review" in text(d, "case-title"), "the case")
    assert text(driver, "case-identities") == "phone: 1" and text(driver, "case-stake") == "¥99"
    driver.find_element("id", "case-claim").click()
    settle(driver, lambda d: "claimed by key:" in text(d, "review-case"), "the claim")
    fill(driver, "case-note", "came to the studio with her daughter")
    driver.find_element("css selector", "button.case-decide[data-decision=approve]").click()
    settle(driver, lambda d: d.find_elements("id", "case-decided"), "the decision")
    assert "came to the studio with her daughter" in text(driver, "case-decided")
    assert '"offer": "trial_99"' in text(driver, "case-result") and '"status": "granted"' in text(driver, "case-result")
    settle(driver, lambda d: len(d.find_elements("css selector", "#review-queue tr.case")) == 1, "one case left")
    check_screenshot(driver, tmp_path / "review.png", "review-case")

    # the farm account: deny; blocked, its released gift clawed back
    driver.find_element("css selector", "#review-queue tr[data-customer=farm-x] button.open-case").click()
    settle(driver, lambda d: "farm-x" in text(d, "case-title"), "the farm's case")
    linked = "return [...document.querySelectorAll('#case-linked code.linked-account')].map((a) => a.textContent)"
    assert driver.execute_script(linked) == ["farm-boss"]
    driver.find_element("css selector", "button.case-decide[data-decision=deny]").click()
    settle(driver, lambda d: d.find_elements("id", "case-decided"), "the denial")
    assert '"label_event"' in text(driver, "case-result") and '"kind": "block"' in text(driver, "case-result")
    # the gift was clawed back when the locker linked farm-x at checkout: once per reward, with that cause
    assert "Clawbacks: newcomer_gift ¥30 (linked_at_checkout)" in text(driver, "review-case")
    settle(driver, lambda d: "nothing waits" in text(d, "review-queue"), "an empty queue")
    with httpx.Client(base_url=served, timeout=10) as client:
        view = client.get("/v1/customers/farm-x", headers=auth()).json()
    assert {e["kind"] for e in view["lists"]} == {"block", "watch"}
    assert view["clawbacks"][0]["offer_id"] == "newcomer_gift"
