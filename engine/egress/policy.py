"""The operator's webhook policy: which hosts each tenant's webhooks may reach, which secrets they may read.

Trusted: the operator's settings (``YUTANG_WEBHOOK_HOSTS``, ``YUTANG_WEBHOOK_TENANT_HOSTS``,
``YUTANG_WEBHOOK_SECRET_PREFIX``). Untrusted: every URL and ``secret_env`` a rule pack names.

An allow-list entry is one of:

- ``*``: any host name, and any *public* address;
- a name, ``crm.example.com``, or every name below one, ``*.example.com``;
- an address or network, ``127.0.0.1``, ``[::1]``, ``10.20.0.0/16``: the only way to open
  a special address (loopback, private, link-local, CGNAT, metadata...; ``addresses``).

A name never opens a special address: ``localhost`` or a partner's name whose DNS now
answers 169.254.169.254 is refused unless that address is itself an entry. The check is
made twice: on the URL's literal host when a pack is compiled (a diagnostic), and on
every resolved address when a delivery connects (``engine.egress.transport``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from engine.egress.addresses import IPAddress, literal_address, special_kind

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_SECRET_PREFIX = "YUTANG_WEBHOOK_SECRET_"
LOCALHOST_NAMES = ("localhost", ".localhost")  # RFC 6761: always loopback, whatever DNS says


class PolicyError(ValueError):
    """An allow-list setting cannot be parsed; the service refuses to start."""


@dataclass(frozen=True, slots=True)
class AllowList:
    """One tenant's (or the default) hosts and networks."""

    any_public: bool = False
    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()  # ".example.com" for an entry "*.example.com"
    networks: tuple[IPNetwork, ...] = ()
    source: str = "YUTANG_WEBHOOK_HOSTS"

    @classmethod
    def parse(cls, spec: str, *, source: str = "YUTANG_WEBHOOK_HOSTS") -> AllowList:
        """Parse entries separated by commas or spaces; see the module docstring."""
        any_public, names, suffixes, networks = False, set(), [], []
        for entry in spec.replace(",", " ").split():
            if entry == "*":
                any_public = True
            elif (network := _network(entry)) is not None:
                networks.append(network)
            elif entry.startswith("*.") and _is_name(entry[2:]):
                suffixes.append("." + _ascii(entry[2:]))
            elif _is_name(entry):
                names.add(_ascii(entry))
            else:
                raise PolicyError(f"{source}: {entry!r} is not '*', a host name, '*.domain', an address or a network")
        return cls(any_public, frozenset(names), tuple(suffixes), tuple(networks), source)

    def name_refusal(self, host: str) -> str | None:
        """Why a URL may not name ``host`` (None: it may; its addresses are checked on their own)."""
        address = literal_address(host)
        if address is not None:
            return self.address_refusal(address)
        name = _ascii(host)
        if self.any_public or name in self.names or name.endswith(self.suffixes):
            return None
        return f"host {name} is not in the allow-list ({self.source})"

    def address_refusal(self, address: IPAddress) -> str | None:
        """Why a connection may not go to ``address`` (None: it may)."""
        if any(address.version == n.version and address in n for n in self.networks):
            return None
        kind = special_kind(address)
        if kind is not None:
            return f"{address} is a {kind} address, not in the allow-list ({self.source})"
        if self.any_public:
            return None
        return f"address {address} is not in the allow-list ({self.source})"

    def literal_refusal(self, host: str) -> str | None:
        """What can be refused before any DNS: the literal host, and names that are always loopback."""
        refusal = self.name_refusal(host)
        if refusal is not None:
            return refusal
        name = _ascii(host)
        if name == LOCALHOST_NAMES[0] or name.endswith(LOCALHOST_NAMES[1]):
            refusal = self.address_refusal(ipaddress.ip_address("127.0.0.1"))
            return f"{name} always resolves to loopback: {refusal}" if refusal else None
        return None


@dataclass(frozen=True, slots=True)
class WebhookPolicy:
    """The default allow-list, per-tenant ones (each replaces the default) and the secret prefix."""

    default: AllowList = field(default_factory=lambda: AllowList(any_public=True))
    tenants: Mapping[str, AllowList] = field(default_factory=dict)
    secret_prefix: str = DEFAULT_SECRET_PREFIX

    @classmethod
    def parse(
        cls, *, hosts: str = "*", tenant_hosts: str = "", secret_prefix: str = DEFAULT_SECRET_PREFIX
    ) -> WebhookPolicy:
        """``tenant_hosts`` is ``tenant=entry entry;tenant2=entry``."""
        source = "YUTANG_WEBHOOK_TENANT_HOSTS"
        tenants: dict[str, AllowList] = {}
        for part in (p.strip() for p in tenant_hosts.split(";")):
            if not part:
                continue
            tenant, sep, spec = part.partition("=")
            if not sep or not tenant.strip():
                raise PolicyError(f"{source}: {part!r} must be tenant=host,host")
            tenants[tenant.strip()] = AllowList.parse(spec, source=f"{source} for {tenant.strip()}")
        if not secret_prefix or not secret_prefix.replace("_", "A").isalnum() or not secret_prefix.isupper():
            raise PolicyError(f"YUTANG_WEBHOOK_SECRET_PREFIX: {secret_prefix!r} must be upper-case letters, digits, _")
        return cls(AllowList.parse(hosts), tenants, secret_prefix)

    def for_tenant(self, tenant: str) -> AllowList:
        return self.tenants.get(tenant, self.default)

    def only(self, tenant: str) -> WebhookPolicy:
        """This policy as one tenant sees it: its allow-list is the only one (validating that tenant's upload)."""
        return WebhookPolicy(self.for_tenant(tenant), {}, self.secret_prefix)

    def url_refusal(self, url: str, *, tenant: str | None = None) -> str | None:
        """Why ``url`` is refused before any DNS; ``tenant=None``: refused by every allow-list of the deployment."""
        host = _host(url)
        if host is None:
            return f"{url!r} has no host"
        lists = [self.for_tenant(tenant)] if tenant is not None else [self.default, *self.tenants.values()]
        refusals = [r for r in (allow.literal_refusal(host) for allow in lists) if r is not None]
        return refusals[0] if len(refusals) == len(lists) else None

    def secret_refusal(self, variable: str) -> str | None:
        """Why a pack may not sign with the variable ``variable`` (it could name YUTANG_API_KEYS)."""
        if variable.startswith(self.secret_prefix) and len(variable) > len(self.secret_prefix):
            return None
        return (
            f"secret_env {variable} must start with {self.secret_prefix} (YUTANG_WEBHOOK_SECRET_PREFIX):"
            " a pack may only read the variables the operator set aside for webhook keys"
        )


def _host(url: str) -> str | None:
    try:
        return httpx.URL(url).host or None  # the parser that delivers, so both read the same host
    except httpx.InvalidURL:
        return None


def _network(entry: str) -> IPNetwork | None:
    try:
        return ipaddress.ip_network(entry.strip("[]"), strict=False)
    except ValueError:
        return None


def _is_name(entry: str) -> bool:
    labels = entry.rstrip(".").split(".")
    return all(0 < len(label) <= 63 and label.replace("-", "").replace("_", "").isalnum() for label in labels)


def _ascii(name: str) -> str:
    name = name.strip("[]").rstrip(".").lower()
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name
