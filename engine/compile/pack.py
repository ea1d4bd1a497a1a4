"""Validated pack -> CompiledRuleSet. Every section is checked; all problems are reported."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path

from engine.area.payers import AreaPolicy
from engine.compile.bindings import compile_bindings
from engine.compile.cases import compile_cases
from engine.compile.features import compile_features, feature_type, service_area
from engine.compile.journeys import RESERVED_PREFIXES, compile_automation, conditions_of
from engine.compile.names import AREA_FIELDS, ATTRIBUTE_TYPES, DERIVED_FIELDS, EVENT_FIELDS, IP_HOSTING
from engine.compile.offer_terms import compile_offer_groups
from engine.compile.policies import (
    compile_contacts,
    compile_decision,
    compile_seed_lists,
    resolve_phone_region,
    resolve_zone,
)
from engine.compile.regex_budget import check_regex_budget
from engine.compile.review import compile_clawback, compile_review
from engine.compile.rules import compile_offers, compile_rules, compile_tiers
from engine.compile.scenarios import Names, compile_scenarios
from engine.compile.size_budget import check_size_budget
from engine.diagnostics import Code, Diagnostic, Location, Severity, sort_diagnostics, syntax_first
from engine.egress.policy import WebhookPolicy
from engine.errors import RuleLoadError
from engine.events import EVENT_TYPES, SCORED_TYPES
from engine.expr.checker import Scope, scalar_type
from engine.expr.tree import Node, Scalar, Type, names_read
from engine.features import bindings, code_origin
from engine.features.plan import PAID_MARKS
from engine.features.referral_refunds import METRICS as REFUND_METRICS
from engine.features.referral_refunds import REFUND_TYPES
from engine.features.referrer_paid import METRICS as REFERRER_PAID_METRICS
from engine.features.spec import (
    ANCHORED_TO_CODE_ORIGIN,
    ORIGIN_MEMBERS,
    ORIGIN_STRANGERS,
    OUTSIDE_BINDING,
    TIED_TO_CODE_ORIGIN,
    BindingFeature,
    CodeOriginFeature,
    FeatureSpec,
    GroupFeature,
    LinkFeature,
    OriginMetric,
    ReferralFeature,
    WindowedFeature,
    builtin_list_features,
)
from engine.model import CompiledRuleSet, Mode, Predicate
from engine.pack.layering import load_layered
from engine.pack.loader import TENANTS_DIR, ValidatedPack, read_pack_files

#: A backend's compile-time guard: diagnostics for what it cannot evaluate.
BackendCheck = Callable[[Sequence[Predicate], Mapping[str, Location]], list[Diagnostic]]


def compile_files(
    files: Mapping[str, str],
    *,
    today: date | None = None,
    checks: Iterable[BackendCheck] = (),
    webhook_policy: WebhookPolicy | None = None,
    tenant_files: Mapping[str, str] | None = None,
) -> tuple[CompiledRuleSet | None, list[Diagnostic]]:
    """Compile pack text; the rule set is None when any diagnostic is an error.

    ``webhook_policy``: the deployment's, so a webhook URL or secret it refuses is a
    diagnostic now rather than a refused delivery later (None: not checked here; delivery
    always checks). ``tenant_files``: a tenant's pack layered on ``files`` (the base;
    engine/pack/layering.py).
    """
    pack = load_layered(files, tenant_files)
    ruleset, diagnostics = _compile(pack, today or datetime.now().date(), tuple(checks), webhook_policy)
    diagnostics = syntax_first(sort_diagnostics(diagnostics))
    if any(d.is_error for d in diagnostics):
        return None, diagnostics
    return ruleset, diagnostics


def compile_path(
    path: str | Path,
    *,
    today: date | None = None,
    checks: Iterable[BackendCheck] = (),
    webhook_policy: WebhookPolicy | None = None,
    base: str | Path | None = None,
) -> tuple[CompiledRuleSet | None, list[Diagnostic]]:
    """The pack at ``path``; with ``base``, ``path`` is a tenant's pack layered on it."""
    files, tenant = read_layers(path, base)
    return compile_files(files, today=today, checks=checks, webhook_policy=webhook_policy, tenant_files=tenant)


def read_layers(path: str | Path, base: str | Path | None = None) -> tuple[dict[str, str], dict[str, str] | None]:
    """(base files, tenant files or None) for ``path`` alone or ``path`` on ``base``."""
    if base is None:
        return read_pack_files(path), None
    return read_pack_files(base), read_pack_files(path)


def tenant_pack_path(root: str | Path, tenant: str) -> Path:
    """Where the directory workflow keeps ``tenant``'s pack: ``<root>/tenants/<tenant>/``."""
    return Path(root) / TENANTS_DIR / tenant


def load_ruleset(
    path: str | Path, *, today: date | None = None, checks: Iterable[BackendCheck] = ()
) -> CompiledRuleSet:
    """Compile or raise RuleLoadError with every diagnostic."""
    ruleset, diagnostics = compile_path(path, today=today, checks=checks)
    if ruleset is None:
        raise RuleLoadError(diagnostics)
    return ruleset


def _compile(
    pack: ValidatedPack, today: date, checks: tuple[BackendCheck, ...], webhook_policy: WebhookPolicy | None
) -> tuple[CompiledRuleSet, list[Diagnostic]]:
    diagnostics = list(pack.diagnostics)
    zone_name, zone = resolve_zone(pack, diagnostics)
    region = resolve_phone_region(pack, diagnostics)
    attributes = {f"attr.{name}": ATTRIBUTE_TYPES[located.item] for name, located in pack.attributes.items()}
    area = service_area(pack.meta, diagnostics)
    features = compile_features(pack.features, attributes, diagnostics, area)
    builtins: dict[str, FeatureSpec] = {
        **builtin_list_features(),
        OUTSIDE_BINDING: compile_bindings(pack, diagnostics),
        TIED_TO_CODE_ORIGIN: CodeOriginFeature(TIED_TO_CODE_ORIGIN, OriginMetric.TIED),
        ORIGIN_MEMBERS: CodeOriginFeature(ORIGIN_MEMBERS, OriginMetric.MEMBERS),
        ANCHORED_TO_CODE_ORIGIN: CodeOriginFeature(ANCHORED_TO_CODE_ORIGIN, OriginMetric.ANCHORED),
        ORIGIN_STRANGERS: CodeOriginFeature(ORIGIN_STRANGERS, OriginMetric.STRANGERS, 7 * 86_400),
    }
    _check_feature_names(pack, builtins, diagnostics)
    all_features: dict[str, FeatureSpec] = {**builtins, **features}
    lists = {name: frozenset(located.item) for name, located in pack.lists.items()}
    # Features that failed their own checks stay readable, so one mistake is reported once.
    declared = dict.fromkeys(pack.features, Type.NUMBER) | {n: feature_type(s) for n, s in all_features.items()}
    scope = Scope(
        names={**EVENT_FIELDS, **DERIVED_FIELDS, **attributes, **declared},
        lists=lists,
        list_types=_list_types(lists),
    )
    decision = compile_decision(pack.decision, diagnostics)
    tiers = compile_tiers(pack.tiers, scope, diagnostics)
    tier_ids = frozenset(t.id for t in tiers) | frozenset(t.item.id for t in pack.tiers)
    if not pack.tiers and not any(d.code in (Code.YAML_SYNTAX, Code.EMPTY_PACK) for d in pack.diagnostics):
        diagnostics.append(
            Diagnostic(
                Location(pack.files[0].path if pack.files else "<pack>", 1, 1),
                Code.NO_DEFAULT_TIER,
                "the pack declares no tiers; add at least a default tier",
            )
        )
    rules = compile_rules(pack.rules, scope, diagnostics, today)
    offers = compile_offers(pack.offers, scope, tier_ids, decision.withhold_offers_on, zone, diagnostics)
    offer_groups = compile_offer_groups(pack.offer_groups, pack.offers, diagnostics)
    contacts = compile_contacts(pack.contacts, tier_ids, diagnostics)
    automation = compile_automation(
        journeys=pack.journeys,
        community=pack.community,
        webhooks=pack.webhooks,
        scope=scope,
        offers={o.item.id for o in pack.offers},
        channels={c.channel for c in contacts.caps},
        diagnostics=diagnostics,
        webhook_policy=webhook_policy,
    )
    review = compile_review(pack.review, diagnostics)
    clawback = compile_clawback(pack.clawback, set(pack.webhooks), diagnostics)
    live_rules = tuple(r for r in rules if r.mode is not Mode.OFF and (r.expires is None or r.expires > today))
    predicates = _predicates(live_rules, tiers, offers)
    locations = (
        {f"rule:{r.id}": r.location for r in rules}
        | {f"tier:{t.id}": t.location for t in tiers}
        | {f"offer:{o.id}": o.location for o in offers}
    )
    diagnostics.extend(check_regex_budget(predicates, locations))
    for check in checks:
        diagnostics.extend(check(predicates, locations))
    used = _used_features(predicates, all_features)
    reads_area = [(p.key, n) for p in predicates for n in AREA_FIELDS if n in names_read(p.condition)]
    learned = pack.meta is not None and pack.meta.item.service_area_learned
    if reads_area and not area and not learned:
        key, name = reads_area[0]
        what = "number's" if name.startswith("phone.") else "address's"
        message = f"'{name}' compares the {what} province with the merchant's: declare pack.service_area"
        diagnostics.append(Diagnostic(locations[key], Code.MISSING_FIELD, message))
    used |= {n for c in conditions_of(automation) for n in names_read(c) if n in all_features}
    feature_locations = {name: located.location(key=True) for name, located in pack.features.items()}
    offer_ids = [o.id for o in offers]
    diagnostics.extend(check_size_budget(predicates, locations, used, feature_locations, offer_ids))
    for name, located in pack.features.items():
        if name in features and name not in used:
            diagnostics.append(
                Diagnostic(
                    located.location(key=True),
                    Code.UNUSED_FEATURE,
                    f"feature '{name}' is declared but no active or shadow rule, tier or offer reads it",
                    Severity.WARNING,
                )
            )
    cases = compile_cases(
        pack.tests,
        rule_ids={r.item.id for r in pack.rules},
        tier_ids=tier_ids,
        offer_ids={o.item.id for o in pack.offers},
        names=set(all_features),
        diagnostics=diagnostics,
        region=region,
    )
    scenarios = compile_scenarios(
        pack.scenarios,
        Names(
            rules={r.item.id for r in pack.rules},
            tiers=tier_ids,
            offers={o.item.id for o in pack.offers},
            group_buys={o.item.id for o in pack.offers if o.item.group_buy is not None},
            channels={c.channel for c in contacts.caps},
            stages={j.item.id: set(j.item.stages) for j in pack.journeys},
            region=region,
        ),
        diagnostics,
    )
    ruleset = CompiledRuleSet(
        version=pack.version,
        name=pack.meta.item.name if pack.meta else "unnamed",
        timezone=zone_name,
        rules=live_rules,
        tiers=tiers,
        offers=offers,
        features={n: all_features[n] for n in used},
        attributes=attributes,
        lists=lists,
        decision=decision,
        contacts=contacts,
        seed_lists=compile_seed_lists(pack, zone, region, diagnostics),
        tests=cases,
        predicates=predicates,
        feature_plan=(reads := _feature_plan(predicates, all_features)),
        record_plan=_record_plan(reads, {n: all_features[n] for n in used}),
        files=tuple(f.path for f in pack.files),
        all_rules=rules,
        phone_region=region,
        service_area=area if reads_area else None,
        area_policy=AreaPolicy(declared=area, learned=learned) if reads_area else None,
        reads_hosting=any(IP_HOSTING in names_read(p.condition) for p in predicates),
        offer_groups=offer_groups,
        automation=automation,
        declared_features=tuple(features),
        review=review,
        clawback=clawback,
        scenarios=scenarios,
    )
    return ruleset, diagnostics


def _check_feature_names(
    pack: ValidatedPack, builtins: Mapping[str, FeatureSpec], diagnostics: list[Diagnostic]
) -> None:
    reserved = set(builtins) | set(EVENT_FIELDS) | set(DERIVED_FIELDS)
    for name, located in pack.features.items():
        if name in reserved or name.startswith(("attr.", "lists.", *RESERVED_PREFIXES)):
            diagnostics.append(
                Diagnostic(
                    located.location(key=True),
                    Code.DUPLICATE_ID,
                    f"feature name '{name}' is reserved for a built-in value; choose another name",
                )
            )


def _list_types(lists: Mapping[str, frozenset[Scalar]]) -> dict[str, Type]:
    types: dict[str, Type] = {}
    for name, values in lists.items():
        kinds = {scalar_type(v) for v in values}
        if len(kinds) == 1:
            types[name] = kinds.pop()
    return types


def _predicates(rules: Iterable, tiers: Iterable, offers: Iterable) -> tuple[Predicate, ...]:  # type: ignore[type-arg]
    found: list[Predicate] = [Predicate(f"rule:{r.id}", r.on, r.condition) for r in rules]
    found += [Predicate(f"tier:{t.id}", frozenset(), t.condition) for t in tiers if t.condition is not None]
    found += [Predicate(f"offer:{o.id}", o.on, o.condition) for o in offers if o.condition is not None]
    return tuple(found)


def _used_features(predicates: Iterable[Predicate], features: Mapping[str, FeatureSpec]) -> set[str]:
    return {name for p in predicates for name in names_read(p.condition) if name in features}


def _record_plan(
    reads: Mapping[str, tuple[FeatureSpec, ...]], used: Mapping[str, FeatureSpec]
) -> dict[str, tuple[FeatureSpec, ...]]:
    """What each event type records and reads: its reads, then every used feature it feeds.

    Counting only what is read would leave windows empty: an ``order_paid`` must feed
    ``customer.orders_365d`` although no rule reads it on that type. The tuples are built
    once so the feature store's per-tuple plan cache keeps hitting.
    """
    plan: dict[str, tuple[FeatureSpec, ...]] = {}
    for event_type in sorted(EVENT_TYPES):
        own = reads.get(event_type, ())
        names = {spec.name for spec in own}
        plan[event_type] = (*own, *(s for s in used.values() if s.name not in names and _fed_by(s, event_type)))
    return plan


def _fed_by(spec: FeatureSpec, event_type: str) -> bool:
    if isinstance(spec, WindowedFeature):
        return not spec.on or event_type in spec.on
    if isinstance(spec, ReferralFeature):  # refunds feed refunded_invitees / refund_share (referral_refunds.py)
        refund = spec.metric in REFUND_METRICS and event_type in REFUND_TYPES
        # a paid order marks its payer (referrer_paid.py, referral_graph.py); its own refund takes the payment back
        own = event_type == "order_paid" or event_type in REFUND_TYPES
        paid = spec.metric in REFERRER_PAID_METRICS and own
        mark = spec.metric in PAID_MARKS and own
        return event_type == "referral" or refund or paid or mark
    if isinstance(spec, GroupFeature):
        return event_type == "group_buy_join"
    if isinstance(spec, BindingFeature):
        return bindings.fed_by(event_type)
    if isinstance(spec, CodeOriginFeature):
        return code_origin.fed_by(event_type)
    return isinstance(spec, LinkFeature)  # every event links its customer to its identities


def _feature_plan(
    predicates: Sequence[Predicate], features: Mapping[str, FeatureSpec]
) -> dict[str, tuple[FeatureSpec, ...]]:
    plan: dict[str, tuple[FeatureSpec, ...]] = {}
    for event_type in sorted(SCORED_TYPES):
        conditions: list[Node] = [p.condition for p in predicates if not p.on or event_type in p.on]
        names = dict.fromkeys(n for c in conditions for n in names_read(c) if n in features)
        plan[event_type] = tuple(features[n] for n in names)
    return plan
