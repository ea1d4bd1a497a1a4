"""The dry run's two built-in samples (one allowed, one denied by the shipped pack) and the replay view.

The samples live in views/try.js; they are read from the page and scored against the
shipped pack here, so a pack change that turns either one fails CI. A replay on a fresh
server offers only the comparisons that exist and works by default; after a reload it
compares with the previous version by default and shows each changed decision with the
rules behind it.
"""

from __future__ import annotations

import httpx

from tests.api.conftest import auth, event
from tests.api.console.conftest import no_sideways_scroll, open_view, shot, visible_text, wait_for


def finished(driver, element_id: str):  # type: ignore[no-untyped-def]
    return wait_for(driver, lambda d: (d.find_elements("css selector", f"#{element_id}[data-done='1']") or [None])[0],
                    element_id, seconds=60)  # fmt: skip


def test_the_two_samples_are_allowed_and_denied_by_the_shipped_pack(desktop, console_server):
    driver = desktop
    open_view(driver, console_server, "try", lang="en")
    samples = driver.execute_script("return YT_SAMPLES")
    with httpx.Client(base_url=console_server, timeout=10) as client:
        for name, body in samples.items():
            answer = client.post("/v1/console/dry-run", json={**body, "event_id": f"check-{name}"}, headers=auth())
            assert answer.json()["decision"] == name, (name, answer.json()["reasons"])
    for name in ("allow", "deny"):
        driver.find_element("css selector", f"button.sample[data-sample={name}]").click()
        out = finished(driver, "score-result")
        assert out.find_element("id", "score-decision").get_attribute("data-decision") == name
    reasons = driver.find_elements("css selector", "#score-result tr.reason")
    assert "blocked_network" in [r.get_attribute("data-rule") for r in reasons]
    assert visible_text(driver, "the IP address or its /24 network is on the block list") or reasons
    shot(driver, "try-desktop")


def test_a_replay_works_by_default_on_a_fresh_server_then_compares_with_the_previous_version(phone, console_server):
    driver = phone
    with httpx.Client(base_url=console_server, timeout=30) as client:
        for number in range(3):
            body = event("signup", customer=f"replay-{number}", device=f"d-replay-{number}", ip="203.0.113.7")
            client.post("/v1/score", json=body, headers=auth())
    view = open_view(driver, console_server, "replay", lang="zh")
    options = [o.get_attribute("value") for o in view.find_elements("css selector", "#replay-baseline option")]
    with httpx.Client(base_url=console_server, timeout=30) as client:
        kept = client.get("/v1/rules/versions", headers=auth()).json()["versions"]
    assert options == [v["version"] for v in reversed(kept) if not v["running"]] + [""]  # only what exists
    view.find_element("id", "replay-export").click()
    wait_for(driver, lambda d: d.find_element("id", "replay-log").get_attribute("value").count("\n") >= 2, "export")
    view.find_element("id", "replay-run").click()
    out = finished(driver, "replay-result")
    assert not out.find_elements("css selector", ".error"), out.text
    assert "条事件" in out.find_element("id", "replay-summary").text
    no_sideways_scroll(driver)

    # a reload that turns blocked_network around (it denies every IP not on the list): the default comparison
    # shows the moves. (The replay's sandbox has no live list entries, so the IP is not listed there.)
    with httpx.Client(base_url=console_server, timeout=30) as client:
        files = {f["name"]: f["text"] for f in client.get("/v1/rules/files", headers=auth()).json()["files"]}
        name = next(n for n in files if n.endswith("risk/lists.yaml"))
        head, tail = files[name].split("  - id: blocked_network", 1)
        flipped = tail.replace("when: ip.blocked or subnet.blocked", "when: not ip.blocked", 1)
        files[name] = head + "  - id: blocked_network" + flipped
        assert client.post("/v1/rules/reload", json={"files": files}, headers=auth()).status_code == 200
    view = open_view(driver, console_server, "replay", lang="zh")
    view.find_element("id", "replay-export").click()
    wait_for(driver, lambda d: d.find_element("id", "replay-log").get_attribute("value").count("\n") >= 2, "export")
    view.find_element("id", "replay-run").click()
    out = finished(driver, "replay-result")
    rows = out.find_elements("css selector", "#replay-changes tr.replay-change")
    assert len(rows) >= 3 and "{}" not in out.text, out.text
    assert "blocked_network" in rows[0].text and "拒绝" in rows[0].text
    driver.execute_script("document.getElementById('replay-diff').scrollIntoView()")
    shot(driver, "replay-phone")
