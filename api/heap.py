"""The worker's heap after start-up: what is built once is moved out of the collector's way.

A started worker holds ~10^5-10^6 long-lived objects (the compiled rule sets, durable_rules'
rulesets, pydantic's validators, phonenumbers' metadata, the OpenAPI document). CPython's
generational collector walks every one of them on each full (generation 2) collection, and
the request path allocates enough (dicts, lists, coroutines) that one runs every few
thousand requests: a full walk measured ~250 ms on the shared box, charged to whichever
request allocated last. ``gc.freeze()`` moves everything alive at that moment into a
permanent generation no collection walks; reference counting still frees those objects.

What it costs: a cycle among frozen objects is never collected. Only the start-up state
is frozen, once, so the most that can leak is the rule set running at start-up, once it
is replaced by a reload (bounded: one set, not one per reload).
"""

from __future__ import annotations

import gc

_settled = False


def settle() -> None:
    """Collect what start-up left behind, then freeze the rest out of every later collection: once per process.

    Once: a process that starts apps again and again (the test suite) must not leak each
    one's cycles into the permanent generation, nor pay a full collection per start.
    """
    global _settled
    if _settled:
        return
    _settled = True
    gc.collect()
    gc.freeze()
