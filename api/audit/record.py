"""``await record(runtime, caller, action, ...)``: the one call every change makes.

An entry: ``at`` (server time), ``actor`` (key id, never the key), ``role``,
``actor_tenant`` (the key's own tenant: a platform key acting on this one names its
own), ``action`` (``<family>.<verb>``, :class:`Action`), ``target``, ``before`` /
``after`` (rule set versions where relevant), ``diff`` (a summary: rules added /
removed / changed, list entries added / removed), ``source`` (:class:`Source`).

The change has already happened when this is called, so an audit write that fails
(Redis gone between the change and the entry) does not turn the answer into an error
the caller would retry: it is logged at ERROR with the whole entry.
"""

from __future__ import annotations

import logging
import time
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from api.audit.diff import rules_diff
from api.auth import Principal
from engine.rule_engine import BASE

if TYPE_CHECKING:
    from api.runtime import Runtime
    from engine.rule_engine import LoadedRuleSet

log = logging.getLogger("yutang.audit")


class Action(StrEnum):
    RULES_RELOAD = "rules.reload"
    RULES_ROLLBACK = "rules.rollback"
    LISTS_ADD = "lists.add"
    LISTS_REMOVE = "lists.remove"
    KEYS_CREATE = "keys.create"
    KEYS_REVOKE = "keys.revoke"
    TENANTS_CREATE = "tenants.create"
    SETTINGS_CHANGE = "settings.change"


class Source(StrEnum):
    API = "api"
    FILE_WATCHER = "file_watcher"
    SIDECAR = "sidecar"  # ops/rules_sync.py: a reload it asks for says X-Yutang-Source: sidecar


#: The actor of changes nobody's key asked for (the rules directory changed).
SYSTEM = Principal("-", None, frozenset(), "system")


def entry(
    caller: Principal,
    action: str,
    *,
    target: Any = None,
    before: str | None = None,
    after: str | None = None,
    diff: dict[str, Any] | None = None,
    source: str = Source.API,
    **details: Any,
) -> dict[str, Any]:
    """The entry as stored (without its stream id)."""
    return {
        "at": round(time.time(), 3), "actor": caller.key_id, "role": caller.role_name,
        "actor_tenant": caller.home, "action": str(action), "target": target, "before": before, "after": after,
        "diff": diff or {}, "source": str(source), **({"details": details} if details else {}),
    }  # fmt: skip


async def record(
    runtime: Runtime,
    caller: Principal,
    action: str,
    *,
    tenant: str | None = None,
    **fields: Any,
) -> str | None:
    """Append one entry to the trail of ``tenant`` (default: the tenant the caller acts on); its id."""
    body = entry(caller, action, **fields)
    where = tenant or caller.tenant
    try:
        return await runtime.guard.call("audit", runtime.audit.append(where, body))
    except Exception as err:
        log.error("audit entry for tenant %s not written (%s): %s", where, err, body)
        return None


async def record_watched(runtime: Runtime, tenant: str, before: LoadedRuleSet, after: LoadedRuleSet) -> None:
    """Record a reload the rules directory caused, once (every worker watches), in each tenant it reached:
    the tenant whose own directory changed, or, for the base, every tenant that runs the base alone."""
    once = f"yt:{{platform}}:audit-once:{tenant or '-'}:{before.ruleset.version}:{after.ruleset.version}"
    if not await runtime.guard.call("audit", runtime.services.client.set(once, 1, nx=True, ex=60)):
        return
    if tenant != BASE:
        reached = [tenant]
    else:
        reached = sorted(t for t in await runtime.known_tenants() if not runtime.rulesets.engine.owns(t))
    diff = rules_diff(before, after)
    for name in reached:
        await record(
            runtime, SYSTEM, Action.RULES_RELOAD, tenant=name, target=str(runtime.settings.rules_path),
            before=before.ruleset.version, after=after.ruleset.version, diff=diff, source=Source.FILE_WATCHER,
        )  # fmt: skip
