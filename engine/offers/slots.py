"""Redis keys of the offer ledger and the contact gate, and how scripts are sent.

Every key is ``yt:{<tenant>:<ns>:<id>}:<suffix>``, the convention of the feature
store (engine.features.keys): the part in braces is the Redis Cluster hash tag, so
everything one Lua script touches lives in one slot, and a tenant never reaches
another tenant's keys. Customers use the feature store's namespace ``cus``, so the
ledger's per-customer keys share the slot of that customer's features.

Offers (slot ``{<tenant>:ofr:<offer>}``) hold the whole reservation state of an
offer -- total, per-customer and per-day counters, idempotency records and held
rewards -- so one script decides a grant atomically on one server or a cluster.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from redis import exceptions as redis_errors
from redis.asyncio import RedisCluster
from redis.commands.core import AsyncScript
from redis.crc import key_slot

from engine.errors import StoreUnavailable

PREFIX = "yt"
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.@+=-]{1,64}$")

#: Errors that mean "Redis is unreachable or too slow", never "the script is wrong".
UNAVAILABLE: tuple[type[BaseException], ...] = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.ClusterDownError,
    redis_errors.TryAgainError,
    redis_errors.MasterDownError,
    redis_errors.BusyLoadingError,
    TimeoutError,
    ConnectionError,
)


def safe_id(value: str) -> str:
    """``value`` itself when it cannot break a hash tag, else ``~<digest>``."""
    if _SAFE_ID.match(value):
        return value
    raw = hashlib.blake2b(value.encode(), digest_size=9).digest()
    return "~" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class OfferKeys:
    """Keys of one offer of one tenant; all in the offer's slot."""

    tenant: str
    offer_id: str

    @property
    def base(self) -> str:
        return f"{PREFIX}:{{{safe_id(self.tenant)}:ofr:{safe_id(self.offer_id)}}}"

    @property
    def budget(self) -> str:  # hash: used, granted, held, released, voided, expired
        return f"{self.base}:budget"

    @property
    def customers(self) -> str:  # hash: beneficiary -> units held or granted
        return f"{self.base}:customers"

    def day(self, day: str) -> str:  # counter of grants on a local date (YYYY-MM-DD)
        return f"{self.base}:day:{day}"

    def event(self, event_id: str) -> str:  # the stored outcome of one event
        return f"{self.base}:event:{event_id}"

    def hold(self, event_id: str) -> str:  # hash: one held reward
        return f"{self.base}:hold:{event_id}"

    @property
    def due(self) -> str:  # zset: event_id of each pending hold -> void_at
        return f"{self.base}:due"

    def period(self, kind: str, key: str) -> str:  # counter of grants in a local week (w) or month (m)
        return f"{self.base}:{kind}:{key}"

    @property
    def reservations_due(self) -> str:  # zset: event_id of each uncommitted reservation -> expires_at
        return f"{self.base}:rdue"


@dataclass(frozen=True, slots=True)
class CustomerKeys:
    """Keys of one customer of one tenant; the feature store's customer slot."""

    tenant: str
    customer: str

    @property
    def base(self) -> str:
        return f"{PREFIX}:{{{safe_id(self.tenant)}:cus:{safe_id(self.customer)}}}"

    @property
    def grants(self) -> str:  # zset: JSON grant record -> event epoch
        return f"{self.base}:of:grants"

    @property
    def holds(self) -> str:  # set: hold ids where this customer is invitee or beneficiary
        return f"{self.base}:of:holds"

    @property
    def released(self) -> str:  # zset: hold ids released where this customer is invitee or beneficiary -> when
        return f"{self.base}:of:released"

    @property
    def released_refs(self) -> str:  # hash: released hold id -> "order reference|beneficiary|subject"
        return f"{self.base}:of:released:ref"

    @property
    def clawbacks(self) -> str:  # hash: "offer/event" -> JSON of a reward marked for clawback
        return f"{self.base}:of:clawbacks"

    @property
    def reservations(self) -> str:  # set: reservation ids (offer/event) still reserved or committed
        return f"{self.base}:of:resv"

    def contacts(self, channel: str) -> str:  # zset: contact id -> epoch ms
        return f"{self.base}:ct:{channel}"

    @property
    def contact_log(self) -> str:  # zset: "channel|ms|id" -> epoch ms, every channel
        return f"{self.base}:ct:log"

    def platform(self, quota: str) -> str:  # int: contacts counted against a platform quota period
        return f"{self.base}:ct:pf:{quota}"


def held_offers_key(tenant: str) -> str:
    """Set of offer ids that ever held a reward: where ``expire_holds`` looks."""
    return f"{PREFIX}:{{{safe_id(tenant)}:ofs}}:held"


def reserved_offers_key(tenant: str) -> str:
    """Set of offer ids that ever reserved a unit: where the reservation sweep looks."""
    return f"{PREFIX}:{{{safe_id(tenant)}:ofs}}:reserved"


@contextmanager
def store_errors() -> Iterator[None]:
    """Turn connection failures and timeouts into ``StoreUnavailable``."""
    try:
        yield
    except StoreUnavailable:
        raise
    except UNAVAILABLE as err:
        raise StoreUnavailable(f"redis: {err}") from err


ScriptCall = tuple[AsyncScript, Sequence[str], Sequence[Any]]
Command = tuple[Any, ...]  # a plain command: name, then arguments


async def run_batch(client: Any, calls: Sequence[ScriptCall | Command]) -> list[Any]:
    """Run script calls (one per slot) and plain commands in one round trip.

    A single call goes straight out. Several go in one non-transactional pipeline of
    raw EVALSHAs: redis-py's script-aware pipeline would spend an extra SCRIPT EXISTS
    round trip on every execute; a script Redis does not know (restarted, flushed) is
    loaded and run again. A cluster pipeline routes each command, raw EVALSHAs
    included, to the node owning its keys' slot (one round trip per node, in
    parallel, on one connection each).
    """
    if not calls:
        return []
    with store_errors():
        if len(calls) == 1:
            return [await _run_one(client, calls[0])]
        pipe = client.pipeline(transaction=False)
        for call in calls:
            if isinstance(call[0], AsyncScript):
                script, keys, args = call
                pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
            else:
                pipe.execute_command(*call)
        results: list[Any] = await pipe.execute(raise_on_error=False)
        for index, result in enumerate(results):
            if isinstance(result, redis_errors.NoScriptError):
                results[index] = await _run_one(client, calls[index])
            elif isinstance(result, Exception):
                raise result
        return results


#: Plain write commands folded into one script call: ARGV holds, per command, its name,
#: the index of its key in KEYS, how many arguments follow, then those arguments.
FOLDED_WRITES = """
local i = 1
while i <= #ARGV do
  local n = tonumber(ARGV[i + 2])
  redis.call(ARGV[i], KEYS[tonumber(ARGV[i + 1])], unpack(ARGV, i + 3, i + 2 + n))
  i = i + 3 + n
end
return 1
"""


class Writes:
    """Sends the write-only calls of a request in one round trip, its plain commands folded.

    redis-py spends ~20 µs of client CPU on each command of a pipeline, so the plain
    commands (``(name, key, *args)``, key first) go as one script call per hash slot
    instead; script calls stay as they are. Nothing is read back.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.cluster = isinstance(client, RedisCluster)
        self.script = client.register_script(FOLDED_WRITES)

    async def send(self, calls: Sequence[ScriptCall | Command]) -> None:
        scripts: list[ScriptCall | Command] = []
        by_slot: dict[int, list[Command]] = {}
        for call in calls:
            if isinstance(call[0], AsyncScript):
                scripts.append(call)
            else:
                slot = key_slot(str(call[1]).encode()) if self.cluster else 0
                by_slot.setdefault(slot, []).append(call)
        await run_batch(self.client, [*scripts, *(self._fold(commands) for commands in by_slot.values())])

    def _fold(self, commands: Sequence[Command]) -> ScriptCall | Command:
        if len(commands) == 1:
            return commands[0]
        keys: dict[str, int] = {}
        args: list[Any] = []
        for name, key, *rest in commands:
            index = keys.setdefault(str(key), len(keys) + 1)
            args += [name, index, len(rest), *rest]
        return (self.script, list(keys), args)


async def _run_one(client: Any, call: ScriptCall | Command) -> Any:
    if isinstance(call[0], AsyncScript):
        script, keys, args = call
        return await script(keys=list(keys), args=list(args))
    return await client.execute_command(*call)


def text(value: Any) -> str:
    """A reply as ``str`` whether or not the client decodes responses."""
    return value.decode() if isinstance(value, bytes) else str(value)
