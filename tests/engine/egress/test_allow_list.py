"""The operator's allow-list read as an attacker's URLs meet it, before any DNS (what `yutang check` reports)."""

from __future__ import annotations

import pytest

from engine.egress.policy import PolicyError, WebhookPolicy

DEFAULT = WebhookPolicy()  # any public host, nothing inside


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://169.254.169.254/latest/meta-data/iam/security-credentials/", "cloud metadata"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "cloud metadata"),
        ("http://100.100.100.200/latest/meta-data/", "cloud metadata"),
        ("http://127.0.0.1:6379/", "loopback"),
        ("http://127.1:6379/", "loopback"),
        ("http://2130706433/", "loopback"),
        ("http://0x7f.0.0.1/", "loopback"),
        ("http://[::1]:8000/v1/rules/reload", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[64:ff9b::a9fe:a9fe]/", "cloud metadata"),
        ("http://localhost:8000/", "loopback"),
        ("http://api.localhost/", "loopback"),
        ("http://LOCALHOST./", "loopback"),
        ("http://10.0.0.7/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://100.64.0.1/", "CGNAT"),
        ("http://224.0.0.251/", "multicast"),
        ("http://0.0.0.0:8000/", "unspecified"),
        ("http://[::]:8000/", "unspecified"),
        ("http://[fe80::1]/", "link-local"),
        ("https://user:pw@127.0.0.1/", "loopback"),
    ],
)
def test_addresses_inside_the_deployment_are_refused_by_default(url: str, kind: str) -> None:
    refusal = DEFAULT.url_refusal(url)
    assert refusal is not None and kind in refusal and "YUTANG_WEBHOOK_HOSTS" in refusal


def test_public_hosts_pass_the_default_and_a_narrowed_list_names_them() -> None:
    assert DEFAULT.url_refusal("https://crm.tongqu-studio.example/yutang/hooks") is None
    assert DEFAULT.url_refusal("https://93.184.216.34/hooks") is None
    narrowed = WebhookPolicy.parse(hosts="crm.tongqu-studio.example, *.partner.example")
    assert narrowed.url_refusal("https://crm.tongqu-studio.example/hooks") is None
    assert narrowed.url_refusal("https://a.b.partner.example/hooks") is None
    assert "not in the allow-list" in (narrowed.url_refusal("https://evil.example/") or "")
    assert "not in the allow-list" in (narrowed.url_refusal("https://93.184.216.34/") or "")
    assert "not in the allow-list" in (narrowed.url_refusal("https://partner.example.evil.example/") or "")


def test_only_an_address_entry_opens_an_internal_address_a_name_never_does() -> None:
    allowed = WebhookPolicy.parse(hosts="127.0.0.1 [::1] 10.20.0.0/16")
    assert allowed.url_refusal("http://127.0.0.1:8080/hooks") is None
    assert allowed.url_refusal("http://[::1]:8080/hooks") is None
    assert allowed.url_refusal("http://10.20.3.4/hooks") is None
    assert allowed.url_refusal("http://10.21.0.1/hooks") is not None
    assert allowed.url_refusal("http://169.254.169.254/") is not None
    by_name = WebhookPolicy.parse(hosts="localhost")
    assert "loopback" in (by_name.url_refusal("http://localhost:8080/") or "")


def test_each_tenant_has_its_own_list_and_an_upload_is_checked_against_the_uploaders() -> None:
    policy = WebhookPolicy.parse(hosts="*", tenant_hosts="studio=127.0.0.1; locked=")
    url = "http://127.0.0.1:8080/hooks"
    assert policy.only("studio").url_refusal(url) is None
    assert policy.only("other").url_refusal(url) is not None  # the default
    assert "YUTANG_WEBHOOK_TENANT_HOSTS for locked" in (policy.only("locked").url_refusal("https://a.example/") or "")
    assert policy.url_refusal(url) is None, "a rule set loads when some tenant may use it; delivery decides per tenant"


def test_a_pack_may_sign_only_with_variables_under_the_prefix() -> None:
    for stolen in ("YUTANG_API_KEYS", "PATH", "REDIS_URL", "YUTANG_SECRET", "YUTANG_WEBHOOK_SECRET_"):
        assert "must start with YUTANG_WEBHOOK_SECRET_" in (DEFAULT.secret_refusal(stolen) or ""), stolen
    assert DEFAULT.secret_refusal("YUTANG_WEBHOOK_SECRET_STUDIO_CRM") is None
    assert WebhookPolicy.parse(secret_prefix="CRM_HOOK_").secret_refusal("CRM_HOOK_KEY") is None


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"hosts": "http://crm.example/"}, "YUTANG_WEBHOOK_HOSTS"),
        ({"tenant_hosts": "127.0.0.1"}, "YUTANG_WEBHOOK_TENANT_HOSTS"),
        ({"secret_prefix": "lower_"}, "YUTANG_WEBHOOK_SECRET_PREFIX"),
        ({"secret_prefix": ""}, "YUTANG_WEBHOOK_SECRET_PREFIX"),
    ],
)
def test_a_setting_that_does_not_parse_names_its_variable(kwargs: dict[str, str], names: str) -> None:
    with pytest.raises(PolicyError, match=names):
        WebhookPolicy.parse(**kwargs)
