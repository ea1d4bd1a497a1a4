"""What every story generator shares: the RNG, the clock, the customer base, the groups.

Honest stories are generated first and leave behind who exists (and since when), which
parent groups they sit in and when red packets were dropped there; abuse stories then
act inside that world (bots grab the very red packets parents were sent).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import date

from engine.simulate.knobs import Knobs
from engine.simulate.timeline import DAY, Timeline
from engine.simulate.units import Unit
from engine.simulate.world import Identities, Person

#: Groups ``parents-01`` .. ``parents-10`` get welfare codes of their own (the pack binds QUN01- .. QUN10-).
CODE_GROUPS = 10


@dataclass
class Sim:
    rng: random.Random
    ids: Identities
    clock: Timeline
    knobs: Knobs
    members: list[Person] = field(default_factory=list)  # customers from before the window
    newcomers: list[Person] = field(default_factory=list)  # customers created inside it
    groups: dict[str, list[Person]] = field(default_factory=dict)  # parent WeChat groups
    drops: list[tuple[float, str]] = field(default_factory=list)  # red packets sent: (time, group)
    sequence: itertools.count[int] = field(default_factory=itertools.count)
    referrers: set[str] = field(default_factory=set)  # customers who already shared a poster
    moments: list[float] = field(default_factory=list)  # campaign evenings (20:00 red-packet rains)

    @classmethod
    def create(cls, seed: int, start: date, days: int) -> Sim:
        rng, knobs = random.Random(seed), Knobs(seed)
        ids = Identities(
            rng,
            hometown_share=knobs.uniform("parents.hometown_number_share", 0.08, 0.3),
            # a grandparent signing the child up from home, a family that just moved, a parent away for work
            away_share=knobs.uniform("parents.away_line_share", 0.01, 0.06, own_stream=True),
        )
        return cls(rng=rng, ids=ids, clock=Timeline(rng, start, days), knobs=knobs)

    def unit(self, truth: str, family: str | None = None) -> Unit:
        return Unit(truth, self.sequence, family)

    def existing_before(self, t: float) -> Person:
        """A customer who exists at ``t``: mostly the old base, sometimes a recent paying newcomer."""
        rng = self.rng
        if self.newcomers and rng.random() < 0.25:
            for _ in range(4):
                person = rng.choice(self.newcomers)
                if person.paid and person.created < t - DAY:
                    return person
        return rng.choice(self.members)

    def referrer_before(self, t: float) -> Person:
        """A customer at ``t`` who has not shared the poster yet: most parents invite once, if ever."""
        for _ in range(20):
            person = self.existing_before(t)
            if person.customer not in self.referrers:
                break
        self.referrers.add(person.customer)
        return person

    def join_group(self, person: Person, unit: Unit, t: float) -> None:
        """Put ``person`` in a random parent group at ``t``; the storefront relays the join (member_joined)."""
        name = self.rng.choice(list(self.groups))
        self.groups[name].append(person)
        person.groups.append(name)
        unit.add(t, "member_joined", customer=person.customer, group=name)

    def group_code(self, group: str) -> str | None:
        """A welfare code staff hand one member in a code group (QUNnn-..., bound to it in the pack), else None."""
        number = int(group.rsplit("-", 1)[1])
        if number > CODE_GROUPS:
            return None
        return f"QUN{number:02d}-{self.ids.token('', 24).upper()}"
