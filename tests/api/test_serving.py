"""The test harness's ``yutang serve`` leaves nothing running: not on a clean exit, not on a failed start.

A start that failed used to kill only the parent: its two workers and its embedded Redis (a session of its
own) lived on as orphans, each holding a port and a data directory, on a box shared by eight people.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api import serving
from tests.api.serving import alive, process_tree, yutang_serve

PACK = Path(__file__).parent / "packs" / "small"


def test_a_clean_exit_stops_the_workers_and_the_redis(tmp_path: Path) -> None:
    before = process_tree(os.getpid())
    with yutang_serve(tmp_path, rules=PACK, workers=2) as (base, _):
        assert httpx.get(f"{base}/readyz", timeout=10).status_code == 200
        started = process_tree(os.getpid()) - before
    assert len(started) >= 4, started  # the server, two workers, the embedded Redis
    assert alive(started) == set()


def test_a_start_interrupted_by_a_fault_stops_everything_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fault: once /readyz answers (workers and Redis up), the harness's next call raises."""
    before = process_tree(os.getpid())
    real_get = httpx.get
    started: set[int] = set()

    def get(url: str, **kwargs: Any) -> httpx.Response:
        answer = real_get(url, **kwargs)
        if answer.status_code == 200:
            started.update(process_tree(os.getpid()) - before)
            raise RuntimeError("injected fault")
        return answer

    monkeypatch.setattr(serving.httpx, "get", get)
    with pytest.raises(RuntimeError, match="injected fault"), yutang_serve(tmp_path, rules=PACK, workers=2):
        pass
    assert len(started) >= 4, started
    assert alive(started) == set()
