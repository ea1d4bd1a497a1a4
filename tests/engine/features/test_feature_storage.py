"""What is left in Redis: every key expires, and no personal value can be read back."""

from __future__ import annotations

from datetime import timedelta

from feature_backends import SECRET, Backend
from feature_stream import SPECS, START, event_stream

from engine.events import OUTCOME_TYPES, Event, email_domain, ip_subnet
from engine.features.builder import StoreSettings
from engine.features.spec import Entity, ListKind, ReferralFeature, ReferralMetric
from engine.features.store import FeatureStore


async def _dump(backend: Backend) -> tuple[dict[bytes, int], bytes]:
    """Each key's TTL (ms), and every key name and stored value concatenated."""
    ttls: dict[bytes, int] = {}
    blob: list[bytes] = []
    for node, key in await backend.raw_keys():
        ttls[key] = await node.pttl(key)
        blob.append(key)
        kind = (await node.type(key)).decode()
        if kind == "string":
            blob.append(await node.get(key) or b"")
        elif kind == "hash":
            blob.extend(b"%s=%s" % kv for kv in (await node.hgetall(key)).items())
        elif kind == "zset":
            blob.extend(member for member, _ in await node.zrange(key, 0, -1, withscores=True))
        else:
            raise AssertionError(f"unexpected {kind} key {key!r}")
    return ttls, b"\n".join(blob)


async def _fill(backend: Backend, tenant: str) -> list[str]:
    store = backend.store()
    await store.add_entry(tenant=tenant, entity=Entity.PHONE, value="138 1234 5678", kind=ListKind.BLOCK,
                          reason="virtual number farm", author="ops")  # fmt: skip
    await store.add_entry(tenant=tenant, entity=Entity.IP, value="10.9.9.9", kind=ListKind.WATCH,
                          reason="proxy", author="ops")  # fmt: skip
    personal = {"13812345678", "10.9.9.9"}
    for event in event_stream(7, 120):
        if event.type in OUTCOME_TYPES:
            await store.record_outcome(tenant=tenant, event=event, specs=SPECS)
        else:
            await store.record_and_read(tenant=tenant, event=event, specs=SPECS)
        for value in (event.phone, event.ip, event.email, ip_subnet(event.ip), email_domain(event.email),
                      event.address):  # fmt: skip
            if value:
                personal.add(value)
    return sorted(personal)


async def test_every_key_has_a_ttl(backend: Backend, tenant: str) -> None:
    await _fill(backend, tenant)
    ttls, _ = await _dump(backend)
    assert len(ttls) > 50
    assert {k: v for k, v in ttls.items() if v <= 0} == {}


async def test_no_personal_value_is_readable_in_redis(backend: Backend, tenant: str) -> None:
    personal = await _fill(backend, tenant)
    _, blob = await _dump(backend)
    text = blob.lower()
    leaked = [value for value in personal if value.lower().encode() in text]
    assert leaked == []
    assert b"138****5678" in blob  # the list shows a masked hint instead


async def test_own_links_keep_the_newest_up_to_the_cap(backend: Backend, tenant: str) -> None:
    """A customer's device and ip are added together; the set keeps the newest ``links_cap``."""
    store = FeatureStore(backend.client, secret=SECRET, settings=StoreSettings(links_cap=2))
    on_own = (ReferralFeature("referrer.on_own_device", ReferralMetric.INVITEES_ON_REFERRER_DEVICE, 86400),)
    for n, device in enumerate(["old-pad", "new-pad"]):
        own = Event(event_id=f"own{n}", type="signup", customer="ref1", device=device, ip=f"10.0.0.{n + 1}",
                    timestamp=START + timedelta(minutes=n))  # fmt: skip
        await store.record_and_read(tenant=tenant, event=own, specs=on_own)
    counts = []
    for n, device in enumerate(["old-pad", "new-pad"]):
        referral = Event(event_id=f"inv{n}", type="referral", customer=f"inv{n}", referrer="ref1", device=device,
                         timestamp=START + timedelta(minutes=5 + n))  # fmt: skip
        counts.append((await store.record_and_read(tenant=tenant, event=referral, specs=on_own)).values)
    assert counts == [{"referrer.on_own_device": 0}, {"referrer.on_own_device": 1}]


async def test_known_identities_live_the_history_past_the_last_visit_renewed_at_most_daily(
    backend: Backend, tenant: str
) -> None:
    """A returning customer's ``links`` set keeps >= 399 of its 400 days; an unchanged visit writes no PEXPIRE."""
    store = backend.store()
    history_ms = store.settings.history_ttl_s * 1000
    hour = 3_600_000

    async def visit(n: int, device: str) -> tuple[object, bytes, int]:
        event = Event(event_id=f"v{n}", type="signup", customer="mum1", device=device, ip="10.0.0.1",
                      timestamp=START + timedelta(minutes=n))  # fmt: skip
        await store.record_and_read(tenant=tenant, event=event, specs=SPECS)
        [(node, key)] = [(node, key) for node, key in await backend.raw_keys() if key.endswith(b"}:links")]
        return node, key, await node.pttl(key)

    node, key, ttl = await visit(0, "pad")
    assert ttl > history_ms - hour
    await node.pexpire(key, history_ms - 2 * hour)  # two hours later
    _, _, ttl = await visit(1, "pad")
    assert history_ms - 3 * hour < ttl <= history_ms - 2 * hour  # not renewed: within a day of the full TTL
    await node.pexpire(key, history_ms - 30 * hour)  # a day and a bit later
    _, _, ttl = await visit(2, "pad")
    assert ttl > history_ms - hour  # renewed
    await node.pexpire(key, history_ms - 2 * hour)
    _, _, ttl = await visit(3, "new-phone")  # a new identity: renewed at once
    assert ttl > history_ms - hour
