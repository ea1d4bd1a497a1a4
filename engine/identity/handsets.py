"""The handset a WeChat user agent names, and the handset on a network: what a slow drip's phone keeps.

A slow-drip farmer (细水长流) signs up one to five accounts a day for weeks from one to three
phones, resetting each phone's device id between accounts (改机), on a home line whose router
redials into a new address, or on 4G, which draws a new address per request. The device id,
the address and the number all change; what stays, account after account, is the phone as its
user agent describes it, on the same few networks. ``subnet_handset`` keys that:

- **the handset**: the Android model and OS build (``engine/identity/device_models.py``), or
  on an iPhone / iPad (which names no model) the device kind and its iOS version, plus the
  WeChat version (``MicroMessenger/8.0.49``). Kept out: ``NetType`` and ``Language``, which
  change with the network the same phone is on (Wi-Fi at home, 5G outside), and the WebView's
  Chrome version, which updates on its own schedule; a reset keeps model, build, iOS and
  WeChat. A user agent naming none of these (not WeChat's, or no model nor iOS version) has
  no handset: missing, never a rare one.
- **the network**: the IPv4 /24, or the IPv6 /48. A redialled home line, or a carrier's 4G
  pool, hands out addresses within a few /24s that come back over days; one /24 alone is a
  neighbourhood (thousands of parents' events a week), the handset on it a few people. An
  IPv6 /64 is one home's LAN or one 4G attach, which a redial or a new attach replaces, as a
  new IPv4 address replaces the old one; the /48 is the provider's block the next prefix is
  drawn from, as the /24 is on IPv4.

What it trusts: nothing. The user agent is the caller's claim, so the key only ever counts
*against* an event: a farm that writes a random model or WeChat version per account is not
seen by it (a limit), and an agent left out gives "missing". Honest people share the key
too: a household's tablet, a couple with one phone model on one carrier, a counter tablet;
the rules that read it keep the household and store exclusions (rules/risk/shared_backend.yaml).
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

from engine.identity.device_models import device_model

_WECHAT = re.compile(r"MicroMessenger/([0-9][0-9.]{0,15}[0-9])")
#: ``(iPhone; CPU iPhone OS 17_4 like Mac OS X)``, ``(iPad; CPU OS 16_6 like Mac OS X)``
_IOS = re.compile(r"\((iPhone|iPad|iPod)[^)]{0,40}? OS ([0-9]{1,2}(?:_[0-9]{1,2}){0,2}) like Mac OS X")
#: The IPv6 prefix a line or a 4G pool draws its /64s from (module docstring).
IPV6_PREFIX = 48


@lru_cache(maxsize=4096)
def handset(user_agent: str | None) -> str | None:
    """``<model build> wechat <version>`` (``noh-an00 huawei12 wechat 8.0.49``), lower case; None if unnamed."""
    if not user_agent:
        return None
    phone = device_model(user_agent)
    if phone is None:
        ios = _IOS.search(user_agent)
        if ios is None:
            return None
        phone = f"{ios.group(1)} os {ios.group(2)}".lower()
    wechat = _WECHAT.search(user_agent)
    return phone if wechat is None else f"{phone} wechat {wechat.group(1)}"


def network(ip: str) -> str:
    """The /24 of a canonical IPv4 address, the /48 of an IPv6 one (``60.177.224.0/24``)."""
    if ":" not in ip:
        return ip.rsplit(".", 1)[0] + ".0/24"
    return str(ipaddress.ip_network(f"{ip}/{IPV6_PREFIX}", strict=False))


def subnet_handset(ip: str | None, user_agent: str | None) -> str | None:
    """``<network> <handset>`` of an event; None without an ip or a handset."""
    if ip is None:
        return None
    phone = handset(user_agent)
    return None if phone is None else f"{network(ip)} {phone}"
