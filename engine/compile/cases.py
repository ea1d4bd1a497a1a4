"""``tests:`` items: the pack's own cases, checked against what the pack declares."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from engine.diagnostics import Code, Diagnostic, did_you_mean
from engine.events import Event
from engine.model import TestCase, TestStep
from engine.pack.loader import Located
from engine.pack.schema import TestItem
from engine.phones import DEFAULT_REGION, phone_region

#: Steps without a timestamp happen one minute apart from this moment (Shanghai 10:00).
TEST_CLOCK_START = datetime.fromisoformat("2026-11-02T10:00:00+08:00")


def step_event(raw: Mapping[str, Any], case_index: int, step_index: int, *, region: str = DEFAULT_REGION) -> Event:
    """The step's event with defaults filled in: an id, a customer, a clock; phones read in ``region``."""
    values = dict(raw)
    values.setdefault("event_id", f"case{case_index}-step{step_index}")
    values.setdefault("customer", f"case{case_index}-customer")
    values.setdefault("timestamp", TEST_CLOCK_START + timedelta(minutes=step_index))
    with phone_region(region):
        return Event.model_validate(values)


def compile_cases(
    items: list[Located[TestItem]],
    *,
    rule_ids: Collection[str],
    tier_ids: Collection[str],
    offer_ids: Collection[str],
    names: Collection[str],
    diagnostics: list[Diagnostic],
    region: str = DEFAULT_REGION,
) -> tuple[TestCase, ...]:
    cases: list[TestCase] = []
    references = {
        "reasons": ("rule", rule_ids, Code.UNKNOWN_RULE),
        "not_reasons": ("rule", rule_ids, Code.UNKNOWN_RULE),
        "shadow": ("rule", rule_ids, Code.UNKNOWN_RULE),
        "offers": ("offer", offer_ids, Code.UNKNOWN_OFFER),
    }
    for case_index, located in enumerate(items):
        item = located.item
        subject = f"test '{item.name}'"
        steps: list[TestStep] = []
        for step_index, step in enumerate(item.steps):
            at = ("steps", step_index)
            try:
                step_event(step.event, case_index, step_index, region=region)
            except ValidationError as err:
                for error in err.errors(include_url=False):
                    field = ".".join(str(p) for p in error["loc"])
                    diagnostics.append(
                        Diagnostic(
                            located.location(*at, "event", *error["loc"]),
                            Code.INVALID_VALUE,
                            f"{subject} step {step_index + 1}: event.{field}: {error['msg']}",
                        )
                    )
            for name in step.features:
                if name not in names:
                    diagnostics.append(
                        Diagnostic(
                            located.location(*at, "features", name, key=True),
                            Code.UNKNOWN_NAME,
                            f"{subject}: unknown feature '{name}'{did_you_mean(name, names)}",
                        )
                    )
            expect = step.expect
            if expect is not None:
                for field, (kind, known, code) in references.items():
                    for index, ref in enumerate(getattr(expect, field) or []):
                        if ref not in known:
                            diagnostics.append(
                                Diagnostic(
                                    located.location(*at, "expect", field, index),
                                    code,
                                    f"{subject}: unknown {kind} '{ref}'{did_you_mean(ref, known)}",
                                )
                            )
                for offer in expect.beneficiaries or {}:
                    if offer not in offer_ids:
                        diagnostics.append(
                            Diagnostic(
                                located.location(*at, "expect", "beneficiaries", offer, key=True),
                                Code.UNKNOWN_OFFER,
                                f"{subject}: unknown offer '{offer}'{did_you_mean(offer, offer_ids)}",
                            )
                        )
                if expect.tier is not None and expect.tier not in tier_ids:
                    diagnostics.append(
                        Diagnostic(
                            located.location(*at, "expect", "tier"),
                            Code.UNKNOWN_TIER,
                            f"{subject}: unknown tier '{expect.tier}'{did_you_mean(expect.tier, tier_ids)}",
                        )
                    )
            steps.append(
                TestStep(
                    step.event,
                    step.features,
                    expect.model_dump(exclude_none=True) if expect else None,
                    located.location(*at),
                )
            )
        cases.append(TestCase(item.name, tuple(steps), located.location("name")))
    return tuple(cases)
