"""The client's connections pack commands with hiredis: the same bytes as redis-py's packer."""

from __future__ import annotations

import pytest
from redis.asyncio.connection import Connection, UnixDomainSocketConnection
from redis.exceptions import DataError

from engine.datastore.connection import RedisSettings, client_from_url, hiredis_packing

COMMANDS = [
    ("EVALSHA", "a" * 40, 2, "yt:{t:cus:c1}:ev", "yt:{t:dev:d1}:n", 1700000000123, 0.1, -2.5e20, "", "新客礼"),
    ("SET", "k", b"\x00\xffraw", "NX", "PX", 86_400_000),
    ("CONFIG GET", "maxmemory"),
]


@pytest.mark.parametrize("base", [Connection, UnixDomainSocketConnection])
@pytest.mark.parametrize("command", COMMANDS)
def test_hiredis_packing_sends_the_same_bytes(base: type[Connection], command: tuple[object, ...]) -> None:
    kwargs = {"path": "/tmp/none.sock"} if base is UnixDomainSocketConnection else {}
    plain, fast = base(**kwargs), hiredis_packing(base)(**kwargs)
    assert b"".join(fast.pack_command(*command)) == b"".join(plain.pack_command(*command))


def test_unsendable_values_are_refused_as_redis_py_refuses_them() -> None:
    with pytest.raises(DataError):
        hiredis_packing(Connection)().pack_command("SET", "k", None)


def test_clients_built_from_a_url_use_it() -> None:
    client = client_from_url("unix:///tmp/none.sock", RedisSettings())
    assert issubclass(client.connection_pool.connection_class, UnixDomainSocketConnection)
    assert client.connection_pool.connection_class is hiredis_packing(UnixDomainSocketConnection)
