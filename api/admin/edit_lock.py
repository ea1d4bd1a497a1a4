"""One tenant's pack changes one at a time across every worker: the edit lock in Redis.

A change compiles for seconds (in the compile child) between checking what runs and
publishing what it made. Two changes overlapping there lose one of them with a 200: the
second to publish replaces the first without having seen it. So every way to change a
tenant's pack (the editor's save, an upload or a directory reload asked for over the API,
a rollback) holds this lock for as long as a compile may take; one that finds it held gets
409 ``edit_in_progress`` and changes nothing. The watcher's reloads do not take it: they
read the files on disk, and a save that raced one is refused by its own version check.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from api.errors import ApiError
from api.runtime import Runtime


class EditInProgress(ApiError):
    status = 409
    code = "edit_in_progress"


@contextlib.asynccontextmanager
async def editing(runtime: Runtime, tenant: str) -> AsyncIterator[None]:
    """Hold ``tenant``'s edit lock (every worker's changes) for as long as a compile may take."""
    store = runtime.rulesets.store
    ttl_ms = int((runtime.rulesets.limits.timeout_s + 30) * 1000)
    token = await runtime.guard.call("rules", store.hold_edit(tenant, ttl_ms))
    if token is None:
        raise EditInProgress(
            "another change of this tenant's rules is compiling: try again when it is done "
            "(the running version will have changed)"
        )
    try:
        yield
    finally:
        with contextlib.suppress(Exception):  # expires by itself if Redis is away now
            await runtime.guard.call("rules", store.release_edit(tenant, token))
