"""The tenants a platform key created through ``POST /v1/tenants``, as one Redis set.

The server's maintenance loop, ``yutang worker`` and ``yutang scheduler`` are separate
processes that each go over every tenant (seed lists, hold and reservation expiry,
review timeouts). Tenants named in configured keys are known from settings; the ones
created at run time are known only here, so every loop reads this set on each pass
instead of remembering what it saw at start-up.
"""

from __future__ import annotations

from typing import Any

from engine.datastore.keys import PREFIX

CREATED_TENANTS = f"{PREFIX}:{{platform}}:tenants"


async def created_tenants(client: Any) -> set[str]:
    """Every tenant created through the API (one SMEMBERS)."""
    return {m.decode() if isinstance(m, bytes) else str(m) for m in await client.smembers(CREATED_TENANTS)}
