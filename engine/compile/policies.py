"""``decision:``, ``contacts:`` and ``seed_lists:`` sections -> policies."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo

from engine.diagnostics import Code, Diagnostic, Location, did_you_mean
from engine.events import SCORED_TYPES
from engine.features.keys import normalize
from engine.model import ContactCap, ContactPolicy, Decision, DecisionPolicy, FailMode, SeedListEntry
from engine.pack.durations import parse_daily_range, parse_duration
from engine.pack.loader import Located, ValidatedPack
from engine.pack.schema import ContactsItem, DecisionItem
from engine.phones import DEFAULT_REGION, known_region, phone_region

DEFAULT_DECISION = DecisionPolicy(
    review_at=40, deny_at=70, withhold_offers_on=frozenset({Decision.REVIEW, Decision.DENY}), fail_modes={}
)


def compile_decision(located: Located[DecisionItem] | None, diagnostics: list[Diagnostic]) -> DecisionPolicy:
    if located is None:
        return DEFAULT_DECISION
    item = located.item
    if item.review_at >= item.deny_at:
        diagnostics.append(
            Diagnostic(
                located.location("review_at"),
                Code.BAD_THRESHOLDS,
                f"review_at ({item.review_at}) must be below deny_at ({item.deny_at})",
            )
        )
    modes: dict[str, FailMode] = {}
    default = FailMode.OPEN
    for event_type, mode in item.fail_mode.items():
        if event_type == "default":
            default = mode
        elif event_type in SCORED_TYPES:
            modes[event_type] = mode
        else:
            hint = did_you_mean(event_type, [*SCORED_TYPES, "default"])
            diagnostics.append(
                Diagnostic(
                    located.location("fail_mode", event_type, key=True),
                    Code.UNKNOWN_EVENT_TYPE,
                    f"fail_mode: unknown event type '{event_type}'{hint}",
                )
            )
    return DecisionPolicy(item.review_at, item.deny_at, frozenset(item.withhold_offers_on), modes, default)


def compile_contacts(
    located: Located[ContactsItem] | None, tier_ids: frozenset[str], diagnostics: list[Diagnostic]
) -> ContactPolicy:
    if located is None:
        return ContactPolicy()
    item = located.item
    quiet: tuple[time, time] | tuple[None, None] = (None, None)
    if item.quiet_hours:
        try:
            quiet = parse_daily_range(item.quiet_hours)
        except ValueError as err:
            diagnostics.append(Diagnostic(located.location("quiet_hours"), Code.BAD_WINDOW, f"quiet_hours: {err}"))
    caps: list[ContactCap] = []
    for index, cap in enumerate(item.caps):
        try:
            period = parse_duration(cap.per)
        except ValueError as err:
            diagnostics.append(
                Diagnostic(
                    located.location("caps", index, "per"), Code.BAD_WINDOW, f"contact cap '{cap.channel}': {err}"
                )
            )
            continue
        for tier_index, tier in enumerate(cap.tiers):
            if tier not in tier_ids:
                diagnostics.append(
                    Diagnostic(
                        located.location("caps", index, "tiers", tier_index),
                        Code.UNKNOWN_TIER,
                        f"contact cap '{cap.channel}': unknown tier '{tier}'{did_you_mean(tier, tier_ids)}",
                    )
                )
        caps.append(ContactCap(cap.channel, cap.limit, period, frozenset(cap.tiers)))
    return ContactPolicy(tuple(caps), quiet[0], quiet[1], item.platform_monthly)


def compile_seed_lists(
    pack: ValidatedPack, zone: tzinfo, region: str, diagnostics: list[Diagnostic]
) -> tuple[SeedListEntry, ...]:
    """Seed entries with their values in the form events carry (E.164 phones, networks), each checked."""
    entries = []
    for located in pack.seed_lists:
        item = located.item
        try:
            with phone_region(region):
                value = normalize(item.entity, item.value)
        except ValueError as err:
            diagnostics.append(Diagnostic(located.location("value"), Code.INVALID_VALUE, f"{item.entity.value}: {err}"))
            continue
        expires = item.expires
        if isinstance(expires, date) and not isinstance(expires, datetime):
            expires = datetime.combine(expires, time(0), zone)
        elif isinstance(expires, datetime) and expires.tzinfo is None:
            expires = expires.replace(tzinfo=zone)
        entries.append(SeedListEntry(item.entity.value, value, item.kind.value, item.reason, expires))
    return tuple(entries)


def resolve_zone(pack: ValidatedPack, diagnostics: list[Diagnostic]) -> tuple[str, tzinfo]:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = pack.meta.item.timezone if pack.meta else "Asia/Shanghai"
    try:
        return name, ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        where = pack.meta.location("timezone") if pack.meta else Location("<pack>")
        diagnostics.append(
            Diagnostic(where, Code.INVALID_VALUE, f"unknown time zone '{name}'; use an IANA name like Asia/Shanghai")
        )
        return "UTC", UTC


def resolve_phone_region(pack: ValidatedPack, diagnostics: list[Diagnostic]) -> str:
    """The region phones without a country code are read in; CN when the pack names none it knows."""
    region = pack.meta.item.phone_region if pack.meta else DEFAULT_REGION
    if known_region(region):
        return region
    where = pack.meta.location("phone_region") if pack.meta else Location("<pack>")
    diagnostics.append(
        Diagnostic(where, Code.INVALID_VALUE, f"unknown phone region '{region}'; use an ISO 3166 code like CN or HK")
    )
    return DEFAULT_REGION
