"""The review test pack: a studio's trial and newcomer gift, a review rule, the review and clawback sections.

Written into a temporary directory per test module, with the port of a local webhook
receiver: the clawback webhook is delivered for real by ``yutang worker``.
"""

from __future__ import annotations

from pathlib import Path

PACK = """
pack: {{name: review-test, timezone: Asia/Shanghai}}

decision: {{review_at: 40, deny_at: 70, withhold_offers_on: [review, deny]}}

lists:
  virtual_segments: ["170", "171"]

features:
  device.accounts_24h: {{distinct: customer, by: device, window: 24h}}
  payment.accounts_30d: {{distinct: customer, by: payment, window: 30d}}

tiers:
  - {{id: occasional, label: 偶然型, default: true}}

rules:
  - id: device_farm
    code: 1001
    on: [signup, coupon_claim, red_packet_claim]
    when: device.accounts_24h >= 3
    score: 80
    reason: {{zh: 同一设备24小时内多个账号, en: many accounts on one device in 24h}}
  - id: virtual_phone
    code: 1004
    on: [signup, coupon_claim, red_packet_claim, referral]
    when: phone.segment in lists.virtual_segments
    score: 45
    reason: {{zh: 虚拟运营商号段, en: virtual operator number}}
  - id: wallet_of_many
    code: 1005
    on: [order]
    when: payment.accounts_30d >= 3
    score: 80
    reason: {{zh: 一个钱包付多个新账号, en: one wallet pays for many accounts}}
  - id: blocked_customer
    code: 1003
    on: [signup, coupon_claim, red_packet_claim, referral]
    when: customer.blocked
    score: 100
    decision: deny
    reason: {{zh: 用户在黑名单中, en: customer is on the block list}}

offers:
  - id: trial_99
    label: 99元体验
    tiers: [occasional]
    on: [signup]
    effect: {{type: trial, value: 99}}
    priority: 10
    group: entry_offer
    budget: {{total: {trial_total}, per_customer: 1}}
  - id: newcomer_gift
    label: 新人礼30元
    tiers: [occasional]
    on: [coupon_claim]
    effect: {{type: coupon, value: 30}}
    budget: {{total: 100, per_customer: 1}}
    hold: {{until: order_paid, void_after: 7d}}
  - id: referral_gift
    label: 老带新礼
    tiers: [occasional]
    on: [referral]
    beneficiary: referrer
    effect: {{type: gift, value: 50}}
    budget: {{total: 100, per_customer: 10}}
    hold: {{until: order_paid, void_after: 30d}}

review:
  sla: {sla}
  on_timeout: {on_timeout}
  lease: 10m
  deny: {{block: [customer], watch: [customer]}}

clawback:
  on: [fraud_label, chargeback, refund_released, case_denied, linked_at_checkout, denied_at_checkout]
  window: 30d
  webhook: crm
  linked: watch

webhooks:
  crm:
    url: http://127.0.0.1:{hook_port}/clawbacks
    secret_env: YUTANG_WEBHOOK_SECRET_TEST
    attempts: 3
    backoff: 1s
    timeout: 2s
"""

HOOK_SECRET = "hook-secret-0123456789"
#: The servers' settings: the pack's loopback webhook allowed, Redis timeouts for a box shared by several suites
ENV = {
    "YUTANG_WEBHOOK_HOSTS": "127.0.0.1",
    "YUTANG_WEBHOOK_SECRET_TEST": HOOK_SECRET,
    "YUTANG_REDIS_TIMEOUT_MS": "5000",
}


def write_pack(
    root: Path, *, hook_port: int = 9, sla: str = "4h", on_timeout: str = "keep", trial_total: int = 50
) -> Path:
    """The pack's directory under ``root``."""
    folder = root / "review-pack"
    folder.mkdir(parents=True, exist_ok=True)
    text = PACK.format(hook_port=hook_port, sla=sla, on_timeout=on_timeout, trial_total=trial_total)
    (folder / "pack.yaml").write_text(text, encoding="utf-8")
    return folder
