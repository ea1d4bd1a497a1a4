"""Per-seed parameters of every family: a pack tuned on one seed is not tuned to the tactics' numbers.

Each family reads its parameters by name (``knobs.integer("slow_drip.accounts_per_day", 1, 4)``);
the first read draws the value from the range, once per seed, from an RNG of its own, so
seeds differ in *how* a farm works (its size, its pace, its share of virtual numbers),
not only in which accounts it uses. Within a run every story of the family then varies
around that value. ``yutang simulate --show-params`` prints what a seed drew.
"""

from __future__ import annotations

import random


class Knobs:
    """Named parameters drawn on first use, then fixed for the run."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"knobs-{seed}")
        self._seed = seed
        self.values: dict[str, float | int | str] = {}

    def variant(self, name: str, low: float, high: float) -> float:
        """A knob added later: drawn from its own RNG, so the knobs drawn before it keep their values."""
        if name not in self.values:
            self.values[name] = round(random.Random(f"knobs-{self._seed}-{name}").uniform(low, high), 3)
        return float(self.values[name])

    def uniform(self, name: str, low: float, high: float) -> float:
        if name not in self.values:
            self.values[name] = round(self._rng.uniform(low, high), 3)
        return float(self.values[name])

    def integer(self, name: str, low: int, high: int) -> int:
        if name not in self.values:
            self.values[name] = self._rng.randint(low, high)
        return int(self.values[name])

    def choice(self, name: str, options: tuple[str, ...]) -> str:
        if name not in self.values:
            self.values[name] = self._rng.choice(options)
        return str(self.values[name])

    def around(self, rng: random.Random, name: str, low: int, high: int, spread: float = 0.5) -> int:
        """One story's count: the seed's value for ``name`` give or take ``spread``."""
        centre = self.integer(name, low, high)
        return max(1, round(centre * rng.uniform(1 - spread, 1 + spread)))
