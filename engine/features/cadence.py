"""A script's clock: the longest machine-regular run of one stream's sightings ending at the event.

A cloud-phone rack (云手机) is driven by a scheduler: one account every ``period`` seconds,
give or take the second or two its instance takes, across all of its images, device ids and
exits. Each account alone looks like a parent; what the script cannot hide is its clock. A
``cadence`` feature reads the sightings a ``distinct`` stream keeps (the newest 32 values
with their latest time, engine/features/entity_hash.py) and answers how many of them, the
event included, stand at one regular gap from each other back from the event:

- a gap ``g`` from 10 seconds to 10 minutes back from the event to one sighting, then back
  from that sighting as long as one lies ``g`` before it, within ``max(4 s, 4% of g)``
  (the nearest one), ``g`` becoming the run's mean gap so far after each step: jitter does
  not add up (each step is measured from the one found), and one jittered first gap does not
  set the clock;
- a run counts only when it is at least half of the sightings from its first to the event:
  a lunch-hour wave of thirty sign-ups on one campus puts a sighting near any gap by chance,
  a script at night or among a handful of honest sign-ups stands out;
- 1 when there is no run (the event alone).

This module is the reference the Lua in plan.lua (op EH, a ``D`` stream read with a negative
index) is tested against (tests/engine/features/test_cadence.py). What it trusts: the event's
time, like every window (docs/features.md, "Dated by the caller"); sightings dated after the
event are left out, so a farm cannot break its run by sending one event dated ahead. Limits:
the stream keeps 32 values, so a run among more than 32 sightings within its span is cut to
the newest 32; a script that draws its pause at random (seconds to minutes) has no clock.
"""

from __future__ import annotations

from collections.abc import Iterable

MIN_GAP_MS = 10_000
MAX_GAP_MS = 600_000
TOLERANCE_MS = 4_000
TOLERANCE_PERCENT = 4


def cadence(sightings: Iterable[int], t: int, low: int) -> int:
    """The longest regular run of ``sightings`` (ms) after ``low`` and before ``t`` ending at ``t``, ``t`` counted."""
    times = sorted(at for at in sightings if low < at < t)
    best = 1
    for j in range(len(times) - 1, -1, -1):
        gap = t - times[j]
        if gap > MAX_GAP_MS:
            break
        if gap < MIN_GAP_MS:
            continue
        length, at, start = 2, times[j], j
        while True:
            target = at - gap
            tolerance = max(TOLERANCE_MS, gap * TOLERANCE_PERCENT // 100)
            near = [i for i in range(start) if abs(times[i] - target) <= tolerance]
            if not near:
                break
            start = min(near, key=lambda i: (abs(times[i] - target), -i))
            length, at = length + 1, times[start]
            gap = (t - at) // (length - 1)  # the run's mean gap so far: one step's jitter does not set it
        if length > best and 2 * length >= len(times) - start + 1:
            best = length
    return best
