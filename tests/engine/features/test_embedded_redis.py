"""The embedded server keeps features across restarts and crashes; outages raise StoreUnavailable."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path

import pytest
from feature_backends import SECRET
from feature_stream import START
from redis.asyncio import RedisCluster

from engine.datastore.connection import RedisSettings, client_from_url, open_redis
from engine.datastore.embedded import EmbeddedRedis, free_port
from engine.errors import StoreUnavailable
from engine.events import Event
from engine.features.spec import Aggregate, Entity, WindowedFeature
from engine.features.store import FeatureStore

SIGNUPS = WindowedFeature("device.signups_7d", Aggregate.COUNT, Entity.DEVICE, 7 * 86400, frozenset({"signup"}))


def _signup(n: int) -> Event:
    return Event(event_id=f"p{n}", type="signup", customer=f"c{n}", device="shared-dev",
                 timestamp=START + timedelta(minutes=n))  # fmt: skip


async def _count(server: EmbeddedRedis, n: int) -> int | float | bool | None:
    """Record signup ``n`` on ``server`` and return the device's signup count."""
    client = client_from_url(server.url, RedisSettings())
    try:
        store = FeatureStore(client, secret=SECRET)
        return (await store.record_and_read(tenant="m1", event=_signup(n), specs=(SIGNUPS,))).values[SIGNUPS.name]
    finally:
        await client.aclose()


@pytest.mark.parametrize("crash", [False, True], ids=["clean-stop", "sigkill"])
async def test_counts_survive_a_restart_on_the_same_data_dir(tmp_path: Path, crash: bool) -> None:
    server = await asyncio.to_thread(EmbeddedRedis(tmp_path / "data", port=free_port()).start)
    try:
        for n in range(5):
            assert await _count(server, n) == n + 1
        if crash:
            await asyncio.sleep(1.2)  # appendfsync everysec: what a crash may lose is the last second
            server.kill()
        else:
            server.stop()
        await asyncio.to_thread(server.start)
        assert await _count(server, 5) == 6
    finally:
        server.stop()


async def test_no_url_starts_an_embedded_server_on_a_unix_socket(tmp_path: Path) -> None:
    handle = await open_redis(RedisSettings(data_dir=tmp_path / "data"))
    try:
        assert handle.embedded is not None and handle.embedded.url.startswith("unix://")
        assert os.path.exists(handle.embedded.socket_path)
        assert await FeatureStore(handle.client, secret=SECRET).ping()
    finally:
        await handle.aclose()
    assert handle.embedded is not None and not handle.embedded.running
    assert (tmp_path / "data" / "appendonly.aof").exists()


async def test_a_second_process_on_the_data_dir_shares_its_server_instead_of_starting_one(tmp_path: Path) -> None:
    owner = await asyncio.to_thread(EmbeddedRedis(tmp_path / "data").start)  # as `yutang serve` holds it
    try:
        handle = await open_redis(RedisSettings(data_dir=tmp_path / "data"))  # as `yutang worker` opens it
        try:
            assert handle.embedded is None  # not its server: closing the handle leaves it running
            assert await _count(owner, 0) == 1
            store = FeatureStore(handle.client, secret=SECRET)
            assert (await store.record_and_read(tenant="m1", event=_signup(1), specs=(SIGNUPS,))).values == {
                SIGNUPS.name: 2
            }
        finally:
            await handle.aclose()
        assert owner.running and await _count(owner, 2) == 3
    finally:
        owner.stop()


async def test_outage_raises_store_unavailable_then_recovers(tmp_path: Path) -> None:
    server = await asyncio.to_thread(EmbeddedRedis(tmp_path / "data", port=free_port()).start)
    client = client_from_url(server.url, RedisSettings(socket_timeout=0.3, connect_timeout=0.3))
    store = FeatureStore(client, secret=SECRET)
    try:
        assert (await store.record_and_read(tenant="m1", event=_signup(0), specs=(SIGNUPS,))).values
        server.stop()
        with pytest.raises(StoreUnavailable):
            await store.record_and_read(tenant="m1", event=_signup(1), specs=(SIGNUPS,))
        assert await store.ping() is False
        await asyncio.to_thread(server.start)
        snapshot = await store.record_and_read(tenant="m1", event=_signup(1), specs=(SIGNUPS,))
        assert snapshot.values[SIGNUPS.name] == 2 and await store.ping()
    finally:
        await client.aclose()
        server.stop()


@pytest.mark.cluster
async def test_cluster_url_builds_a_cluster_client(redis_cluster: object) -> None:
    client = client_from_url(redis_cluster.url, RedisSettings())  # type: ignore[attr-defined]
    try:
        assert isinstance(client, RedisCluster)
        store = FeatureStore(client, secret=SECRET)
        assert (await store.record_and_read(tenant="m2", event=_signup(0), specs=(SIGNUPS,))).values == {
            SIGNUPS.name: 1
        }
    finally:
        await client.aclose()
