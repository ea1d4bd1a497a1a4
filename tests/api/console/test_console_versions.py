"""The versions view: when, who, from where, counts; the diff against the running one; rollback after a confirmation."""

from __future__ import annotations

import re

import httpx

from tests.api.conftest import auth
from tests.api.console.conftest import no_sideways_scroll, open_view, ready, shot, visible_text, wait_for


def reload_with_one_score_changed(client: httpx.Client) -> tuple[str, str, str]:
    """Reload the running pack with one rule's score lowered; (old version, new version, that rule's id)."""
    before = client.get("/v1/rules", headers=auth()).json()["version"]
    files = {f["name"]: f["text"] for f in client.get("/v1/rules/files", headers=auth()).json()["files"]}
    name = next(n for n in files if n.endswith("lists.yaml") and "risk" in n)
    match = re.search(r"score: ([1-9]\d*)", files[name])
    assert match
    files[name] = files[name].replace(match.group(0), f"score: {int(match.group(1)) - 1}", 1)
    answer = client.post("/v1/rules/reload", json={"files": files}, headers=auth())
    assert answer.status_code == 200, answer.text
    diff = client.get(f"/v1/rules/versions/{answer.json()['version']}/diff/{before}", headers=auth()).json()
    [changed] = diff["rules"]["changed"]
    return before, answer.json()["version"], changed["id"]


def test_a_fresh_server_says_there_is_nothing_to_roll_back_to_on_a_phone(phone, console_server):
    driver = phone
    view = open_view(driver, console_server, "versions", lang="en")
    assert len(view.find_elements("css selector", "#versions-table tbody tr")) == 1
    assert view.find_elements("id", "versions-alone") and not view.find_elements("css selector", "button.show-diff")
    no_sideways_scroll(driver)
    shot(driver, "versions-phone")


def test_the_diff_comes_before_the_rollback_and_says_what_changes(desktop, console_server):
    driver = desktop
    with httpx.Client(base_url=console_server, timeout=30) as client:
        old, new, rule = reload_with_one_score_changed(client)
    view = open_view(driver, console_server, "versions", lang="en")
    rows = view.find_elements("css selector", "#versions-table tbody tr")
    assert [r.get_attribute("data-version") for r in rows] == [new, old]  # newest first
    assert "running" in rows[0].text and "api" in rows[0].text and re.search(r"\d{2}:\d{2}", rows[0].text)
    view.find_element("css selector", f"button.show-diff[data-version='{old}']").click()
    confirm = wait_for(driver, lambda d: (d.find_elements("id", "rollback-confirm") or [None])[0], "the confirmation")
    changed = confirm.find_element("css selector", f"tr.diff-changed[data-rule='{rule}']")
    assert "score:" in changed.text and "before" in changed.text and "after" in changed.text
    assert visible_text(driver, "Go ahead?")
    shot(driver, "versions-diff")
    # cancel changes nothing; confirm rolls back
    confirm.find_element("id", "rollback-cancel").click()
    assert not driver.find_elements("id", "rollback-confirm")
    with httpx.Client(base_url=console_server, timeout=10) as client:
        assert client.get("/v1/rules", headers=auth()).json()["version"] == new
    view.find_element("css selector", f"button.show-diff[data-version='{old}']").click()
    wait_for(driver, lambda d: d.find_elements("id", "rollback-go"), "the confirmation again")[0].click()
    wait_for(driver, lambda d: "rolled=" in d.current_url, "the rolled-back page")
    view = ready(driver, "versions")
    assert old[:12] in view.find_element("id", "rollback-done").text
    with httpx.Client(base_url=console_server, timeout=10) as client:
        assert client.get("/v1/rules", headers=auth()).json()["version"] == old
