"""Where one plan.lua run's Redis time goes: the same recorded calls replayed through variants of the script.

    ./yt bench plan_lua [--events 400] [--repeats 3] [--variants full,noop,...]

Redis 6.2's Lua has no profiler, so this measures by difference. It posts ``bench api``'s
event mix to the real app (as ``redis_score`` does) and records every plan.lua call the
feature store makes (its keys and arguments, as sent). It then replays those calls, in
order, on a fresh embedded Redis once per variant of the script (a copy with one section
skipped or returning early; ``VARIANTS`` below), and reads the script's time per run from
``INFO commandstats`` (usec per EVALSHA: the Lua work and its inner calls, not the round
trip) and the server's CPU (user + sys) per run. Each variant is replayed ``--repeats``
times, interleaved, and the median is kept; the difference to ``full`` is what the skipped
section costs. Every variant starts from an empty database and replays the same calls, so
the state each call meets is the one the real run met (the variants that skip writes drift
from it: their figures are upper bounds of what the skipped part costs).

Beside it, the worker's side: the CPU (best of 5) to build the same events' calls (plan,
builder, every op, the arguments) without Redis. The last line is one JSON object: per
variant, usec per run (median, min, max) and CPU per run, per opcode its runs and usec, and
the construction's usec per event.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from redis.asyncio import Redis  # noqa: E402

import engine.features.store as store_module  # noqa: E402
from engine.compile.pack import load_ruleset  # noqa: E402
from engine.datastore.embedded import EmbeddedRedis  # noqa: E402
from engine.events import Event  # noqa: E402
from engine.features.builder import RequestBuilder, StoreSettings  # noqa: E402
from engine.features.keys import KeyBuilder  # noqa: E402
from engine.features.plan import compile_plan  # noqa: E402
from ops.bench.parts.in_process import SECRET, in_process_app  # noqa: E402
from ops.bench.redis_score import bodies  # noqa: E402

SOURCE = (ROOT / "engine/features/scripts/plan.lua").read_text("utf-8")
Recorded = tuple[list[str], list[Any]]


def _early_return(marker: str) -> Callable[[str], str]:
    def variant(source: str) -> str:
        assert marker in source, marker
        return source.replace(marker, "do return {0, '[]'} end\n" + marker, 1)

    return variant


def _replace(*pairs: tuple[str, str]) -> Callable[[str], str]:
    def variant(source: str) -> str:
        for old, new in pairs:
            assert old in source, old
            source = source.replace(old, new)
        return source

    return variant


#: name -> how the script's text is changed (the identity for ``full``).
VARIANTS: dict[str, Callable[[str], str]] = {
    "full": lambda source: source,
    # the run's fixed part: KEYS / ARGV tables, the header, the replay marker's GET
    "noop": _early_return("local A = ARGV[5] ~= ''"),
    # ... plus cjson's decode of the ops
    "decode": _early_return("local i = 1\nlocal last = #A"),
    # the entity hash ops (EH) only find where their streams end
    "no_entity_hash": _replace(("  fields[count + 1] = '_e'\n", "  do return o end\n  fields[count + 1] = '_e'\n")),
    # the entity hash reads but never decodes / re-encodes a field (cmsgpack) nor writes
    "eh_no_msgpack": _replace(
        (
            "local kind, name, arr = A[b + 1], fields[s], raw and unpack_mp(raw)",
            "local kind, name, arr = A[b + 1], fields[s], nil",
        ),
        ("pack_mp(arr)", "''"),
    ),
    # the link ops (LI, LF, LG, LR, LM, LP) do nothing
    "no_links": _replace(
        ("extra[#extra + 1] = link_round(i)", "extra[#extra + 1] = {}"),
        (
            "extra[#extra + 1] = link_group(A[i + 1], A[i + 2], A[i + 3] == 1, specs, members, link_live)",
            "extra[#extra + 1] = {}",
        ),
        (
            "    local found = call('ZRANGEBYSCORE', KEYS[A[i + 1]], A[i + 3], '+inf', 'WITHSCORES')",
            "    local found = {}",
        ),
        ("    local fl = call('HMGET', key, 'f', 'l', 'p', 's')\n", "    local fl = {tstr, tstr, false, false}\n"),
        (
            "    if fresh then call('PEXPIRE', key, A[i + 3]) else link_expire(key, A[i + 3], LINK_DAY) end",
            "",
        ),
        (
            "    local added = false\n    if A[i + 2] == 1 then\n      -- the set grows",
            "    local added = false\n    if false then\n      -- the set grows",
        ),
        (
            "    local users = call('ZRANGEBYSCORE', key, A[i + 6], '+inf', 'WITHSCORES', 'LIMIT', 0, A[i + 7])",
            "    local users = {}",
        ),
    ),
    # op LR (the link round on one server) writes no new link (its reads and aggregates kept)
    "lr_no_writes": _replace(("  if record and #writes > 0 then\n", "  if false then\n")),
    # op LR finds and writes the new links but aggregates nobody
    "lr_no_group": _replace(
        ("  return link_group(prefixes, cap, false, specs, members, false)\nend", "  return {}\nend")
    ),
    # op LR / LM's aggregates count no peer's grants (a ZCOUNT each)
    "lr_no_grants": _replace(
        ("flagged[s] = flagged[s] + call('ZCOUNT', gk, arg, '+inf')", "flagged[s] = flagged[s] + 0")
    ),
    # no final encode of the values (nor the marker's SET of them)
    "no_encode": _replace(
        ("local encoded = n > 0 and cjson.encode(vals) or '[]'", "local encoded = '[]'"),
    ),
}


def _timed(source: str) -> str:
    """Each op's time (TIME before and after, both sides of the op) summed by opcode, returned instead of values."""
    clock = (
        "local _tm, _tn = {}, {}\n"
        "local function _us() local x = redis.call('TIME') return x[1] * 1000000 + x[2] end\n"
        "local _t0 = _us()\n"
    )
    source = source.replace("local call = redis.call\n", "local call = redis.call\n" + clock, 1)
    source = source.replace(
        "local A = ARGV[5] ~= '' and cjson.decode(ARGV[5]) or {}",
        "local _td = _us()\nlocal A = ARGV[5] ~= '' and cjson.decode(ARGV[5]) or {}\n"
        "_tm['(decode)'], _tn['(decode)'] = _us() - _td, 1\n_tm['(head)'], _tn['(head)'] = _td - _t0, 1",
        1,
    )
    loop = "while i <= last do\n  local op = A[i]\n"
    assert loop in source
    source = source.replace(loop, loop + "  local _s = _us()\n  local _op = op\n  repeat\n", 1)
    tail = "  else\n    return redis.error_reply('yutang plan: unknown op ' .. tostring(op))\n  end\n"
    assert tail in source
    source = source.replace(
        tail,
        tail + "  until true\n  _tm[_op] = (_tm[_op] or 0) + _us() - _s\n  _tn[_op] = (_tn[_op] or 0) + 1\n",
        1,
    )
    end = "local encoded = n > 0 and cjson.encode(vals) or '[]'"
    source = source.replace(end, "local _te = _us()\n" + end + "\n_tm['(encode)'], _tn['(encode)'] = _us() - _te, 1", 1)
    final = "local out = {0, encoded}"
    return source.replace(final, "do return {2, cjson.encode({_tm, _tn})} end\n" + final, 1)


#: where the link ops' time goes inside their sections: (name, text the TIME start goes before, text the
#: stop goes before); the group aggregates (op LR's and op LM's link_group) split in the summaries' MGET
#: and unpack and the loop over members and specs, op LR in its new links' writes and the ordering of its
#: members, and the summaries' rebuild at the end of the call
LINK_PARTS: list[tuple[str, str, str]] = [
    ("group: MGET + unpack of summaries", "  if #skeys > 0 then\n    for k, raw",
     "  for m, member in ipairs(members) do\n    local fk, gk"),
    ("group: members x specs loop", "  for m, member in ipairs(members) do\n    local fk, gk",
     "  local out = {}\n  for s = 1, nspec do\n    out[2 * s - 1] = counts[s]"),
    ("LR: new links written", "  if record and #writes > 0 then\n    link_wrote = true",
     "  if not read or nspec == 0 then return {} end\n  local times"),
    ("LR: members chosen and ordered", "  local times = {}\n  for m, p in pairs(peers)",
     "  return link_group(prefixes, cap, false, specs, members, false)\nend"),
    ("summaries rebuilt (end of call)", "for skey, how in pairs(summaries) do", "local encoded = n > 0"),
]  # fmt: skip


def _link_parts(source: str) -> str:
    """TIME around each of LINK_PARTS, summed over the call, returned instead of the values."""
    clock = "local _tm = {}\nlocal function _us() local x = redis.call('TIME') return x[1] * 1000000 + x[2] end\n"
    source = source.replace("local call = redis.call\n", "local call = redis.call\n" + clock, 1)
    for k, (_, start, stop) in enumerate(LINK_PARTS):
        assert start in source and stop in source, (start, stop)
        source = source.replace(start, f"local _s{k} = _us()\n" + start, 1)
        source = source.replace(stop, f"_tm[{k + 1}] = (_tm[{k + 1}] or 0) + _us() - _s{k}\n" + stop, 1)
    final = "local out = {0, encoded}"
    return source.replace(final, "do return {2, cjson.encode(_tm)} end\n" + final, 1)


async def _warmed(redis: Redis, calls: list[Recorded], warm: int) -> list[Recorded]:
    """Empty the database and replay the first ``warm`` calls with the full script; the calls left to measure."""
    await redis.flushall()
    if warm:
        full = await redis.script_load(SOURCE)
        for keys, args in calls[:warm]:
            await redis.evalsha(full, len(keys), *keys, *args)
    return calls[warm:]


async def link_parts(url: str, calls: list[Recorded], warm: int = 0) -> dict[str, float]:
    """Per LINK_PARTS: usec per call (TIME inside the script; each part also pays ~2 TIME calls per entry)."""
    redis = Redis.from_url(url)
    totals = [0.0] * len(LINK_PARTS)
    try:
        calls = await _warmed(redis, calls, warm)
        sha = await redis.script_load(_link_parts(SOURCE))
        for keys, args in calls:
            reply = await redis.evalsha(sha, len(keys), *keys, *args)
            if int(reply[0]) == 2:
                parts = json.loads(reply[1])
                for k, us in enumerate(parts if isinstance(parts, list) else []):
                    totals[k] += float(us) if us is not None else 0.0
    finally:
        await redis.aclose()
    n = max(len(calls), 1)
    return {name: total / n for (name, _, _), total in zip(LINK_PARTS, totals, strict=True)}


async def timed(url: str, calls: list[Recorded], warm: int = 0) -> dict[str, tuple[float, float]]:
    """Per opcode: runs per call and usec per call (TIME inside the script, its own cost subtracted)."""
    redis = Redis.from_url(url)
    totals: dict[str, float] = {}
    counts: dict[str, float] = {}
    try:
        calls = await _warmed(redis, calls, warm)
        sha = await redis.script_load(_timed(SOURCE))
        probe = await redis.script_load(
            "local n = 0 for k = 1, 1000 do local x = redis.call('TIME') n = n + x[2] end return n"
        )
        await redis.config_resetstat()
        await redis.evalsha(probe, 0)
        stats = (await redis.info("commandstats"))["cmdstat_evalsha"]
        per_time = float(stats["usec"]) / 1000  # one TIME call; each op pays two of them
        for keys, args in calls:
            reply = await redis.evalsha(sha, len(keys), *keys, *args)
            if int(reply[0]) != 2:
                continue
            micros, runs = json.loads(reply[1])
            for op, us in micros.items():
                totals[op] = totals.get(op, 0.0) + us - per_time * runs[op]
                counts[op] = counts.get(op, 0.0) + runs[op]
    finally:
        await redis.aclose()
    n = len(calls)
    return {op: (counts[op] / n, totals[op] / n) for op in sorted(totals, key=lambda o: -totals[o])}


async def record(url: str, rules: str, data: Path, posts: list[bytes]) -> list[Recorded]:
    """Post the events to the real app and keep every plan.lua call the store made, in order."""
    calls: list[Recorded] = []
    original = store_module._call

    def recording(builder: Any, batch: Any) -> Any:
        call = original(builder, batch)
        calls.append((list(call.keys), list(call.args)))
        return call

    store_module._call = recording  # type: ignore[assignment]  # the bench's own tap on the real calls
    try:
        async with in_process_app(rules, url, data) as app:
            for body in posts:
                await app.post(body)
    finally:
        store_module._call = original  # type: ignore[assignment]
    return calls


async def replay(url: str, source: str, calls: list[Recorded], warm: int = 0) -> tuple[float, float]:
    """Usec per EVALSHA (commandstats) and server CPU per call, replaying ``calls`` on an empty database.

    The first ``warm`` calls fill the database (with the full script) and are not measured: ``bench api``'s
    10 s runs meet link groups and windows that 400 fresh events do not.
    """
    redis = Redis.from_url(url)
    try:
        calls = await _warmed(redis, calls, warm)
        sha = await redis.script_load(source)
        await redis.config_resetstat()
        cpu = await _cpu(redis)
        for keys, args in calls:
            await redis.evalsha(sha, len(keys), *keys, *args)
        cpu = await _cpu(redis) - cpu
        stats = (await redis.info("commandstats"))["cmdstat_evalsha"]
        return float(stats["usec"]) / int(stats["calls"]), cpu / len(calls) * 1e6
    finally:
        await redis.aclose()


async def _cpu(redis: Redis) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def construction(rules: str, posts: list[bytes], repeats: int = 5) -> float:
    """Worker CPU (us per event, best of ``repeats``) to build the same events' plan.lua calls, Redis aside.

    The store's own steps (plan, builder, marker, links, every op, the arguments), with the
    hashed identities warm as in a serving worker.
    """
    ruleset = load_ruleset(Path(rules))
    events = [Event.model_validate_json(body) for body in posts]
    keys, settings = KeyBuilder(SECRET.encode()), StoreSettings()
    plans = {kind: compile_plan(specs) for kind, specs in ruleset.feature_plan.items()}

    def build() -> None:
        for event in events:
            plan = plans[event.type]
            builder = RequestBuilder(
                keys=keys, settings=settings, plan=plan, tenant="bench", event=event, record=True, cluster=False
            )
            builder.add_marker("full")
            builder.add_links()
            store_module._emit_all(builder, plan)
            for batch in builder.batches.values():
                store_module._call(builder, batch)

    build()
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        build()
        best = min(best, time.process_time() - started)
    return best / len(events) * 1e6


def describe(calls: list[Recorded]) -> dict[str, float]:
    """What one call carries: keys, ops, bytes of ops JSON, by opcode."""
    ops_bytes = [len(str(args[4])) for _, args in calls]
    return {
        "calls": len(calls),
        "keys_per_call": round(statistics.mean(len(k) for k, _ in calls), 1),
        "ops_json_bytes": round(statistics.mean(ops_bytes)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rules", default=str(ROOT / "rules"))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--warm", type=int, default=0,
                        help="events replayed first and not measured (their state met by the rest)")  # fmt: skip
    parser.add_argument("--appendfsync", default="no", help="the replay server's appendfsync (no: the AOF's CPU aside)")
    args = parser.parse_args()
    names = args.variants.split(",")
    posts = bodies(args.warm + args.events)
    with tempfile.TemporaryDirectory(prefix="yutang-bench-") as tmp:
        with EmbeddedRedis(Path(tmp) / "record") as server:
            calls = asyncio.run(record(server.url, args.rules, Path(tmp) / "data", posts))
        warm = round(len(calls) * args.warm / max(len(posts), 1))  # about one plan.lua call per event
        with EmbeddedRedis(Path(tmp) / "replay", config={"appendfsync": args.appendfsync}) as server:
            runs: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
            started = time.perf_counter()
            for _ in range(args.repeats):
                for name in names:
                    runs[name].append(asyncio.run(replay(server.url, VARIANTS[name](SOURCE), calls, warm)))
            by_op = asyncio.run(timed(server.url, calls, warm))
            parts = asyncio.run(link_parts(server.url, calls, warm))
    result: dict[str, Any] = {
        **describe(calls[warm:]),
        "warm_calls": warm,
        "seconds": round(time.perf_counter() - started, 1),
        "variants": {},
    }
    result["construction_us"] = round(construction(args.rules, posts[args.warm :]), 1)
    full = statistics.median(u for u, _ in runs["full"]) if "full" in runs else None
    print(f"{result['calls']} plan.lua calls from {args.events} events, {result['keys_per_call']} keys and "
          f"{result['ops_json_bytes']} bytes of ops each; usec per run (commandstats), "
          f"median of {args.repeats}")  # fmt: skip
    for name in names:
        usec = [u for u, _ in runs[name]]
        cpu = [c for _, c in runs[name]]
        median = statistics.median(usec)
        delta = "" if full is None else f"  full - this {full - median:7.1f}"
        print(f"  {name:16s} {median:7.1f} us/run (min {min(usec):6.1f} max {max(usec):6.1f}), "
              f"CPU {statistics.median(cpu):7.1f} us/run{delta}")  # fmt: skip
        result["variants"][name] = {
            "usec": round(median, 1), "min": round(min(usec), 1), "max": round(max(usec), 1),
            "cpu_us": round(statistics.median(cpu), 1),
        }  # fmt: skip
    print("  by opcode (TIME around each op, its own cost subtracted): runs per call, usec per call")
    for op, (runs_per, us) in by_op.items():
        print(f"    {op:10s} {runs_per:5.2f} {us:7.1f}")
    result["by_op"] = {op: {"runs": round(r, 2), "us": round(u, 1)} for op, (r, u) in by_op.items()}
    print("  link parts (TIME around each, inside the ops above): usec per call")
    for name, us in parts.items():
        print(f"    {name:36s} {us:7.1f}")
    result["link_parts"] = {name: round(us, 1) for name, us in parts.items()}
    print(f"worker: call construction {result['construction_us']} us per event (the same events, best of 5)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
