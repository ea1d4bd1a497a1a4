"""Link features in the pack: what a declaration means, and each mistake named at its place."""

from __future__ import annotations

from engine.compile.pack import compile_files
from engine.features.spec import Entity, LinkFeature, LinkMetric

HEAD = """pack: {name: links}
decision: {review_at: 50, deny_at: 80}
tiers:
  - {id: occasional, default: true}
rules:
  - id: farm
    code: 1
    on: [signup]
    when: "{uses}"
    score: 50
    reason: {zh: 关联账号, en: linked accounts}
features:
"""


def check(features: str, uses: str = "customer.linked >= 3") -> tuple[object, list[str]]:
    ruleset, diagnostics = compile_files({"p.yaml": HEAD.replace("{uses}", uses) + features})
    return ruleset, [d.render() for d in diagnostics]


def test_a_link_feature_compiles_with_its_defaults() -> None:
    ruleset, problems = check("  customer.linked: {link: accounts, window: 30d, weak: {ip: 1h}}\n")
    assert problems == []
    spec = ruleset.features["customer.linked"]  # type: ignore[attr-defined]
    assert isinstance(spec, LinkFeature) and spec.metric is LinkMetric.ACCOUNTS
    assert spec.window_seconds == 30 * 86400 and spec.fanout == 8
    assert Entity.DEVICE in spec.via and Entity.IP not in spec.via and spec.weak == ((Entity.IP, 3600),)


def test_every_event_type_records_the_links() -> None:
    ruleset, _ = check("  customer.linked: {link: accounts, window: 30d}\n")
    plan = ruleset.record_plan  # type: ignore[attr-defined]
    assert all(any(s.name == "customer.linked" for s in plan[t]) for t in ("signup", "order_paid", "store_visit"))


def test_mistakes_are_named_at_their_field() -> None:
    _, problems = check(
        "  customer.linked: {link: accounts, window: 30d, via: [ip, devce], weak: {device: 1h, subnet: 90d}}\n"
        "  customer.fresh: {link: new_share, window: 30d}\n"
        "  customer.paid: {link: paid_share, window: 30d, within: 3d}\n"
        "  customer.other: {link: hubs, window: 30d, fanout: 3, by: device}\n",
        uses="customer.linked >= 3 and customer.fresh > 0.5 and customer.paid < 1 and customer.other > 0",
    )
    text = "\n".join(problems)
    assert "p.yaml:13:55 INVALID_VALUE feature 'customer.linked': 'ip' is a weak identity" in text
    assert "UNKNOWN_ENTITY feature 'customer.linked': 'devce' cannot link accounts" in text
    assert "did you mean 'device'?" in text
    assert "INVALID_VALUE feature 'customer.linked': 'device' is not a weak identity" in text
    assert "BAD_WINDOW feature 'customer.linked': weak 'subnet: 90d' must be shorter than 'window: 30d'" in text
    assert "p.yaml:14:19 BAD_WINDOW feature 'customer.fresh': needs a 'within:'" in text
    assert "INVALID_VALUE feature 'customer.paid': 'within' applies to link new_share and returning_share" in text
    assert "UNKNOWN_ENTITY feature 'customer.other': link features are always by the event's customer" in text


def test_link_features_must_share_one_graph() -> None:
    _, problems = check(
        "  customer.linked: {link: accounts, window: 30d, fanout: 8}\n"
        "  customer.hubs: {link: hubs, window: 30d, fanout: 5}\n",
        uses="customer.linked >= 3 and customer.hubs > 0",
    )
    assert len(problems) == 1
    assert problems[0].startswith("p.yaml:14:52 ")
    assert "INVALID_VALUE feature 'customer.hubs': link features share one link graph" in problems[0]
    assert "its fanout differs" in problems[0]
