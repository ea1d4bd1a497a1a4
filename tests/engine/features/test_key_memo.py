"""The per-worker memo of ids and tags (KeyBuilder.locate) never hands one tenant's or secret's id to another."""

from __future__ import annotations

import base64
import hashlib
import hmac

from engine.features.keys import KeyBuilder
from engine.features.spec import Entity

SECRET = b"0123456789abcdef0123"


def reference_hash(secret: bytes, tenant: str, namespace: str, value: str) -> str:
    """The documented id of a personal value: HMAC-SHA256(secret, tenant|ns|value), 120 bits, base64url."""
    message = f"{tenant}\x1f{namespace}\x1f{value}".encode()
    return base64.urlsafe_b64encode(hmac.new(secret, message, hashlib.sha256).digest()[:15]).decode()


def test_a_remembered_phone_keeps_its_keyed_hash_per_tenant_and_secret() -> None:
    keys, other_secret = KeyBuilder(SECRET), KeyBuilder(b"another-secret-0123456789")
    for _ in range(2):  # the second pass is served from the memo
        acme = keys.locate("acme", Entity.PHONE, "+8613800138000")
        bravo = keys.locate("bravo", Entity.PHONE, "+8613800138000")
        elsewhere = other_secret.locate("acme", Entity.PHONE, "+8613800138000")
        assert acme == (reference_hash(SECRET, "acme", "tel", "+8613800138000"), f"yt:{{acme:tel:{acme[0]}}}")
        assert bravo[0] == reference_hash(SECRET, "bravo", "tel", "+8613800138000") != acme[0]
        assert elsewhere[0] != acme[0]


def test_a_remembered_id_is_the_entity_s_own_namespace() -> None:
    keys = KeyBuilder(SECRET)
    assert keys.locate("acme", Entity.CUSTOMER, "c-1") == ("c-1", "yt:{acme:cus:c-1}")
    assert keys.locate("acme", Entity.DEVICE, "c-1") == ("c-1", "yt:{acme:dev:c-1}")
    assert keys.locate("acme", Entity.CUSTOMER, "a b")[0].startswith("~")  # unsafe ids still digested
