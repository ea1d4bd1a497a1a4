"""Compile a pack in a child process: bounded in time and memory, stopped when nobody waits.

An uploaded pack (``/v1/rules/validate``, reloads, a pack another worker published)
is text from whoever holds an admin key. The YAML limits (engine/pack/yaml_source.py)
and the condition limits bound what a compile can be asked to do, but "every compile
finishes quickly" is a proof over the whole compiler that one new check could break.
So the compile also runs where it cannot hurt the worker: a child forked from a
``multiprocessing`` fork server (a clean process that imported the compiler once, so
a fork costs milliseconds and inherits none of the worker's threads, sockets or
durable_rules sessions), with

- a memory cap: the worker reads the child's resident memory while it waits and
  kills it once it grew by more than ``memory_mb`` (deterministic: a MemoryError
  inside the compile could be swallowed by some ``except Exception`` and turn into a
  slow crawl); an address-space limit (``RLIMIT_AS``, twice that) is the hard stop
  between two readings, failing allocations inside the child, never in the worker;
- a deadline (``timeout_s``): past it the child is killed;
- an ``abandoned`` probe polled while waiting (the API passes the request's
  ``is_disconnected``): when the client has gone the child is killed and
  ``CompileAbandoned`` raised, so nothing keeps burning a core for nobody.

Either limit is an ordinary ``LIMIT_EXCEEDED`` diagnostic (the pack does not compile);
the worker's running rule set is untouched either way, since only a returned
``CompiledRuleSet`` is ever installed. The child sends back the pickled
``(ruleset, diagnostics)`` of ``compile_files``: our own objects, read only from the
child we started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import pickle
import resource
import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from engine.backends import BackendKind
from engine.compile.pack import compile_files
from engine.diagnostics import Code, Diagnostic, Location
from engine.egress.policy import WebhookPolicy
from engine.errors import CompileAbandoned
from engine.model import CompiledRuleSet
from engine.rule_engine import backend_checks

log = logging.getLogger("yutang.rules")

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["engine.compile.isolated"])
_POLL_S = 0.1

Compiled = tuple[CompiledRuleSet | None, list[Diagnostic]]


@dataclass(frozen=True, slots=True)
class CompileLimits:
    timeout_s: float = 30.0
    memory_mb: int = 1024


def warm_up() -> None:
    """Start the fork server now (it imports the compiler: ~1 s) rather than on the first upload."""
    from multiprocessing import forkserver

    forkserver.ensure_running()


async def compile_isolated(
    files: Mapping[str, str],
    *,
    backend: BackendKind,
    limits: CompileLimits,
    abandoned: Callable[[], Awaitable[bool]] | None = None,
    webhook_policy: WebhookPolicy | None = None,
    tenant_files: Mapping[str, str] | None = None,
) -> Compiled:
    """``compile_files`` in a child process, within ``limits``; raises CompileAbandoned."""
    reader, writer = _CONTEXT.Pipe(duplex=False)
    process = _CONTEXT.Process(
        target=_child,
        args=(writer, dict(files), backend, limits.memory_mb, webhook_policy, dict(tenant_files or {})),
        name="yutang-compile",
        daemon=True,
    )
    try:
        await asyncio.to_thread(process.start)
        writer.close()
        return await _wait(process, reader, limits, abandoned)
    finally:
        if process.is_alive():
            process.kill()
        with contextlib.suppress(ValueError):  # never started
            await asyncio.to_thread(process.join, 5)
        reader.close()


async def _wait(
    process: Any, reader: Connection, limits: CompileLimits, abandoned: Callable[[], Awaitable[bool]] | None
) -> Compiled:
    receiving = asyncio.ensure_future(asyncio.to_thread(_receive, reader))
    deadline = time.monotonic() + limits.timeout_s
    baseline = _resident_bytes(process.pid)
    try:
        while not receiving.done():
            if _resident_bytes(process.pid) - baseline > limits.memory_mb * 1024 * 1024:
                log.warning("rule pack compile stopped past %d MB", limits.memory_mb)
                return None, [_limit(f"compiling the pack needs more than {limits.memory_mb} MB; it was stopped")]
            if abandoned is not None and await abandoned():
                log.warning("rule pack compile stopped: the client disconnected")
                raise CompileAbandoned("the client disconnected; the compile was stopped")
            if time.monotonic() >= deadline:
                log.warning("rule pack compile stopped after %.1f s", limits.timeout_s)
                return None, [_limit(f"compiling the pack took longer than {limits.timeout_s:g} s; it was stopped")]
            await asyncio.wait({receiving}, timeout=_POLL_S)
        outcome = receiving.result()
    finally:
        if not receiving.done():
            process.kill()  # the reading thread sees end-of-file and returns
            await asyncio.wait({receiving})
    if outcome is None:  # the child died without an answer: out of memory outside the compile, or killed
        return None, [_limit(died_message(process.exitcode, limits.memory_mb))]
    if outcome == "memory":
        return None, [_limit(f"compiling the pack needs more than {limits.memory_mb} MB; it was stopped")]
    return outcome  # type: ignore[no-any-return]


def died_message(code: int | None, memory_mb: int) -> str:
    """Why the compile child gave no answer, as far as its exit status tells (a signal by name).

    An allocation refused by the address-space cap can end the child outside any handler, so
    every case still names the memory limit; the signal or exit code says which it was.
    """
    head = "compiling the pack stopped without an answer"
    tail = "the running rule set is unchanged, and the server log has the details"
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        if -code == signal.SIGKILL:
            return f"{head}: the compile process was killed ({name}), most likely past its {memory_mb} MB memory limit"
        return f"{head}: the compile process crashed ({name}), past its {memory_mb} MB memory limit or on a bug; {tail}"
    limit = f"past its {memory_mb} MB memory limit or on a bug"
    return f"{head}: the compile process failed (exit code {code}), {limit}; {tail}"


def _resident_bytes(pid: int | None) -> int:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:  # resident pages: second field
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):  # gone already (its answer is in the pipe) or no /proc
        return 0


def _receive(reader: Connection) -> Any:
    try:
        return pickle.loads(reader.recv_bytes())
    except (EOFError, OSError):
        return None


def _limit(message: str) -> Diagnostic:
    return Diagnostic(Location("<pack>"), Code.LIMIT_EXCEEDED, message)


def _child(
    writer: Connection,
    files: dict[str, str],
    backend: BackendKind,
    memory_mb: int,
    policy: WebhookPolicy | None,
    tenant_files: dict[str, str],
) -> None:
    """In the child: cap memory, compile, send the result (or "memory") and exit."""
    _cap_address_space(memory_mb)
    try:
        checks = backend_checks(backend)
        result: object = compile_files(files, checks=checks, webhook_policy=policy, tenant_files=tenant_files or None)
        payload = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    except (MemoryError, RecursionError):
        payload = pickle.dumps("memory")
    try:
        writer.send_bytes(payload)
        writer.close()
    except (BrokenPipeError, ConnectionResetError):
        # the parent stopped waiting (its timeout, a server shutting down): nobody to tell, and a
        # traceback here would be a plain-text line in the server's JSON log
        return


def _cap_address_space(memory_mb: int) -> None:
    with open("/proc/self/statm", encoding="ascii") as statm:  # size in pages, first field
        mapped = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    limit = mapped + 2 * memory_mb * 1024 * 1024  # the parent stops it at memory_mb of growth first
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
