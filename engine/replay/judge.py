"""Evaluate replayed events with each rule set and count the answers, in log order.

The judge is everything after the feature store: it never talks to Redis, so it can
run in this process or in a second one (:mod:`engine.replay.worker`) while this one
records the next events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.area.payers import PayerAreas
from engine.backends import BackendKind
from engine.events import OUTCOME_TYPES, Event
from engine.model import Offer
from engine.pack.loader import read_pack_files
from engine.replay.diff import DiffTally
from engine.replay.families import rewards_cut
from engine.replay.log import HONEST
from engine.replay.plans import SharedPlan, shared_plan
from engine.replay.tally import PackTally
from engine.rule_engine import LoadedRuleSet, prepare


@dataclass(frozen=True, slots=True)
class PackSource:
    """A rule pack as files and a backend: what a second process needs to load it too."""

    files: Mapping[str, str]
    backend: BackendKind = BackendKind.PYTHON
    tenant_files: Mapping[str, str] = field(default_factory=dict)  # a tenant's pack layered on ``files``

    @classmethod
    def read(cls, path: str, backend: BackendKind | str) -> PackSource:
        return cls(files=read_pack_files(path), backend=BackendKind(backend))

    def load(self) -> LoadedRuleSet:
        return prepare(self.files, self.backend, tenant_files=self.tenant_files or None)


#: One replayed event as the judge sees it: the event, its truth, its family, its shared feature
#: values (for an outcome: None, or ``{LINKED_AT_CHECKOUT: True}`` when its paid order's identities
#: were listed because of another account: engine/cases/links.py).
Item = tuple[Event, str | None, str | None, Mapping[str, Any] | None]
LINKED_AT_CHECKOUT = "linked_at_checkout"
#: On a release outcome of an invitee: its strong links, so that a hold for a linked beneficiary is voided;
#: on a group-buy join naming its leader, the member's, so that a denied join linked to her voids hers.
PEERS = "peers"
#: One reward the new set granted (or held): beneficiary, offer, event id, event time (epoch seconds).
GrantNote = tuple[str, str, str, float]
#: How often (in events, log order) the judge takes a new snapshot of the payers' regions: like a worker's
#: background refresh, the rules see the area as it stood a little while ago, and the same on every run.
AREA_REFRESH_EVENTS = 256


class Judge:
    """Evaluates scored events with the new set (and the baseline) and tallies everything."""

    def __init__(self, packs: list[LoadedRuleSet]) -> None:
        self.packs = packs
        self.plan: SharedPlan = shared_plan([p.ruleset for p in packs])
        self.tallies = [PackTally(p) for p in packs]
        self.diff = DiffTally() if len(packs) > 1 else None
        self.honest_customers: set[str] = set()
        self.scored = 0
        self.outcomes = 0
        # the new set's grants, for the replayer to write where the link metric ``rewards`` reads them
        self.notes_grants = self.plan.reads_grants
        self._grants: list[GrantNote] = []
        self.payers = PayerAreas()  # the store's paying customers per region (engine/area), in log order
        self._area: dict[str, int] = {}
        self._seen = 0

    def take(self, items: list[Item]) -> None:
        for event, truth, family, values in items:
            self.payers.observe(event)
            self._seen += 1
            if self._seen % AREA_REFRESH_EVENTS == 0:
                self._area = self.payers.snapshot()
            if values is None or event.type in OUTCOME_TYPES:
                peers = values.get(PEERS, frozenset()) if values else frozenset()
                self.outcome(event, linked=bool(values and values.get(LINKED_AT_CHECKOUT)), peers=peers)
            else:
                self.score(event, truth, values, family)

    def score(self, event: Event, truth: str | None, values: Mapping[str, Any], family: str | None = None) -> None:
        evaluations = [
            pack.evaluate(event, self.plan.values_for(index, event.type, values), self._area)
            for index, pack in enumerate(self.packs)
        ]
        peers = values.get(PEERS, frozenset())
        for index, (tally, evaluation) in enumerate(zip(self.tallies, evaluations, strict=True)):
            granted = tally.add(event, truth, evaluation, family, peers)
            if index == 0 and granted and self.notes_grants:
                self._note(event, granted, tally.offers.offers)
        self.scored += 1
        if truth == HONEST:
            self.honest_customers.add(event.customer)
        if self.diff is not None:
            self.diff.add(event, truth, evaluations[1], evaluations[0])

    def grants(self) -> list[GrantNote]:
        """The new set's grants since the last call (empty unless a feature reads them)."""
        out, self._grants = self._grants, []
        return out

    def _note(self, event: Event, granted: list[str], offers: Mapping[str, Offer]) -> None:
        for offer_id in granted:
            if (beneficiary := offers[offer_id].recipient(event.customer, event.referrer)) is not None:
                self._grants.append((beneficiary, offer_id, event.event_id, event.epoch))

    def outcome(self, event: Event, *, linked: bool = False, peers: frozenset[str] = frozenset()) -> None:
        for tally in self.tallies:
            tally.offers.outcome(event, linked=linked, peers=peers)
        self.outcomes += 1

    def summary(self) -> dict[str, Any]:
        new = self.tallies[0]
        out: dict[str, Any] = {"scored": self.scored, "outcomes": self.outcomes, "new": new.summary()}
        if self.diff is not None:
            out["baseline"] = self.tallies[1].summary()
            out["diff"] = self.diff.summary()
            if "families" in out["new"]:
                out["attacker_rewards_cut"] = rewards_cut(out["new"]["families"], out["baseline"]["families"])
        if new.labelled:
            out["honest_offers"] = self._honest_offers()
        return out

    def close(self) -> None:
        for pack in self.packs:
            pack.matcher.close()

    def _honest_offers(self) -> dict[str, Any]:
        total = len(self.honest_customers)
        withheld = len(self.tallies[0].honest_withheld)
        out: dict[str, Any] = {
            "customers": total,
            "withheld_by_risk": withheld,
            "withheld_share": round(withheld / total, 4) if total else None,
        }
        if self.diff is not None:
            changed = len(self.diff.honest_offers_changed)
            out |= {
                "changed_vs_baseline": changed,
                "changed_share": round(changed / total, 4) if total else None,
                "withheld_by_risk_baseline": len(self.tallies[1].honest_withheld),
            }
        return out
