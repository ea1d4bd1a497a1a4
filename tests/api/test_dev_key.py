"""``yutang serve`` without configured keys: its development key survives a restart, in a 0600 file."""

from __future__ import annotations

import re
import stat

import httpx

from tests.api.serving import yutang_serve
from tests.api.test_self_recovery import PACK

KEY_LINE = re.compile(r"Authorization: Bearer (\S+)")


def test_the_development_key_is_kept_in_the_data_directory_across_restarts(tmp_path):
    kept = tmp_path / "data" / "dev-api-key"
    keys = []
    for _ in range(2):
        with yutang_serve(tmp_path, rules=PACK, env={"YUTANG_API_KEYS": ""}) as (base, _):
            [key] = KEY_LINE.findall((tmp_path / "serve.log").read_text())
            assert httpx.get(f"{base}/v1/rules", headers={"Authorization": f"Bearer {key}"}).status_code == 200
            assert stat.S_IMODE(kept.stat().st_mode) == 0o600 and kept.read_text().startswith(f"{key}:dev:")
            keys.append(key)
        kept.chmod(0o644)  # copied around with a looser mode: narrowed back to 0600 before it is used
    assert keys[0] == keys[1]
