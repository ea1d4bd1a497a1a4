"""The offers view on the shipped pack: budgets as used / left (∞ when unbounded), in both languages and widths."""

from __future__ import annotations

import httpx

from tests.api.conftest import auth
from tests.api.console.conftest import no_sideways_scroll, open_view, shot


def test_offers_show_their_budgets_with_infinity(desktop, phone, console_server):
    with httpx.Client(base_url=console_server, timeout=10) as client:
        offers = client.get("/v1/reports/offers", headers=auth()).json()["offers"]
    unbounded = [o["offer"] for o in offers if o["remaining"] is None]
    bounded = [o for o in offers if o["total"] is not None]
    for driver, lang in ((desktop, "en"), (phone, "zh")):
        view = open_view(driver, console_server, "offers", lang=lang)
        found = view.find_elements("css selector", "#offers-table tbody tr")
        rows = {r.get_attribute("data-offer"): r.text for r in found}
        assert set(rows) == {o["offer"] for o in offers}
        assert all("∞" in rows[o] for o in unbounded) and all(f"/ {o['total']}" in rows[o["offer"]] for o in bounded)
        assert ("剩余" if lang == "zh" else "left") in view.text
        no_sideways_scroll(driver)
        shot(driver, f"offers-{lang}")
