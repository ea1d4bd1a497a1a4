"""A bounded schemathesis run over every operation of /openapi.json, against a real ``yutang serve``.

Why a real server and schemathesis' own command line: the run then goes through what a
caller's requests go through (uvicorn's HTTP parser, keep-alive, the middleware, one
worker on the embedded Redis with the shipped pack), with all of schemathesis' phases
(examples, boundary-value coverage, fuzzing, stateful links) exactly as a user runs
them; the ASGI transport would skip the HTTP layer where a 500 used to drop the
connection. The key holds every scope, so requests reach the handlers.

Checks: no 5xx, every answer's body matches its documented schema, every status is
documented. Deterministic: a fixed seed and a bounded number of examples per operation
(~30-60 s on the 2-core CI box); a failure prints schemathesis' report with the curl
line to reproduce it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.conftest import ALPHA
from tests.api.serving import yutang_serve

ROOT = Path(__file__).resolve().parents[2]
CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance"
SEED = 20261202
EXAMPLES = 25


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(tmp_path: Path) -> None:
    with yutang_serve(tmp_path, rules=ROOT / "rules") as (base, _):
        run = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "run", f"{base}/openapi.json",
             "--header", f"Authorization: Bearer {ALPHA}", "--checks", CHECKS,
             "--max-examples", str(EXAMPLES), "--seed", str(SEED), "--workers", "1",
             "--request-timeout", "30", "--no-color"],
            cwd=tmp_path, capture_output=True, text=True, timeout=240,
        )  # fmt: skip
    report = run.stdout[-20000:] + run.stderr[-5000:]
    assert run.returncode == 0, report
    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", run.stdout)
    assert selected and len(set(selected.groups())) == 1 and int(selected[3]) >= 25, report  # every operation ran
