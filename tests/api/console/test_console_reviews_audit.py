"""The reviews and audit views (ported from /console/all) on the shipped pack, at both widths and languages.

A signup from an emulator scores 50 on the shipped pack: a review case. The reviewer opens
the queue, opens the case with its reasons, denies it with a note, and the API then says
denied with that note. A list entry added through the API is in the audit trail with its
action and author, and the action filter narrows the trail to it or away from it.
"""

from __future__ import annotations

import httpx

from tests.api.conftest import auth, event
from tests.api.console.conftest import no_sideways_scroll, open_view, shot, visible_text, wait_for

CASES = (
    "return [...document.querySelectorAll('#review-table tr.case')].map((r) => [r.dataset.customer, r.dataset.case])"
)
ENTRIES = "return [...document.querySelectorAll('#audit-table tr.entry')].map((r) => [r.dataset.action, r.innerText])"
CHOOSE = "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change', {bubbles: true}))"
READY = ".view[data-view=audit][data-ready='1']"
LABELS = {
    "en": ("Review queue", "customer", "Deny", "Audit trail", "what changed"),
    "zh": ("审核队列", "用户", "拒绝", "操作记录", "修改内容"),
}


def note_for(lang: str) -> str:
    return f"emulator farm, seen at the counter ({lang})"


def deny_in_the_console(driver, base: str, lang: str, customer: str) -> str:  # type: ignore[no-untyped-def]
    """Open the queue, find ``customer``'s case, open it, deny it with a note; the case's id."""
    heading, column, deny = LABELS[lang][:3]
    view = open_view(driver, base, "reviews", lang=lang)
    cases = dict(driver.execute_script(CASES))
    assert customer in cases, cases
    assert heading in view.text and column in view.text
    view.find_element("css selector", f"tr[data-customer='{customer}'] button.open-case").click()
    wait_for(driver, lambda d: customer in d.find_element("id", "case-title").text, "the case")
    assert view.find_element("css selector", "#review-case tr.reason[data-rule=emulator]")
    view.find_element("id", "case-note").send_keys(note_for(lang))
    button = view.find_element("css selector", "button.case-decide[data-decision=deny]")
    assert button.text == deny
    button.click()
    decided = wait_for(driver, lambda d: d.find_elements("id", "case-decided"), "the denial")[0]
    assert note_for(lang) in decided.text
    wait_for(driver, lambda d: customer not in dict(d.execute_script(CASES)), "the case left the queue")
    assert visible_text(driver, customer) and visible_text(driver, note_for(lang))
    no_sideways_scroll(driver)
    shot(driver, f"reviews-{lang}")
    return str(cases[customer])


def test_a_reviewer_denies_a_case_with_a_note(desktop, phone, console_server):
    with httpx.Client(base_url=console_server, timeout=10) as client:
        for customer in ("emu-desktop", "emu-phone"):
            signup = event("signup", customer=customer, device=f"dv-{customer}", attributes={"emulator": True})
            scored = client.post("/v1/score", json=signup, headers=auth()).json()
            assert scored["decision"] == "review", scored
        for driver, lang, customer in ((desktop, "en", "emu-desktop"), (phone, "zh", "emu-phone")):
            case = deny_in_the_console(driver, console_server, lang, customer)
            decided = client.get(f"/v1/cases/{case}", headers=auth()).json()
            assert (decided["state"], decided["decision"], decided["note"]) == ("denied", "deny", note_for(lang))


def test_the_audit_trail_lists_a_change_with_its_author_and_filters_by_action(desktop, phone, console_server):
    with httpx.Client(base_url=console_server, timeout=10) as client:
        actor = client.get("/v1/whoami", headers=auth()).json()["key_id"]
        entry = {"entity": "device", "value": "audit-rack-9", "kind": "block", "reason": "device farm"}
        assert client.post("/v1/lists/entries", json=entry, headers=auth()).status_code == 201
    for driver, lang in ((desktop, "en"), (phone, "zh")):
        heading, column = LABELS[lang][3:]
        view = open_view(driver, console_server, "audit", lang=lang)
        assert heading in view.text and column in view.text
        rows = driver.execute_script(ENTRIES)
        added = [text for action, text in rows if action == "lists.add" and "audit-rack-9" in text]
        assert added and actor in added[0], rows
        select = view.find_element("id", "audit-action")
        for family, listed in (("rules", False), ("lists", True)):
            driver.execute_script(CHOOSE, select, family)
            wait_for(driver, lambda d: d.find_elements("css selector", READY), family)
            shown = driver.execute_script(ENTRIES)
            assert all(action.startswith(family + ".") for action, _ in shown), shown
            assert any("audit-rack-9" in text for _, text in shown) is listed
        assert visible_text(driver, "lists.add") and visible_text(driver, actor)
        no_sideways_scroll(driver)
        shot(driver, f"audit-{lang}")
