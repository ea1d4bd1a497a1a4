"""Which tenant receives WeCom callbacks with which keys: ``YUTANG_WECOM_CALLBACKS``.

``tenant=corp_id:token:encoding_aes_key`` entries separated by ``;`` or newlines (the
file form, ``YUTANG_WECOM_CALLBACKS_FILE``, takes ``#`` comments). Each tenant registers
``https://<host>/v1/wecom/<tenant>/callback`` in WeCom's admin console with the same
token and EncodingAESKey.
"""

from __future__ import annotations

import re

from engine.wecom.crypto import CallbackKeys

_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # api.auth.TENANT_PATTERN


class WecomConfigError(ValueError):
    """The callback settings cannot be read; the service refuses to start."""


def parse_callbacks(spec: str, *, source: str = "YUTANG_WECOM_CALLBACKS") -> dict[str, CallbackKeys]:
    found: dict[str, CallbackKeys] = {}
    lines = (part.split("#", 1)[0].strip() for line in spec.splitlines() for part in line.split(";"))
    for number, entry in enumerate((line for line in lines if line), start=1):
        tenant, sep, rest = entry.partition("=")
        parts = rest.split(":")
        if not sep or len(parts) != 3:
            raise WecomConfigError(f"{source}: entry {number} must be tenant=corp_id:token:encoding_aes_key")
        if not _TENANT.match(tenant.strip()):
            raise WecomConfigError(f"{source}: entry {number}: tenant {tenant.strip()!r} must match {_TENANT.pattern}")
        try:
            found[tenant.strip()] = CallbackKeys.of(*(p.strip() for p in parts))
        except ValueError as err:
            raise WecomConfigError(f"{source}: entry {number} ({tenant.strip()}): {err}") from None
    return found
