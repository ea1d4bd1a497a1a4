"""The rules view on the shipped pack: every rule with its pack-relative file, family, mode, hits and reason."""

from __future__ import annotations

import httpx

from tests.api.conftest import auth, event
from tests.api.console.conftest import no_sideways_scroll, open_view, shot, visible_text, wait_for

BLOCKED_IP = "203.0.113.7"  # on the shipped block list (rules/lists.yaml)
ROWS = "return [...document.querySelectorAll('#rules-table tbody tr')].map((r) => [r.dataset.rule, r.innerText])"


def rows(driver) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [tuple(r) for r in driver.execute_script(ROWS)]


def test_the_rules_table_sorts_filters_and_explains(desktop, console_server):
    driver = desktop
    with httpx.Client(base_url=console_server, timeout=10) as client:
        for number in range(2):
            body = event("signup", customer=f"rules-{number}", device=f"d-rules-{number}", ip=BLOCKED_IP)
            assert client.post("/v1/score", json=body, headers=auth()).json()["decision"] == "deny"
        report = client.get("/v1/rules/hits", headers=auth()).json()
    hit = max(report["rules"], key=lambda r: r["hits"])
    assert hit["hits"] >= 2 and all(not r["file"].startswith("/") for r in report["rules"])

    view = open_view(driver, console_server, "rules", lang="en")
    shown = rows(driver)
    assert len(shown) == len(report["rules"]) and shown[0][0] == hit["id"]  # by hits, most first
    assert hit["reason_en"] in shown[0][1] and hit["file"] in shown[0][1]
    assert "/work" not in view.text and "/tmp" not in view.text  # pack-relative paths only
    shot(driver, "rules-table")  # the README's first screenshot (docs/img/console-rules.png)
    # sort by rule id, ascending
    driver.find_element("css selector", "#rules-table th[data-sort=id]").click()
    ids = [r[0] for r in rows(driver)]
    assert ids == sorted(ids)
    # filter by family, then by text
    family = hit["family"]
    driver.execute_script(
        "const s = document.querySelector('select[data-filter=family]'); s.value = arguments[0];"
        "s.dispatchEvent(new Event('change'))",
        family,
    )
    in_family = [r["id"] for r in report["rules"] if r["family"] == family]
    assert sorted(r[0] for r in rows(driver)) == sorted(in_family) and len(in_family) < len(report["rules"])
    driver.find_element("id", "rules-filter").send_keys(hit["id"])
    wait_for(driver, lambda d: [r[0] for r in rows(d)] == [hit["id"]], "one rule left")
    assert visible_text(driver, hit["reason_en"])
    shot(driver, "rules-desktop")


def test_the_rules_view_in_chinese_on_a_phone(phone, console_server):
    driver = phone
    with httpx.Client(base_url=console_server, timeout=10) as client:
        report = client.get("/v1/rules/hits", headers=auth()).json()
    open_view(driver, console_server, "rules", lang="zh")
    no_sideways_scroll(driver)
    first = report["rules"][0]
    text = dict(rows(driver))[first["id"]]
    assert first["reason_zh"] in text and "命中" in driver.find_element("id", "rules-table").text
    image = shot(driver, "rules-phone")
    assert len(image.colours()) > 30
