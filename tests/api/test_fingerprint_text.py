"""A retried event is recognised across builds: each field's fingerprint is the digest of its ``json.dumps`` text.

Claims live in Redis for as long as an answer is kept; a build that wrote a field's JSON
text differently would answer a storefront's honest retry after a deploy with 409
``idempotency_conflict`` instead of the first answer. The text is built by hand for the
hot path, so it is checked here against the definition, field by field.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from api.claims import FIELD_DIGEST_BYTES, Fingerprint
from engine.datastore.keys import digest
from engine.events import Event


def test_every_field_s_digest_is_that_of_its_json_text_nested_non_ascii_and_numbers_included() -> None:
    event = Event(
        event_id="e-指纹-1", type="order", customer="妈妈1", amount=1499.5, device="dv-1", ip="10.0.0.7",
        phone="+8613800138000", timestamp=datetime(2026, 5, 1, 12, 30, tzinfo=UTC),
        attributes={"渠道": "社群", "z": 2.5, "a": "é", "b": False, "n": 10**15, "m": 1e-7},
    )  # fmt: skip
    fingerprint = Fingerprint.of(event)
    assert set(fingerprint.fields) == event.model_fields_set
    for name, got in fingerprint.fields.items():
        value = event.epoch if name == "timestamp" else getattr(event, name)
        assert got == digest(json.dumps(value, sort_keys=True, ensure_ascii=False), FIELD_DIGEST_BYTES), name
    assert fingerprint.whole == digest(json.dumps(fingerprint.fields, sort_keys=True), FIELD_DIGEST_BYTES)
