"""The lean path to a Redis Cluster: one lean connection per master, each command routed by its key slot.

Why not redis-py's ``RedisCluster`` for the hot route: its pipeline takes a pooled
connection per node per request, so every request pays its own write, read wake-up and
socket timeout on each node it touches (and the server a read and a write syscall per
request), and its routing and bookkeeping cost more client CPU per command than the
command itself. ``./yt bench growth_cluster`` measured the cluster at 2.0x the worker
CPU and 2.2x the Redis CPU per event of one server. Here the cluster gets what one
server gets from :mod:`engine.datastore.coalescing`:

- one :class:`~engine.datastore.wire.LeanLink` per master (TLS and AUTH as the client's
  URL says), opened on first use; every command a loop pass issues goes into that
  pass's write to the master that owns its key's slot (one write per master per pass,
  one timer per write);
- the slot map comes from ``CLUSTER SLOTS`` (read by redis-py's ``initialize`` at
  startup, then by this client on its own lean links);
- ``MOVED``: the slot is pointed at the named master at once, the command is sent there
  again, and the whole map is re-read in the background (once, however many redirects
  a burst gets); ``ASK``: ``ASKING`` and the command go to the named master in one
  write, the map is left alone (the slot is still migrating); ``TRYAGAIN`` /
  ``CLUSTERDOWN``: sent again after a short pause until ``socket_timeout`` has passed,
  then that caller gets the error. None of these replies means the command ran, so
  sending it again never doubles a write;
- a master that stops answering fails only the commands sent to it (a timeout within
  ``socket_timeout``, or a lost connection); commands on the other masters are answered.
  A lost connection also re-reads the map (a failover promotes a replica);
- ``NOSCRIPT`` is the caller's (``run_batch`` sends that call again as ``EVAL``, which
  routes to the same master and caches the script there only).

Everything else (``pipeline()``, commands aimed at ``target_nodes``, keyless commands
such as ``SCRIPT LOAD`` or ``FLUSHALL``, commands whose keys move) is redis-py's, on its
own pooled connections. Replies are RESP2 and bytes, as on one server.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Sequence
from typing import Any

from redis.asyncio import RedisCluster, SSLConnection
from redis.client import CaseInsensitiveDict
from redis.crc import key_slot
from redis.exceptions import AskError, ClusterDownError, MovedError, ResponseError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError

from engine.datastore.wire import LeanLink, Reply, Target, pack

Address = tuple[str, int]
SLOTS = 16384
_EMPTY_RESPONSE = "EMPTY_RESPONSE"
_DROPPED_OPTIONS = ("keys", "NEVER_DECODE", _EMPTY_RESPONSE)
_SCRIPTS = frozenset(("EVALSHA", "EVAL", "EVALSHA_RO", "EVAL_RO", "evalsha", "eval"))
_MAX_REDIRECTS = 16  # a command bounced more often than this is failed: the map keeps changing under it
_PAUSE_S = 0.01  # first pause after TRYAGAIN / CLUSTERDOWN, doubled each time
_REFRESH_EVERY_S = 0.5  # the map is re-read at most this often after redirects or lost masters


class LeanCluster(RedisCluster):
    """``RedisCluster`` whose keyed commands travel on one lean connection per master."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["protocol"] = 2  # the lean links speak RESP2 (no HELLO); redis-py's shapes then agree with them
        super().__init__(*args, **kwargs)
        self.response_callbacks = CaseInsensitiveDict(self.response_callbacks)
        self._timeout: float | None = kwargs.get("socket_timeout")
        self._connect_timeout: float | None = kwargs.get("socket_connect_timeout") or self._timeout
        self._owners: list[Address | None] = [None] * SLOTS
        self._mapped = False
        self._links: dict[Address, LeanLink] = {}
        self._queues: dict[Address, tuple[list[bytes], list[asyncio.Future[Reply]]]] = {}
        self._template: Target | None = None
        self._refresh: asyncio.Task[None] | None = None
        self._refreshed_at = 0.0
        self._closed = False

    async def initialize(self, *args: Any, **kwargs: Any) -> LeanCluster:
        """redis-py's startup (slot map, command table), then this client's copy of the map."""
        await super().initialize(*args, **kwargs)
        if not self._mapped:
            for slot, nodes in self.nodes_manager.slots_cache.items():
                if nodes:
                    self._owners[slot] = (nodes[0].host, int(nodes[0].port))
            self._mapped = True
        return self

    # -- the caller's side ---------------------------------------------------------------

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        slot = None if "target_nodes" in kwargs else self.slot_of(args)
        if slot is None:
            return await super().execute_command(*args, **kwargs)
        reply = (await self._route([args], [slot]))[0]
        if isinstance(reply, ResponseError):
            if _EMPTY_RESPONSE in kwargs:
                return kwargs[_EMPTY_RESPONSE]
            raise reply
        return self._parse(args[0], reply, kwargs)

    async def send_many(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Several commands, each on its slot's master, in the current loop pass's writes.

        Each reply (after redis-py's response callback) or its ``ResponseError``, in order;
        a connection failure or timeout on any master raises once every reply is in.
        """
        if not self._mapped:
            await self.initialize()
        slots = []
        for command in commands:
            slot = self.slot_of(command)
            if slot is None:
                slot = await self._determine_slot(*command)
            slots.append(slot)
        replies = await self._route(commands, slots)
        pairs = zip(commands, replies, strict=True)
        return [reply if isinstance(reply, Exception) else self._parse(c[0], reply, {}) for c, reply in pairs]

    def slot_of(self, command: Sequence[Any]) -> int | None:
        """The hash slot of ``command``'s key; None when it has none at a fixed place (redis-py routes it)."""
        name = command[0]
        if name in _SCRIPTS:
            if len(command) < 3 or not int(command[2]):
                return None
            key = command[3]
        else:
            info = self.commands_parser.commands.get(name.lower()) if isinstance(name, str) else None
            if not isinstance(info, dict) or "movablekeys" in info["flags"]:
                return None
            position = info["first_key_pos"]
            if position <= 0 or len(command) <= position:
                return None
            key = command[position]
        return key_slot(key if isinstance(key, bytes) else str(key).encode())

    async def aclose(self) -> None:
        """Close the lean links and the map refresh, then redis-py's connections."""
        self._closed = True
        refresh, self._refresh = self._refresh, None
        if refresh is not None:
            refresh.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await refresh
        links, self._links = self._links, {}
        await asyncio.gather(*(link.aclose() for link in links.values()))
        await super().aclose()

    # -- routing and redirects -------------------------------------------------------------

    async def _route(self, commands: Sequence[Sequence[Any]], slots: list[int]) -> list[Any]:
        """Send every command to its slot's master; follow redirects; replies (or error replies) in order."""
        if not self._mapped:
            await self.initialize()
        packed = [pack(command) for command in commands]
        futures = [self._enqueue(self._owner(slot), data) for slot, data in zip(slots, packed, strict=True)]
        replies: list[Any] = [None] * len(commands)
        pending = list(range(len(commands)))
        deadline = time.monotonic() + (self._timeout or 1.0)
        pause = _PAUSE_S
        failure: BaseException | None = None
        for bounce in range(_MAX_REDIRECTS):
            again: list[int] = []
            busy = False
            for index in pending:
                try:  # every future is awaited, so none logs "exception was never retrieved"
                    replies[index] = await futures[index]
                except (AskError, TryAgainError, ClusterDownError) as err:
                    replies[index] = err
                    again.append(index)
                    busy = busy or not isinstance(err, AskError)
                except ResponseError as err:
                    replies[index] = err
                except Exception as err:  # the round trip to that master failed: re-raised below
                    failure = failure or err
                    self._lost()
            if not again or failure is not None or bounce == _MAX_REDIRECTS - 1:
                break
            if busy:
                if time.monotonic() + pause > deadline:
                    break
                await asyncio.sleep(pause)
                pause *= 2
            for index in again:
                futures[index] = self._redirect(replies[index], slots[index], packed[index])
            pending = again
        if failure is not None:
            raise failure
        return replies

    def _redirect(self, err: ResponseError, slot: int, data: bytes) -> asyncio.Future[Reply]:
        if isinstance(err, MovedError):  # MovedError is an AskError: test it first
            address = (err.host, int(err.port))
            self._owners[err.slot_id] = address
            self._schedule_refresh()
            return self._enqueue(address, data)
        if isinstance(err, AskError):
            address = (err.host, int(err.port))
            asking = self._enqueue(address, _ASKING)
            asking.add_done_callback(_retrieve)
            return self._enqueue(address, data)
        return self._enqueue(self._owner(slot), data)  # TRYAGAIN / CLUSTERDOWN: same master, after the pause

    def _owner(self, slot: int) -> Address:
        owner = self._owners[slot]
        if owner is None:  # a slot nobody serves: any master answers CLUSTERDOWN, which the caller gets
            owner = next((address for address in self._owners if address is not None), None)
            if owner is None:
                raise RedisConnectionError("the Redis Cluster serves no slot")
        return owner

    def _enqueue(self, address: Address, data: bytes) -> asyncio.Future[Reply]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Reply] = loop.create_future()
        if not self._queues:
            loop.call_soon(self._flush)
        queue = self._queues.get(address)
        if queue is None:
            queue = self._queues[address] = ([], [])
        queue[0].append(data)
        queue[1].append(future)
        return future

    def _flush(self) -> None:
        queues, self._queues = self._queues, {}
        for address, (data, futures) in queues.items():
            if self._closed:
                for future in futures:
                    if not future.done():
                        future.set_exception(RedisConnectionError("the Redis client is closed"))
                continue
            self._link(address).submit(b"".join(data), futures)

    def _link(self, address: Address) -> LeanLink:
        link = self._links.get(address)
        if link is None:
            link = self._links[address] = LeanLink(
                self._target(address), timeout=self._timeout, connect_timeout=self._connect_timeout
            )
        return link

    def _target(self, address: Address) -> Target:
        if self._template is None:
            node = self.get_default_node()
            connection = node.connection_class(**node.connection_kwargs)  # only read, never connected
            context = connection.ssl_context.get() if isinstance(connection, SSLConnection) else None
            self._template = Target(ssl=context, username=connection.username, password=connection.password)
        return dataclasses.replace(self._template, host=address[0], port=address[1])

    def _parse(self, name: Any, reply: Any, options: dict[str, Any]) -> Any:
        callback = self.response_callbacks.get(name)
        if callback is None:
            return reply
        for option in _DROPPED_OPTIONS:
            options.pop(option, None)
        return callback(reply, **options)

    # -- the slot map ------------------------------------------------------------------------

    def _lost(self) -> None:
        self._schedule_refresh()

    def _schedule_refresh(self) -> None:
        if self._closed or (self._refresh is not None and not self._refresh.done()):
            return
        if time.monotonic() - self._refreshed_at < _REFRESH_EVERY_S:
            return
        self._refreshed_at = time.monotonic()
        self._refresh = asyncio.get_running_loop().create_task(self._reload_map())

    async def _reload_map(self) -> None:
        """Read ``CLUSTER SLOTS`` from the first master that answers; keep the old map if none does."""
        loop = asyncio.get_running_loop()
        for address in dict.fromkeys(a for a in self._owners if a is not None):
            future: asyncio.Future[Reply] = loop.create_future()
            self._link(address).submit(pack(("CLUSTER", "SLOTS")), [future])
            try:
                reply = await future
            except Exception:  # that master is gone too: ask the next
                continue
            self._owners = slot_owners(reply, address, self._owners)
            return


def slot_owners(reply: Any, asked: Address, previous: list[Address | None]) -> list[Address | None]:
    """The master of each slot from a ``CLUSTER SLOTS`` reply (an empty host is the node asked)."""
    owners: list[Address | None] = [None] * SLOTS if reply else list(previous)
    for entry in reply or ():
        start, end, primary = int(entry[0]), int(entry[1]), entry[2]
        host = primary[0].decode() if isinstance(primary[0], bytes) else str(primary[0])
        address = (host or asked[0], int(primary[1]))
        owners[start : end + 1] = [address] * (end - start + 1)
    return owners


_ASKING = pack(("ASKING",))


def _retrieve(future: asyncio.Future[Reply]) -> None:
    if not future.cancelled():
        future.exception()
