"""The pack's ``review:`` and ``clawback:`` sections and ``hold: {until, void_after}``: meaning and mistakes.

Every mistake names file:line:col and a code, all at once, as everywhere in a pack.
"""

from __future__ import annotations

from engine.compile.pack import compile_files
from engine.egress.policy import WebhookPolicy

BASE = """
pack: {name: t}
tiers:
  - {id: everyone, default: true}
offers:
  - id: gift
    tiers: [everyone]
    on: [coupon_claim]
    effect: {type: coupon, value: 30}
    HOLD
webhooks:
  crm: {url: "https://crm.example/hooks", secret_env: YUTANG_WEBHOOK_SECRET_CRM}
"""


def compile_pack(extra: str, hold: str = "hold: {until: order_paid, void_after: 7d}") -> tuple[object, list[str]]:
    text = BASE.replace("HOLD", hold) + extra
    ruleset, diagnostics = compile_files({"p.yaml": text}, webhook_policy=WebhookPolicy())
    return ruleset, [d.render() for d in diagnostics if d.is_error]


def test_review_and_clawback_sections_compile_into_policies() -> None:
    ruleset, errors = compile_pack(
        "review: {sla: 2h, on_timeout: deny, deny: {block: [customer, device], watch: [phone]}}\n"
        "clawback: {on: [refund_released, linked_at_checkout], window: 14d, webhook: crm, linked: case}\n"
    )
    assert errors == []
    review, clawback = ruleset.review, ruleset.clawback  # type: ignore[attr-defined]
    assert (review.sla_seconds, review.on_timeout, review.deny_block, review.deny_watch) == (
        7200,
        "deny",
        ("customer", "device"),
        ("phone",),
    )
    assert (clawback.on, clawback.window_seconds, clawback.webhook, clawback.linked) == (
        frozenset({"refund_released", "linked_at_checkout"}),
        14 * 86400,
        "crm",
        "case",
    )
    hold = ruleset.offers[0].hold  # type: ignore[attr-defined]
    assert (hold.release_on, hold.seconds) == ("order_paid", 7 * 86400)


def test_without_the_sections_a_case_waits_four_hours_and_nothing_is_clawed_back() -> None:
    ruleset, errors = compile_pack("", hold="description: plain")
    assert errors == []
    assert ruleset.review.sla_seconds == 4 * 3600 and ruleset.review.on_timeout == "keep"  # type: ignore[attr-defined]
    assert ruleset.clawback.on == frozenset()  # type: ignore[attr-defined]


def test_mistakes_name_their_place_and_code() -> None:
    _, errors = compile_pack(
        "review: {sla: 4 hours, on_timeout: keep, deny: {watch: [ip]}}\nclawback: {on: [refund], webhook: crn}\n",
        hold="hold: {until: order_payed, void_after: 7d, release_on: order_paid}",
    )
    assert [e.split(" ", 2)[:2] for e in errors] == [
        ["p.yaml:10:19", "UNKNOWN_EVENT_TYPE"],  # order_payed (did you mean order_paid?)
        ["p.yaml:10:48", "INVALID_VALUE"],  # until and release_on both
        ["p.yaml:13:15", "BAD_WINDOW"],  # '4 hours'
        ["p.yaml:13:57", "UNKNOWN_ENTITY"],  # a denial never lists an IP
        ["p.yaml:14:17", "INVALID_VALUE"],  # 'refund' is an outcome, not a cause: the causes are listed
    ]
    assert "(did you mean 'order_paid'?)" in errors[0] and "shared by honest customers" in errors[3]
    assert "'linked_at_checkout'" in errors[4]
    _, webhook = compile_pack("clawback: {on: [chargeback], webhook: crn}\n")
    assert webhook == ["p.yaml:13:39 UNKNOWN_WEBHOOK clawback.webhook: unknown webhook 'crn' (did you mean 'crm'?); "
                       "declare it under 'webhooks:'"]  # fmt: skip
