"""Late evidence: an outcome that reveals abuse re-examines what was already granted.

The pack's ``clawback:`` section names the causes it acts on and the window it looks
back over (engine.model.ClawbackPolicy):

- ``linked_at_checkout``: a paid order whose device, phone or address is listed because
  of an account labelled fraud (engine.cases.links). Examined *before* the order's holds
  are released: the payer's pending holds are voided instead, its open reservations
  cancelled, its rewards within the window marked for clawback, and the payer is put on
  watch or into a case (``linked: watch | case``);
- ``fraud_label`` (``label: fraud``), ``case_denied`` (a reviewer's or timeout's denial,
  recorded as a fraud label), ``chargeback``: the customer's remaining holds voided, its
  reservations cancelled, its rewards within the window and the rewards its paid orders
  released for others (a referrer's gift) marked for clawback;
- ``refund_released``: a refund of the order that released a held reward (刷单): that
  reward, whoever received it, marked for clawback;
- ``denied_at_checkout``: an ``order`` the rules deny on ``/v1/score`` (one wallet paying for
  a farm's accounts, 自己拼自己) voids the payer's pending holds, cancels its reservations,
  marks its rewards within the window for clawback, and watches the payer and the order's
  wallet for the window (cause ``checkout:denied:<payer>``, engine.cases.links). A later
  release outcome (``order_paid``, ``store_visit``) of that payer, or of any account that
  paid from that wallet (its stored payment identities), releases nothing: its holds are
  voided before the ledger can release them, as for ``linked_at_checkout``;
- ``self_filled_group``: a ``group_buy_join`` the rules deny whose member is among the strong
  links (``{C}:lk:peers``, the same device, phone, address or wallet) of the join's referrer,
  the group's leader (自己拼自己, a 团长's alts), and who shares a device or a wallet with her
  (``{C}:links``, or she is among the users of the join's device or wallet, ``{I}:lk:cus``:
  engine.features.links ``untyped_reads``; an address or phone alone is typed, and a leader's are known to her group:
  a rival typing them on a throwaway must not void her rewards, session 14): the leader's and
  the member's pending holds are voided, their reservations cancelled, their rewards within
  the window marked for clawback,
  and both are watched for the window (cause ``group:self-filled:<leader>``): a later release
  outcome of either releases nothing, as for a denied checkout's payer. The referrer is the
  caller's claim, so it only counts when the link is there too: a farm's alts joining a
  stranger's open group do not reach her rewards.

Every step is idempotent on the cause's event id (a hold moves once, a clawback is
written once per reward), written to the affected customers' histories with its cause,
counted, and each clawback is announced by the pack's webhook.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from api.journeys.service import automation
from api.runtime import Runtime
from engine.cases.book import Opening
from engine.cases.keys import actor_of, case_id_for
from engine.cases.links import (
    DENIED_AT_CHECKOUT,
    DENIED_CAUSE,
    HUB_CAUSE,
    RELEASES,
    SELF_FILLED_CAUSE,
    SELF_FILLED_GROUP,
    WALLET_FANOUT,
    Link,
    links_of,
)
from engine.datastore.batches import run_batch, text
from engine.datastore.keys import digest, safe_id
from engine.events import Event
from engine.features.links import peers_key, untyped_link, untyped_reads
from engine.features.spec import Entity, ListKind
from engine.offers.clawbacks import Clawback, history_calls
from engine.offers.results import HoldChange, ReservationChange
from engine.rule_engine import LoadedRuleSet

AUTHOR = "late-evidence"


@dataclass
class Findings:
    """What one outcome's late evidence did, for the answer and the history."""

    cause: str
    links: list[Link] = field(default_factory=list)
    voided: list[HoldChange] = field(default_factory=list)
    cancelled: list[ReservationChange] = field(default_factory=list)
    clawbacks: list[Clawback] = field(default_factory=list)
    listed: list[str] = field(default_factory=list)  # watch | case
    case_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "cause": self.cause,
            "links": [link.as_dict() for link in self.links],
            "voided": [
                {"hold_id": h.hold_id, "offer": h.offer_id, "beneficiary": h.beneficiary_id} for h in self.voided
            ],
            "cancelled": [{"reservation_id": r.reservation_id, "offer": r.offer_id} for r in self.cancelled],
            "clawbacks": [c.as_dict() for c in self.clawbacks],
            "listed": self.listed,
            "case_id": self.case_id,
        }


def cause_of(event: Event, override: str | None = None) -> str | None:
    """The late-evidence cause an outcome stands for (before the pack says whether it acts on it)."""
    if override is not None:
        return override
    if event.type == "label" and event.label == "fraud":
        return "fraud_label"
    if event.type in ("chargeback", "refund"):
        return "chargeback" if event.type == "chargeback" else "refund_released"
    return None


async def before_release(runtime: Runtime, tenant: str, event: Event, loaded: LoadedRuleSet) -> Findings | None:
    """A release outcome linked at checkout, or marked by a denied checkout: void before it releases anything."""
    policy = loaded.ruleset.clawback
    linked = event.type == "order_paid" and "linked_at_checkout" in policy.on
    denied = event.type in RELEASES and bool({DENIED_AT_CHECKOUT, SELF_FILLED_GROUP} & policy.on)
    if not (linked or denied):
        return None
    services = runtime.services
    wallets: list[str] = []
    if denied:  # the wallets the payer paid from (its links set): a farm member's visit carries none
        known = await runtime.guard.call(
            "evidence", services.store.known_identities(tenant=tenant, customer=event.customer)
        )
        wallets = [i for entity, i in known if entity is Entity.PAYMENT]
    links = await runtime.guard.call(
        "evidence",
        links_of(services.client, services.keys, tenant=tenant, event=event, denied=denied, wallets=wallets),
    )
    marked = [
        link for link in links if link.cause in (DENIED_AT_CHECKOUT, SELF_FILLED_GROUP) and link.cause in policy.on
    ]
    links = marked or (links if linked else [])
    if not links:
        return None
    found = Findings(links[0].cause, links=links)
    await _void_and_cancel(runtime, tenant, event.customer, found, event)
    return found


async def on_denied_checkout(
    runtime: Runtime, tenant: str, event: Event, loaded: LoadedRuleSet, wallet_accounts: object = None
) -> Findings | None:
    """An order the rules denied: void, cancel and claw back the payer's rewards; watch the payer and its wallet.

    ``wallet_accounts``: the pack's ``payment.accounts_30d`` for the order, when it reads it. A
    wallet that paid for more than :data:`WALLET_FANOUT` accounts is a hub (a company's account,
    a 代付 service): its mark reaches an order that carries it, not every account it paid for.
    """
    policy = loaded.ruleset.clawback
    if event.type != "order" or DENIED_AT_CHECKOUT not in policy.on:
        return None
    found = Findings(DENIED_AT_CHECKOUT)
    await _void_and_cancel(runtime, tenant, event.customer, found, event)
    since = event.timestamp - timedelta(seconds=policy.window_seconds)
    values = {o.id: o.effect.value for o in loaded.ruleset.offers}
    at, ref = event.timestamp.astimezone(UTC), event.event_id
    found.clawbacks += await runtime.guard.call(
        "evidence", runtime.services.clawbacks.against(tenant=tenant, customer=event.customer, since=since,
                                                       cause=found.cause, cause_event=ref, at=at, values=values),
    )  # fmt: skip
    expires = event.timestamp + timedelta(seconds=policy.window_seconds)
    lists, cause = runtime.services.store.lists, f"{DENIED_CAUSE}{event.customer}"
    hub = isinstance(wallet_accounts, int | float) and wallet_accounts > WALLET_FANOUT
    marks = [(Entity.CUSTOMER, event.customer, cause)]
    if event.payment:
        marks.append((Entity.PAYMENT, event.payment, f"{HUB_CAUSE}{event.customer}" if hub else cause))
    await runtime.guard.call(
        "evidence", lists.add_values(tenant=tenant, values=marks, kind=ListKind.WATCH, author=AUTHOR,
                                     reason=f"checkout denied by the rules (event {ref})", expires_at=expires),
    )  # fmt: skip
    found.listed += [f"watch:{entity.value}" for entity, _, _ in marks]
    await _record(runtime, tenant, event, loaded, found)
    return found


async def on_self_filled_group(runtime: Runtime, tenant: str, event: Event, loaded: LoadedRuleSet) -> list[Findings]:
    """A group-buy join the rules denied, its member linked to the group's leader: void, claw back, watch both."""
    policy, leader = loaded.ruleset.clawback, event.referrer
    if event.type != "group_buy_join" or not leader or leader == event.customer or SELF_FILLED_GROUP not in policy.on:
        return []
    services = runtime.services
    reads = [("ZRANGE", peers_key(tenant, event.customer), 0, -1),
             *untyped_reads(services.keys, tenant, event.customer, leader, event)]  # fmt: skip
    replies = await runtime.guard.call("evidence", run_batch(services.client, reads))
    if safe_id(leader) not in {text(p) for p in replies[0]}:
        return []  # the referrer is a claim: only a member linked to her reaches her rewards
    if not untyped_link(replies[1:]):
        return []  # linked by a typed address or phone only: anyone can type the leader's (session 14)
    since = event.timestamp - timedelta(seconds=policy.window_seconds)
    expires = event.timestamp + timedelta(seconds=policy.window_seconds)
    values = {o.id: o.effect.value for o in loaded.ruleset.offers}
    at, ref = event.timestamp.astimezone(UTC), event.event_id
    out: list[Findings] = []
    for party in sorted({leader, event.customer}):
        found = Findings(SELF_FILLED_GROUP)
        await _void_and_cancel(runtime, tenant, party, found, event)
        found.clawbacks += await runtime.guard.call(
            "evidence", services.clawbacks.against(tenant=tenant, customer=party, since=since, cause=found.cause,
                                                   cause_event=ref, at=at, values=values),
        )  # fmt: skip
        mark = [(Entity.CUSTOMER, party, f"{SELF_FILLED_CAUSE}{leader}")]
        why = f"self-filled group-buy (event {ref})"
        await runtime.guard.call(
            "evidence", services.store.lists.add_values(tenant=tenant, values=mark, kind=ListKind.WATCH, author=AUTHOR,
                                                        reason=why, expires_at=expires),
        )  # fmt: skip
        found.listed.append("watch:customer")
        await _record(runtime, tenant, event.model_copy(update={"customer": party}), loaded, found)
        out.append(found)
    return out


async def after_outcome(
    runtime: Runtime,
    tenant: str,
    event: Event,
    loaded: LoadedRuleSet,
    early: Findings | None,
    override: str | None = None,
) -> Findings | None:
    """The clawbacks, listings and cases the outcome's evidence calls for (``early``: found at checkout)."""
    policy = loaded.ruleset.clawback
    cause = early.cause if early is not None else cause_of(event, override)
    if cause is None or cause not in policy.on:
        return None
    found = early or Findings(cause)
    since = event.timestamp - timedelta(seconds=policy.window_seconds)
    values = {o.id: o.effect.value for o in loaded.ruleset.offers}
    claw = runtime.services.clawbacks
    at, ref = event.timestamp.astimezone(UTC), event.event_id
    if cause == "refund_released":
        order = str(event.attributes.get("order_id") or "")
        found.clawbacks += await runtime.guard.call(
            "evidence", claw.released_by(tenant=tenant, payer=event.customer, order=order, since=since,
                                         cause=cause, cause_event=ref, at=at, values=values),
        )  # fmt: skip
    else:
        if early is None:
            await _void_and_cancel(runtime, tenant, event.customer, found, event)
        found.clawbacks += await runtime.guard.call(
            "evidence", claw.against(tenant=tenant, customer=event.customer, since=since, cause=cause,
                                     cause_event=ref, at=at, values=values),
        )  # fmt: skip
        found.clawbacks += await runtime.guard.call(
            "evidence", claw.released_by(tenant=tenant, payer=event.customer, order="", since=since,
                                         cause=cause, cause_event=ref, at=at, values=values),
        )  # fmt: skip
    if cause == "linked_at_checkout":
        await _list_linked(runtime, tenant, event, loaded, found)
    if not (found.voided or found.cancelled or found.clawbacks or found.links):
        return None
    await _record(runtime, tenant, event, loaded, found)
    return found


async def _void_and_cancel(runtime: Runtime, tenant: str, customer: str, found: Findings, event: Event) -> None:
    ledger, at = runtime.services.ledger, event.timestamp.astimezone(UTC)
    cause = f"late:{found.cause}"
    found.voided += await runtime.guard.call(
        "evidence",
        ledger.decide_holds(tenant=tenant, customer=customer, verb="void", cause=cause, at=at,
                            cause_event=event.event_id),
    )  # fmt: skip
    found.cancelled += await runtime.guard.call(
        "evidence",
        ledger.cancel_reservations(tenant=tenant, customer=customer, cause=cause, at=at, cause_event=event.event_id),
    )


async def _list_linked(runtime: Runtime, tenant: str, event: Event, loaded: LoadedRuleSet, found: Findings) -> None:
    """The payer linked at checkout goes on watch, or into a case, as the pack says."""
    policy, others = loaded.ruleset.clawback, sorted({link.other or "a blocked identity" for link in found.links})
    why = f"linked at checkout (event {event.event_id}) to {', '.join(others)}"
    if policy.linked == "watch":
        await runtime.guard.call(
            "evidence", runtime.services.store.add_entry(tenant=tenant, entity=Entity.CUSTOMER, value=event.customer,
                                                         kind=ListKind.WATCH, reason=why[:200], author=AUTHOR),
        )  # fmt: skip
        found.listed.append("watch")
    elif policy.linked == "case":
        review = loaded.ruleset.review
        actor, at = actor_of(event.customer), event.timestamp.timestamp()
        record = {"event_id": event.event_id, "type": event.type, "at": event.timestamp.isoformat(),
                  "decision": "late_evidence", "score": 0, "reasons": [], "withheld": [],
                  "links": [link.as_dict() for link in found.links]}  # fmt: skip
        opening = Opening(actor, event.customer, case_id_for(actor, event.event_id), event.event_id, at,
                          at + review.sla_seconds, 0, 0.0, "", ["linked_at_checkout"], record)  # fmt: skip
        found.case_id, _, _ = await runtime.guard.call("evidence", runtime.services.cases.open(tenant, opening))
        found.listed.append("case")


async def _record(runtime: Runtime, tenant: str, event: Event, loaded: LoadedRuleSet, found: Findings) -> None:
    """Each step into its customer's history, the counters, and one webhook per clawback."""
    base = {"at": event.timestamp.astimezone(UTC).isoformat(), "cause": found.cause, "cause_event": event.event_id}
    steps: dict[str, list[dict[str, Any]]] = {}
    for hold in found.voided:
        for who in {hold.subject_id, hold.beneficiary_id}:
            steps.setdefault(who, []).append(
                {**base, "action": "voided", "offer": hold.offer_id, "hold_id": hold.hold_id}
            )
    for reservation in found.cancelled:
        steps.setdefault(reservation.customer_id, []).append(
            {**base, "action": "cancelled", "offer": reservation.offer_id, "reservation_id": reservation.reservation_id}
        )
    for claw in found.clawbacks:
        steps.setdefault(claw.customer, []).append(
            {**base, "action": "clawback", "offer": claw.offer_id, "event_id": claw.event_id, "value": claw.value}
        )
    linked = sorted({link.other for link in found.links if link.other})
    for listed in found.listed:
        step = {**base, "action": listed, "case_id": found.case_id, "linked": linked}
        steps.setdefault(event.customer, []).append(step)
    keep = runtime.services.clawbacks.keep_seconds
    calls = [c for who, entries in steps.items() for c in history_calls(tenant, who, entries, keep)]
    await runtime.guard.call("evidence", runtime.services.writes.send(calls))
    metrics = runtime.metrics
    for action, count in (("voided", len(found.voided)), ("cancelled", len(found.cancelled)),
                          ("clawback", len(found.clawbacks)), *((name, 1) for name in found.listed)):  # fmt: skip
        if count:
            metrics.late_evidence.labels(found.cause, action).inc(count)
    await _announce(runtime, tenant, loaded, found)


async def _announce(runtime: Runtime, tenant: str, loaded: LoadedRuleSet, found: Findings) -> None:
    name = loaded.ruleset.clawback.webhook
    hook = loaded.ruleset.automation.webhooks.get(name) if name else None
    if hook is None or not found.clawbacks:
        return
    outbox, now = automation(runtime).outbox, time.time()
    for claw in found.clawbacks:
        body = {"event": "clawback", "sent_at": datetime.now(UTC).isoformat(), **claw.as_dict()}
        delivery = f"clawback-{digest(f'{tenant}|{claw.key}')}"
        await runtime.guard.call(
            "evidence", outbox.enqueue(tenant=tenant, hook=hook, delivery=delivery, body=body, at=now)
        )
