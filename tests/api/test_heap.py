"""A started app's heap is out of the collector's full walks (api/heap.py), and later garbage is still collected."""

from __future__ import annotations

import gc

from tests.api.conftest import auth, event


async def test_a_started_app_freezes_its_start_up_heap_and_still_collects_what_requests_leave(api):
    assert gc.get_freeze_count() > 10_000  # the compiled pack, validators and metadata: not walked again
    answer = await api.post("/v1/score", json=event("signup", device="d-heap"), headers=auth())
    assert answer.status_code == 200, answer.text

    class Cycle:
        pass

    left = Cycle()
    left.me = left  # type: ignore[attr-defined]  # a cycle made after start-up: garbage the collector must find
    del left
    assert gc.collect() >= 1
