"""Run the feature-store tests on one real server and on the real local cluster."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# pytest runs with --import-mode=importlib (no sys.path changes): make this directory's
# helpers (feature_backends, feature_stream, feature_oracle) importable by the tests here
sys.path.insert(0, str(Path(__file__).parent))

from feature_backends import Backend
from redis.asyncio import Redis


@pytest.fixture
async def cluster_nodes(redis_cluster: object) -> AsyncIterator[list[Redis]]:
    """Plain clients to each master of the local cluster (to inspect raw keys)."""
    nodes = [Redis(port=port) for port in redis_cluster.ports]  # type: ignore[attr-defined]
    yield nodes
    for node in nodes:
        await node.aclose()


@pytest.fixture(params=["single", pytest.param("cluster", marks=pytest.mark.cluster)])
def backend(request: pytest.FixtureRequest) -> Backend:
    """The same test on one server and on the cluster (started only when selected)."""
    if request.param == "single":
        client = request.getfixturevalue("redis_client")
        return Backend("single", client, [client])
    client = request.getfixturevalue("redis_cluster_client")
    return Backend("cluster", client, request.getfixturevalue("cluster_nodes"))
