"""E-mail addresses in one canonical form per provider, before anything hashes or counts them.

A farm that signs up ``li.na+1@gmail.com``, ``lina+2@googlemail.com`` and
``LiNa@gmail.com`` owns one Gmail inbox: all three are ``lina@gmail.com`` here. Only
what a provider itself ignores is folded, or two real customers would become one:

- **Gmail** (``gmail.com``, ``googlemail.com``): case, dots in the local part and
  everything after a ``+`` are ignored, and both domains are one mailbox (Google's help,
  "Dots don't matter in Gmail addresses", support.google.com/mail/answer/7436150, and
  "Create task-specific email addresses" with ``+``, answer/12096; the same rules as
  gmr/email-normalize's Google provider).
- **Microsoft** (``outlook.com``, ``hotmail.com``, ``live.com``, ``msn.com`` and the
  ``.cn`` forms): ``+tags`` are delivered to the base mailbox ("plus addressing",
  Microsoft Learn, Exchange Online, and Outlook.com since 2021); dots are significant
  and kept.
- **QQ Mail** (``qq.com``, ``foxmail.com``, ``vip.qq.com``): case only. A QQ mailbox is
  the QQ number or an English account name of letters, digits, ``_`` and ``.``; its
  aliases (an English name, a foxmail.com name, a phone number) are *separate names*
  chosen by the user, not derivable from one another, and Tencent documents no ``+``
  sub-addressing, so ``a+b@qq.com`` is its own address and dots stay.
- **NetEase** (``163.com``, ``126.com``, ``yeah.net``, ``vip.163.com``): case only.
  Names are 6-18 letters, digits and ``_`` starting with a letter (the registration
  form's rule at reg.163.com), so dots and ``+`` cannot occur in a real mailbox and
  nothing else is ignored.
- **Sina, Sohu, 139 (China Mobile), Aliyun, iCloud** and every other domain: case only
  (lower-cased: no provider of these treats case as significant; RFC 5321 allows it,
  none uses it).

Trusted: nothing about the spelling; full-width characters and invisible ones (a
zero-width space inside the name) are folded first (engine/identity/text.py), so they
cannot split one mailbox into several. Refused (ValueError): anything that is not
``local@domain`` with a dot-separated domain of letters, digits and hyphens.
Internationalized domains are kept as sent (lower-cased), not converted to punycode.
"""

from __future__ import annotations

import re
from functools import lru_cache

from engine.identity.text import fold

_EMAIL = re.compile(r"^([^@\s]{1,128})@([^@\s]{1,253})$")
_DOMAIN = re.compile(r"^(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_][\w-]{0,62}$")

GMAIL = frozenset({"gmail.com", "googlemail.com"})
MICROSOFT = frozenset({"outlook.com", "hotmail.com", "live.com", "msn.com", "outlook.cn", "hotmail.cn", "live.cn"})
#: Domain aliases that deliver to the same mailbox: fold to one spelling.
SAME_MAILBOX: dict[str, str] = {"googlemail.com": "gmail.com"}


def canonical_email(raw: str) -> str:
    """``raw`` as its provider reads it (``Li.Na+x@GoogleMail.com`` -> ``lina@gmail.com``); ValueError if no e-mail."""
    return _canonical(fold(raw).strip())


@lru_cache(maxsize=8192)
def _canonical(raw: str) -> str:
    match = _EMAIL.match(raw)
    if match is None:
        raise ValueError("email must look like name@domain")
    local, domain = match.group(1).lower(), match.group(2).lower().rstrip(".")
    if not _DOMAIN.match(domain):
        raise ValueError("email's domain must be like example.com")
    domain = SAME_MAILBOX.get(domain, domain)
    if domain in GMAIL:
        local = local.split("+", 1)[0].replace(".", "")
    elif domain in MICROSOFT:
        local = local.split("+", 1)[0]
    if not local:
        raise ValueError("email has no mailbox name before the @")
    return f"{local}@{domain}"


def email_domain(email: str | None) -> str | None:
    """The domain of a canonical e-mail (``qq.com``), None when absent."""
    return email.rsplit("@", 1)[1] if email and "@" in email else None
