"""Receive one WeCom callback: check it is WeCom's, for this tenant, fresh; record what it says.

The order matters to an attacker: nothing is decrypted before the signature matches
the tenant's token, nothing is recorded before the message is read whole, and a
message older than the skew bound (a captured callback sent again later) is refused
by its signed ``timestamp`` before anything else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from api.errors import ApiError, InvalidRequest, Unauthorized
from api.event_time import moment_error
from api.outcomes.service import record_outcome
from api.runtime import Runtime
from engine.wecom.crypto import UNSIGNED, CallbackKeys, CallbackRefused
from engine.wecom.messages import MalformedMessage, envelope, message_id, read_message

log = logging.getLogger("yutang.wecom")


class InvalidXml(ApiError):
    status = 400
    code = "invalid_xml"


@dataclass(frozen=True, slots=True)
class Signed:
    """The query WeCom signs every callback with."""

    msg_signature: str
    timestamp: str
    nonce: str


def keys_for(runtime: Runtime, tenant: str) -> CallbackKeys:
    """The tenant's callback keys; none configured is answered as a signature that does not match.

    This URL has no Bearer key, so a distinct answer for "no WeCom here" would let anyone
    list which tenants exist and which use WeCom. The log says which it was.
    """
    keys = runtime.settings.wecom_keys().get(tenant)  # parsed per callback: rare, and a file edit applies at once
    if keys is None:
        log.info("WeCom callback for tenant %r, which has none configured (YUTANG_WECOM_CALLBACKS)", tenant)
        runtime.metrics.wecom_callbacks.labels("unconfigured", "refused").inc()
        raise Unauthorized(f"not a WeCom callback for tenant {tenant!r}: {UNSIGNED}")
    return keys


def check_fresh(runtime: Runtime, timestamp: str) -> None:
    """A signed timestamp within the skew bound of our clock, so an old callback cannot be sent again."""
    try:
        epoch = int(timestamp)
    except ValueError:
        raise InvalidRequest("timestamp: must be seconds since the epoch") from None
    late = moment_error(runtime.settings, epoch, shown=timestamp, hint="A WeCom callback cannot be sent again later.")
    if late is not None:
        raise late


def verify_url(runtime: Runtime, tenant: str, signed: Signed, echostr: str) -> str:
    """WeCom's URL check: the decrypted ``echostr``, proving we hold the tenant's keys."""
    keys = keys_for(runtime, tenant)
    try:
        keys.check_signature(signed.msg_signature, signed.timestamp, signed.nonce, echostr)
        check_fresh(runtime, signed.timestamp)
        return keys.decrypt(echostr).decode()
    except CallbackRefused as err:
        runtime.metrics.wecom_callbacks.labels("verify_url", "refused").inc()
        raise Unauthorized(f"not a WeCom callback for tenant {tenant!r}: {err}") from None
    except UnicodeDecodeError:
        raise InvalidRequest("echostr: its plaintext is not UTF-8") from None


async def receive(runtime: Runtime, tenant: str, signed: Signed, raw: bytes) -> str:
    """Record one callback's events (once, whatever WeCom retries); the kind of message it was."""
    keys = keys_for(runtime, tenant)
    try:
        sealed = envelope(raw)
        keys.check_signature(signed.msg_signature, signed.timestamp, signed.nonce, sealed.encrypted)
        check_fresh(runtime, signed.timestamp)
        plain = keys.decrypt(sealed.encrypted)
        reading = read_message(plain)
    except MalformedMessage as err:
        runtime.metrics.wecom_callbacks.labels("malformed", "refused").inc()
        raise InvalidXml(f"not a WeCom callback message: {err}") from None
    except CallbackRefused as err:
        runtime.metrics.wecom_callbacks.labels("unsigned", "refused").inc()
        raise Unauthorized(f"not a WeCom callback for tenant {tenant!r}: {err}") from None
    if reading.kind.startswith("ignored/"):
        runtime.metrics.wecom_callbacks.labels(reading.kind.split("/")[1], "ignored").inc()
        return reading.kind
    fresh = False
    for event in reading.events:
        _, replayed = await record_outcome(runtime=runtime, tenant=tenant, event=event, author="wecom")
        if not replayed:
            await runtime.observer.outcome(tenant, event)
            fresh = True
    ledger = runtime.services.wecom
    counted = await runtime.guard.call(
        "wecom", ledger.count_once(tenant=tenant, message_id=message_id(plain), at=reading.at, counts=reading.counts)
    )
    if counted and reading.standing is not None:
        customer, staff, state = reading.standing
        await runtime.guard.call(
            "wecom", ledger.set_standing(tenant=tenant, customer=customer, staff=staff, state=state, at=reading.at)
        )
    runtime.metrics.wecom_callbacks.labels(reading.kind, "recorded" if fresh or counted else "duplicate").inc()
    return reading.kind
