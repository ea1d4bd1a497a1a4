"""A phone spelt three ways is one phone: one list entry, one counter, one pseudonym in the export."""

from __future__ import annotations

import json
from pathlib import Path

from tests.api.conftest import auth, event

SHIPPED = Path(__file__).resolve().parents[2] / "rules"
SPELLINGS = ("13800138000", "+8613800138000", "+86 138 0013 8000")


async def test_a_listed_phone_is_hit_whichever_way_the_storefront_spells_it(make_api, redis_client) -> None:
    async with make_api(rules_path=SHIPPED) as api:
        entry = {"entity": "phone", "value": "+86 138 0013 8000", "kind": "block", "reason": "farm SIM"}
        r = await api.post("/v1/lists/entries", json=entry, headers=auth())
        assert r.status_code == 201 and r.json()["hint"] == "138****8000"
        found = await api.get("/v1/lists/entries/phone/13800138000", headers=auth())
        assert [e["entry_id"] for e in found.json()] == [r.json()["entry_id"]]
        for spelling in SPELLINGS:
            scored = (await api.post("/v1/score", json=event("signup", phone=spelling), headers=auth())).json()
            assert "blocked_phone" in [reason["rule"] for reason in scored["reasons"]], spelling


async def test_three_spellings_count_as_one_phone_and_export_as_one_pseudonym(make_api, redis_client) -> None:
    async with make_api(rules_path=SHIPPED, record_events=True) as api:
        answers = []
        for n, spelling in enumerate(SPELLINGS):  # three accounts behind one phone: the third is the third
            body = event("signup", customer=f"mum{n}", phone=spelling)
            answers.append((await api.post("/v1/score", json=body, headers=auth())).json())
        export = (await api.get("/v1/events/export", headers=auth())).text
    shared = [
        next((r["values"]["phone.accounts_30d"] for r in a["reasons"] if r["rule"] == "phone_shared_accounts"), None)
        for a in answers
    ]
    assert shared == [None, None, 3]
    phones = {json.loads(line)["phone"] for line in export.splitlines()}
    assert len(phones) == 1 and next(iter(phones)).startswith("+86138")
