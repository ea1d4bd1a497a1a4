"""A/B experiments and privileges over HTTP: sticky variants, conversions per variant, reports."""

from __future__ import annotations

import httpx

from tests.api.conftest import auth, event


async def test_sticky_variants_with_their_own_effects_and_conversions_per_variant(
    offers_api: httpx.AsyncClient,
) -> None:
    seen: dict[str, str] = {}
    for i in range(40):
        customer = f"exp{i}"
        body = (await offers_api.post("/v1/score", json=event("signup", customer=customer), headers=auth())).json()
        [granted] = body["offers"]
        assert granted["effect"]["value"] == {"control": 20, "thirty": 30}[granted["variant"]]
        seen[customer] = granted["variant"]
        again = (await offers_api.post("/v1/score", json=event("signup", customer=customer), headers=auth())).json()
        assert again["offers"][0]["variant"] == granted["variant"]  # sticky
    assert set(seen.values()) == {"control", "thirty"}
    buyers = [c for c in seen if int(c[3:]) % 4 == 0]
    for customer in buyers:
        for _ in range(2):  # a second paid order is not a second conversion
            await offers_api.post("/v1/events", json=event("order_paid", customer=customer, amount=99), headers=auth())
    report = (await offers_api.get("/v1/reports/experiments", headers=auth())).json()
    [experiment] = report["experiments"]
    variants = {v["variant"]: v for v in experiment["variants"]}
    for name in ("control", "thirty"):
        members = [c for c, v in seen.items() if v == name]
        assert variants[name]["customers"] == len(members)
        assert variants[name]["grants"] == 2 * len(members)
        assert variants[name]["conversions"] == len([c for c in buyers if seen[c] == name])
        assert variants[name]["revenue"] == 99 * variants[name]["conversions"]


async def test_privileges_are_budgeted_and_reported_like_discounts(offers_api: httpx.AsyncClient) -> None:
    body = event("order", amount=50, attributes={"vip": True})
    granted = (await offers_api.post("/v1/score", json=body, headers=auth())).json()
    assert [(o["offer"], o["effect"]["type"], o["remaining"]) for o in granted["offers"]][-1] == (
        "advisor",
        "privilege",
        9,
    )
    report = (await offers_api.get("/v1/reports/offers", headers=auth())).json()
    advisor = next(r for r in report["offers"] if r["offer"] == "advisor")
    assert (advisor["used"], advisor["remaining"], advisor["granted"]) == (1, 9, 1)
    assert report["used_by_effect_type"]["privilege"] == 1


async def test_grants_and_conversions_per_variant_are_prometheus_series(offers_api: httpx.AsyncClient) -> None:
    body = (await offers_api.post("/v1/score", json=event("signup", customer="metrics_buyer_7"), headers=auth())).json()
    [granted] = body["offers"]
    offer, variant = granted["offer"], granted["variant"]
    report = (await offers_api.get("/v1/reports/experiments", headers=auth())).json()
    [experiment] = report["experiments"]
    labels = f'experiment="{experiment["experiment"]}",offer="{offer}",variant="{variant}"'
    for _ in range(2):  # a second paid order is not a second conversion
        await offers_api.post(
            "/v1/events", json=event("order_paid", customer="metrics_buyer_7", amount=99), headers=auth()
        )
    metrics = (await offers_api.get("/metrics")).text
    assert f"yutang_experiment_grants_total{{{labels}}} 1.0" in metrics
    assert f"yutang_experiment_conversions_total{{{labels}}} 1.0" in metrics
    assert "metrics_buyer_7" not in metrics  # never a customer id
