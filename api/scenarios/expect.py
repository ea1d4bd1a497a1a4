"""What a scenario step expects, against what the API answered: one line per mismatch.

Each line says the field, what was expected and what the service actually answered,
so a marketer reads the failure without opening the JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any


def check(expect: Mapping[str, Any], answer: Mapping[str, Any], seen: Mapping[str, Any]) -> list[str]:
    """Mismatches between ``expect`` and the step's answer.

    ``answer`` is the step's JSON (a group-buy step's ``score`` is read for scored
    fields); ``seen`` what the runner read after the step: ``report`` (the offers report
    by offer) and ``customer`` (``GET /v1/customers/{id}``), each only when needed.
    """
    scored = answer["score"] if isinstance(answer.get("score"), dict) else answer  # a group-buy join: its score
    problems: list[str] = []
    for field, want in expect.items():
        got = _actual(field, want, answer, scored, seen)
        problem = _compare(field, want, got)
        if problem:
            problems.append(problem)
    return problems


def _actual(
    field: str, want: Any, answer: Mapping[str, Any], scored: Mapping[str, Any], seen: Mapping[str, Any]
) -> Any:
    customer = seen.get("customer") or {}
    if field == "decision":
        return scored.get("decision")
    if field in ("reasons", "not_reasons"):
        return sorted(r["rule"] for r in scored.get("reasons", []))
    if field == "shadow":
        return sorted(r["rule"] for r in scored.get("shadow", []))
    if field == "tier":
        return scored.get("tier") if "tier" in scored else customer.get("tier")
    if field == "offers":
        if "recent_decisions" in answer:  # a customer step: the offers in the customer's history
            return sorted({o["offer"] for o in answer.get("offers", [])})
        return sorted(o["offer"] for o in scored.get("offers", []))
    if field == "withheld":
        return {w["offer"]: [w["why"], *w.get("causes", [])] for w in scored.get("withheld", [])}
    if field == "status":
        if "recent_decisions" in answer:  # newest first: each offer's latest grant
            return {o["offer"]: o["status"] for o in reversed(answer.get("offers", []))}
        return {o["offer"]: o["status"] for o in scored.get("offers", [])}
    if field == "remaining":
        return {offer: (seen.get("report") or {}).get(offer, {}).get("remaining") for offer in want}
    if field in ("holds", "reservations"):
        return {h["offer"]: h["status"] for h in answer.get(field, [])}
    if field in ("allowed", "reason", "outcome"):
        return answer.get(field)
    if field == "next_allowed_at":
        return answer.get("next_allowed_at")
    if field in ("group_state", "group_size"):
        group = answer.get("group") or {}
        return group.get("state") if field == "group_state" else len(group.get("members", []))
    if field == "journey":
        return {j["journey"]: j["stage"] for j in customer.get("journeys", [])}
    if field == "tags":
        return sorted(customer.get("tags", []))
    return None


def _compare(field: str, want: Any, got: Any) -> str | None:
    if field == "reasons":
        missing = [r for r in want if r not in got]
        return f"reasons: rules {missing} did not fire (fired: {got})" if missing else None
    if field == "not_reasons":
        unwanted = [r for r in want if r in got]
        return f"not_reasons: rules {unwanted} fired (fired: {got})" if unwanted else None
    if field == "shadow":
        missing = [r for r in want if r not in got]
        return f"shadow: shadow rules {missing} did not fire (shadow hits: {got})" if missing else None
    if field == "offers":
        return None if sorted(want) == got else f"offers: expected {sorted(want)}, got {got}"
    if field == "withheld":
        wrong = {o: w for o, w in want.items() if w not in got.get(o, [])}
        shown = {o: ",".join(why) for o, why in got.items()}
        return f"withheld: expected {wrong}, got {shown}" if wrong else None
    if field in ("status", "remaining", "holds", "reservations", "journey"):
        wrong = {k: v for k, v in want.items() if got.get(k) != v}
        return f"{field}: expected {wrong}, got { ({k: got.get(k) for k in wrong}) } (all: {got})" if wrong else None
    if field == "tags":
        return None if sorted(want) == got else f"tags: expected {sorted(want)}, got {got}"
    if field == "next_allowed_at":
        return _same_moment(want, got)
    return None if want == got else f"{field}: expected {want!r}, got {got!r}"


def _same_moment(want: str, got: str | None) -> str | None:
    if want == "none":
        return None if got is None else f"next_allowed_at: expected none, got {got}"
    if got is None or datetime.fromisoformat(want) != datetime.fromisoformat(got):
        return f"next_allowed_at: expected {want}, got {got}"
    return None
