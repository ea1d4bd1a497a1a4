"""Webhooks are signed in the Standard Webhooks format: the specification's own library verifies them."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from engine.journeys.webhooks import secret_bytes, signed_headers

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
BODY = b'{"customer":"mum_studio","tier":"trial"}'


def test_a_delivery_verifies_with_the_reference_library_and_names_its_id() -> None:
    headers = signed_headers(SECRET, "d-123", BODY)
    assert Webhook(SECRET).verify(BODY, headers) == {"customer": "mum_studio", "tier": "trial"}
    assert headers["webhook-id"] == "d-123"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h, b.replace(b"trial", b"vip")),  # the body changed on the way
        lambda h, b: ({**h, "webhook-id": "d-124"}, b),  # a signature moved to another delivery
        lambda h, b: ({**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)}, b),
    ],
)
def test_a_changed_body_id_or_time_is_refused_by_the_receiver(tamper) -> None:  # type: ignore[no-untyped-def]
    headers, body = tamper(signed_headers(SECRET, "d-123", BODY), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body, headers)


def test_a_replayed_old_delivery_is_refused_by_the_receiver() -> None:
    headers = signed_headers(SECRET, "d-123", BODY, now=datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(SECRET).verify(BODY, headers)


def test_a_secret_set_before_the_format_signs_with_its_own_bytes() -> None:
    legacy = "studio-crm-secret-set-in-2025"
    assert secret_bytes(legacy) == legacy.encode()
    assert Webhook(legacy.encode()).verify(BODY, signed_headers(legacy, "d-1", BODY))
    assert secret_bytes("whsec_not base64!") == b"whsec_not base64!"
