"""Every change of a tenant's pack takes the same edit lock: an upload or a rollback never lands in the middle
of another worker's save, where that save would then publish over it.

The editor's save holds the tenant's edit lock in Redis while it compiles (seconds, in the
compile child), then publishes. An upload or a rollback that did not take it published in
that gap, and the save then replaced it with the edited old version: the upload was lost
with a 200. Here another worker's save is in progress (its lock is held in the real Redis
the app uses); an upload and a rollback must be refused with 409 ``edit_in_progress``,
leave the running version alone, and pass once the lock is released.
"""

from __future__ import annotations

from tests.api.conftest import auth
from tests.api.test_rules import pack_files


async def test_an_upload_and_a_rollback_wait_for_a_save_in_progress(api) -> None:
    store = api.app.state.runtime.rulesets.store
    original = (await api.get("/v1/rules", headers=auth())).json()["version"]
    uploaded = await api.post("/v1/rules/reload", json={"files": pack_files(10)}, headers=auth())
    assert uploaded.status_code == 200, uploaded.text
    lowered = uploaded.json()["version"]

    token = await store.hold_edit("alpha", 60_000)  # another worker's save is compiling
    assert token is not None
    refused = await api.post("/v1/rules/reload", json={"files": pack_files(20)}, headers=auth())
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "edit_in_progress", refused.text
    back = await api.post("/v1/rules/rollback", json={"version": original}, headers=auth())
    assert back.status_code == 409 and back.json()["error"]["code"] == "edit_in_progress", back.text
    assert (await api.get("/v1/rules", headers=auth())).json()["version"] == lowered

    await store.release_edit("alpha", token)
    back = await api.post("/v1/rules/rollback", json={"version": original}, headers=auth())
    assert back.status_code == 200, back.text
    assert (await api.get("/v1/rules", headers=auth())).json()["version"] == original
    again = await api.post("/v1/rules/reload", json={"files": pack_files(20)}, headers=auth())
    assert again.status_code == 200 and again.json()["version"] not in (original, lowered), again.text
