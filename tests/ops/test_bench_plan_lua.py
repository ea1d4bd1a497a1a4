"""The plan.lua bench's copies of the script (one part skipped each, or every op timed) still match plan.lua.

Each variant edits the script's text at named places; an edit of plan.lua that moves one of
them must fail here, not leave the bench measuring the whole script under a wrong name.
"""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from ops.bench import plan_lua


async def test_every_variant_of_the_bench_is_a_script_redis_compiles(redis_client: Redis) -> None:
    sources = {name: variant(plan_lua.SOURCE) for name, variant in plan_lua.VARIANTS.items()}
    sources["timed"] = plan_lua._timed(plan_lua.SOURCE)
    assert sources["full"] == plan_lua.SOURCE
    for name, source in sources.items():
        if name != "full":
            assert source != plan_lua.SOURCE, name  # the variant changed something
        await redis_client.script_load(source)  # compiles: a broken edit is a ResponseError


def test_a_variant_whose_place_is_gone_refuses_to_run() -> None:
    with pytest.raises(AssertionError):
        plan_lua.VARIANTS["no_entity_hash"]("return 1")
