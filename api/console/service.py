"""What the console computes: a dry-run score and a small replay.

A dry run reads the tenant's live features *without recording* (``FeatureStore.read``:
the counts do not include the sample event), evaluates with the running set, and
grants nothing: it answers "what would this event get right now", and leaves every
counter and budget as it was.

A console replay runs :func:`engine.replay.runner.replay` on an uploaded or exported
log, bounded to ``MAX_REPLAY_EVENTS``, in a thread with its own event loop (it starts a
sandboxed redis-server and evaluates on the CPU: neither may stall this worker's
requests), with the python backend: it builds its own matchers, so it never touches
the durable rulesets the live requests evaluate with, and both backends answer alike
(tests/engine/test_backend_equivalence.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

from api.runtime import Runtime
from api.scoring.render import render_evaluation
from engine.backends import BackendKind
from engine.events import Event
from engine.features.spec import FeatureSpec, ListFeature, ListKind
from engine.replay.judge import PackSource
from engine.replay.log import Record, parse_line
from engine.replay.runner import replay
from engine.rule_engine import LoadedRuleSet

MAX_REPLAY_EVENTS = 5_000
_replays = asyncio.Lock()  # one at a time per worker: each starts a redis-server


async def dry_run(*, runtime: Runtime, tenant: str, event: Event, lists: bool) -> dict[str, Any]:
    """Every reason, the tier, the offers it would be eligible for; nothing recorded or granted.

    ``lists``: whether the caller may read the live block / allow / watch lists. One who may
    not (a marketer) gets them read as missing: otherwise a dry run with a guessed phone,
    e-mail or customer id answers whether it is listed (who was labelled fraud), which
    ``GET /v1/lists/entries`` refuses that caller.
    """
    loaded = runtime.rulesets.of(tenant)
    specs = loaded.ruleset.record_plan[event.type]
    withheld = () if lists else tuple(s.name for s in specs if _is_live_list(s))
    read = [s for s in specs if s.name not in withheld]
    values = await runtime.guard.call("features", runtime.services.store.read(tenant=tenant, event=event, specs=read))
    values.update(dict.fromkeys(withheld))
    evaluation = loaded.evaluate(event, values)
    body = render_evaluation(event, evaluation)
    body["dry_run"] = True
    body["lists_read"] = lists
    body["features"] = {name: values.get(name) for name in sorted(values)}
    body["eligible_offers"] = [{"offer": o.id, "label": o.label} for o in evaluation.offers]
    return body


def _is_live_list(spec: FeatureSpec) -> bool:
    """A block / allow / watch flag (``device.is_store`` is the store's own device registry, no list of people)."""
    return isinstance(spec, ListFeature) and spec.kind is not ListKind.STORE


def parse_log(text: str) -> list[Record]:
    """The uploaded log's records; LogFormatError names the bad line."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > MAX_REPLAY_EVENTS:
        raise ValueError(f"the console replays at most {MAX_REPLAY_EVENTS} events; use `yutang replay` for more")
    return [parse_line(line, f"line {number}") for number, line in enumerate(lines, 1)]


async def replay_log(records: list[Record], new: PackSource, baseline: PackSource | None) -> dict[str, Any]:
    """Replay ``records`` off this worker's event loop; the summary ``yutang replay --json`` prints."""
    async with _replays:
        run = await asyncio.to_thread(lambda: asyncio.run(replay(records, new, baseline, in_process=True)))
    summary = run.summary(source="console")
    summary["backend"] = BackendKind.PYTHON.value
    return summary


def pack_source(loaded: LoadedRuleSet) -> PackSource:
    """A running set as the replay loads it again: the base's files and the tenant's layered on them."""
    return PackSource(files=dict(loaded.files), backend=BackendKind.PYTHON, tenant_files=dict(loaded.tenant_files))
