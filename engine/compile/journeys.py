"""``journeys:``, ``community:`` and ``webhooks:`` -> Automation, every problem at its line.

Journey conditions read what rule conditions read plus the customer's journey
(``journey.stage``, ``journey.tier``, ``journey.days_in_stage``, ``journey.days_silent``);
timeouts fire without an event, so their conditions may not read ``event.*``.
Community rules read the group's health (``community.*``) and the group event.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from typing import Any, cast

from engine.compile.conditions import compile_condition
from engine.compile.rules import check_event_types, check_unique_ids
from engine.diagnostics import Code, Diagnostic, Severity, did_you_mean
from engine.egress.policy import WebhookPolicy
from engine.events import EVENT_TYPES, GROUP_TYPES
from engine.expr.checker import Scope
from engine.expr.tree import Node, Type
from engine.journeys.model import Action, Automation, Conversion, HealthRule, Journey, Timeout, Transition, Webhook
from engine.model import Mode
from engine.pack.automation_schema import ActionItem, HealthRuleItem, JourneyItem, TimeoutItem, WebhookItem
from engine.pack.durations import parse_duration
from engine.pack.loader import Located

JOURNEY_NAMES: dict[str, Type] = {
    "journey.stage": Type.STRING,
    "journey.tier": Type.STRING,
    "journey.days_in_stage": Type.NUMBER,
    "journey.days_silent": Type.NUMBER,
}
COMMUNITY_NAMES: dict[str, Type] = {
    "community.members": Type.NUMBER,
    "community.joined_7d": Type.NUMBER,
    "community.left_7d": Type.NUMBER,
    "community.staff_messages_7d": Type.NUMBER,
    "community.red_packet_shares": Type.NUMBER,
    "community.red_packet_claimed": Type.NUMBER,
    "community.red_packet_unclaimed": Type.NUMBER,
}
RESERVED_PREFIXES = ("journey.", "community.")
JOURNEY_EVENT_TYPES = EVENT_TYPES - GROUP_TYPES


def compile_automation(
    *,
    journeys: list[Located[JourneyItem]],
    community: list[Located[HealthRuleItem]],
    webhooks: Mapping[str, Located[WebhookItem]],
    scope: Scope,
    offers: Collection[str],
    channels: Collection[str],
    diagnostics: list[Diagnostic],
    webhook_policy: WebhookPolicy | None = None,
) -> Automation:
    compiled_hooks = {
        name: hook
        for name, located in webhooks.items()
        if (hook := _webhook(name, located, webhook_policy, diagnostics))
    }
    refs = _Refs(offers, channels, webhooks, diagnostics)
    event_scope = replace(scope, names={**scope.names, **JOURNEY_NAMES})
    quiet_scope = replace(
        scope, names={n: t for n, t in event_scope.names.items() if not n.startswith(("event.", "attr."))}
    )
    check_unique_ids(journeys, "journey", diagnostics)
    compiled = [
        journey
        for located in journeys
        if located.item.mode is not Mode.OFF
        and (journey := _journey(located, event_scope, quiet_scope, refs, diagnostics))
    ]
    check_unique_ids(community, "community rule", diagnostics)
    group_scope = replace(
        scope, names={n: t for n, t in scope.names.items() if n.startswith("event.")} | COMMUNITY_NAMES
    )
    rules = [
        rule
        for located in community
        if located.item.mode is not Mode.OFF and (rule := _health_rule(located, group_scope, refs, diagnostics))
    ]
    return Automation(tuple(compiled), tuple(rules), compiled_hooks)


def conditions_of(automation: Automation) -> list[Node]:
    """Every journey condition: the features they read are kept and planned like rules' ones."""
    found: list[Node] = []
    for journey in automation.journeys:
        found += [t.condition for t in journey.transitions if t.condition is not None]
        found += [t.condition for t in journey.timeouts if t.condition is not None]
    return found


class _Refs:
    """What actions may name: offers, capped channels, webhooks."""

    def __init__(
        self,
        offers: Collection[str],
        channels: Collection[str],
        webhooks: Mapping[str, object],
        diagnostics: list[Diagnostic],
    ) -> None:
        self.known = {"offer": set(offers), "contact": set(channels), "webhook": set(webhooks)}
        self.codes = {"offer": Code.UNKNOWN_OFFER, "contact": Code.UNKNOWN_CHANNEL, "webhook": Code.UNKNOWN_WEBHOOK}
        self.diagnostics = diagnostics

    def actions(
        self, located: Located[Any], items: list[ActionItem], subject: str, *field: str | int
    ) -> tuple[Action, ...]:
        actions: list[Action] = []
        for index, item in enumerate(items):
            kind = item.kind
            target = str(getattr(item, kind))
            if kind in self.known and target not in self.known[kind]:
                what = {"offer": "offer", "contact": "contact channel", "webhook": "webhook"}[kind]
                why = "; no contact cap declares it" if kind == "contact" else ""
                self.diagnostics.append(
                    Diagnostic(
                        located.location(*field, "actions", index, kind),
                        self.codes[kind],
                        f"{subject}: unknown {what} '{target}'{did_you_mean(target, self.known[kind])}{why}",
                    )
                )
                continue
            actions.append(Action(kind, target))
        return tuple(actions)


def _journey(
    located: Located[JourneyItem], event_scope: Scope, quiet_scope: Scope, refs: _Refs, diagnostics: list[Diagnostic]
) -> Journey | None:
    item = located.item
    stages = tuple(item.stages)
    subject = f"journey '{item.id}'"
    errors = len(diagnostics)

    def stage(name: str, *where: str | int) -> str:
        if name not in item.stages:
            diagnostics.append(
                Diagnostic(
                    located.location(*where),
                    Code.UNKNOWN_STAGE,
                    f"{subject}: unknown stage '{name}'{did_you_mean(name, stages)}; stages: {', '.join(stages)}",
                )
            )
        return name

    stage(item.start, "start")
    transitions: list[Transition] = []
    for index, raw in enumerate(item.transitions):
        where = ("transitions", index)
        for i, source in enumerate(raw.from_):
            stage(source, *where, "from", i)
        stage(raw.to, *where, "to")
        on = check_event_types(
            _Sub(located, where), "on", raw.on, JOURNEY_EVENT_TYPES, diagnostics, f"{subject} transition #{index + 1}"
        )
        condition = _condition(located, (*where, "when"), raw.when, event_scope, diagnostics, subject)
        actions = refs.actions(located, raw.actions, subject, *where)
        transitions.append(
            Transition(index, frozenset(raw.from_), on, condition, raw.to, actions, located.location(*where))
        )
    timeout_items: list[Located[Any]] = [_Sub(located, ("timeouts", i), t) for i, t in enumerate(item.timeouts)]
    check_unique_ids(timeout_items, "timeout", diagnostics)
    timeouts = [_timeout(located, i, t, stage, quiet_scope, refs, diagnostics) for i, t in enumerate(item.timeouts)]
    conversions = []
    for index, conv in enumerate(item.conversions):
        stage(conv.from_, "conversions", index, "from")
        stage(conv.to, "conversions", index, "to")
        conversions.append(Conversion(conv.id, conv.from_, conv.to, conv.label or conv.id))
    if any(d.is_error for d in diagnostics[errors:]):
        return None
    _warn_unreachable(located, stages, transitions, [t for t in timeouts if t], diagnostics)
    labels = {
        name: (stage_item.label if stage_item and stage_item.label else name)
        for name, stage_item in item.stages.items()
    }
    return Journey(
        item.id,
        item.start,
        stages,
        labels,
        tuple(transitions),
        tuple(t for t in timeouts if t),
        tuple(conversions),
        located.location("id"),
    )


def _timeout(
    located: Located[JourneyItem],
    index: int,
    raw: TimeoutItem,
    stage: Callable[..., str],
    scope: Scope,
    refs: _Refs,
    diagnostics: list[Diagnostic],
) -> Timeout | None:
    where = ("timeouts", index)
    for i, name in enumerate(raw.in_):
        stage(name, *where, "in", i)
    if raw.to is not None:
        stage(raw.to, *where, "to")
    subject = f"journey '{located.item.id}' timeout '{raw.id}'"
    field = "after" if raw.after is not None else "silent"
    seconds = _duration(located, (*where, field), str(raw.after or raw.silent), subject, diagnostics)
    condition = _condition(located, (*where, "when"), raw.when, scope, diagnostics, subject)
    actions = refs.actions(located, raw.actions, subject, *where)
    if seconds is None:
        return None
    return Timeout(
        raw.id,
        frozenset(raw.in_),
        seconds,
        raw.silent is not None,
        condition,
        raw.to,
        actions,
        located.location(*where),
    )


def _warn_unreachable(
    located: Located[JourneyItem],
    stages: tuple[str, ...],
    transitions: list[Transition],
    timeouts: list[Timeout],
    diagnostics: list[Diagnostic],
) -> None:
    reached = {located.item.start} | {t.to for t in transitions} | {t.to for t in timeouts if t.to}
    for name in stages:
        if name not in reached:
            diagnostics.append(
                Diagnostic(
                    located.location("stages", name, key=True),
                    Code.UNREACHABLE_STAGE,
                    f"journey '{located.item.id}': no transition or timeout leads to stage '{name}'",
                    Severity.WARNING,
                )
            )


def _health_rule(
    located: Located[HealthRuleItem], scope: Scope, refs: _Refs, diagnostics: list[Diagnostic]
) -> HealthRule | None:
    item = located.item
    subject = f"community rule '{item.id}'"
    errors = len(diagnostics)
    on = check_event_types(cast("Located[object]", located), "on", item.on, GROUP_TYPES, diagnostics, subject)
    within = _duration(located, ("within",), item.within, subject, diagnostics) if item.within else None
    condition = _condition(located, ("when",), item.when, scope, diagnostics, subject)
    actions = refs.actions(located, item.actions, subject)
    if condition is None or any(d.is_error for d in diagnostics[errors:]):
        return None
    return HealthRule(
        item.id,
        on,
        within,
        condition,
        item.signal,
        item.reason["zh"],
        item.reason["en"],
        actions,
        located.location("id"),
    )


def _webhook(
    name: str, located: Located[WebhookItem], policy: WebhookPolicy | None, diagnostics: list[Diagnostic]
) -> Webhook | None:
    item = located.item
    subject = f"webhook '{name}'"
    errors = len(diagnostics)
    backoff = _duration(located, ("backoff",), item.backoff, subject, diagnostics)
    timeout = _duration(located, ("timeout",), item.timeout, subject, diagnostics)
    if policy is not None:
        _check_egress(subject, located, policy, diagnostics)
    if backoff is None or timeout is None or len(diagnostics) > errors:
        return None
    return Webhook(name, item.url, item.secret_env, item.attempts, backoff, timeout)


def _check_egress(
    subject: str, located: Located[WebhookItem], policy: WebhookPolicy, diagnostics: list[Diagnostic]
) -> None:
    """What the operator's policy refuses without DNS; delivery checks the resolved addresses again."""
    refusal = policy.url_refusal(located.item.url)
    if refusal is not None:
        diagnostics.append(Diagnostic(located.location("url"), Code.WEBHOOK_HOST_REFUSED, f"{subject}: {refusal}"))
    refusal = policy.secret_refusal(located.item.secret_env)
    if refusal is not None:
        diagnostics.append(
            Diagnostic(located.location("secret_env"), Code.WEBHOOK_SECRET_REFUSED, f"{subject}: {refusal}")
        )


def _condition(
    located: Located[Any],
    where: tuple[str | int, ...],
    text: str | None,
    scope: Scope,
    diagnostics: list[Diagnostic],
    subject: str,
) -> Node | None:
    if text is None:
        return None
    return compile_condition(_Sub(located, where[:-1]), str(where[-1]), text, scope, diagnostics, subject)


def _duration(
    located: Located[Any], where: tuple[str | int, ...], text: str, subject: str, diagnostics: list[Diagnostic]
) -> int | None:
    try:
        return parse_duration(text)
    except ValueError as err:
        diagnostics.append(Diagnostic(located.location(*where), Code.BAD_WINDOW, f"{subject}: {err}"))
        return None


def _Sub(located: Located[Any], path: tuple[str | int, ...], item: object = None) -> Located[Any]:
    """The same source, pointed at a nested item (so helpers written for top-level items work)."""
    return Located(item if item is not None else located.item, located.source, (*located.path, *path))
