"""`yutang check` and `yutang test` as a marketer runs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main

PACKS = Path(__file__).parent / "packs"
FIXTURES = Path(__file__).parent / "fixtures" / "diagnostics"


def test_check_passes_a_good_pack(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(PACKS / "studio"), "--backend", "python"]) == 0
    assert "ok, version" in capsys.readouterr().err


def test_check_fails_with_file_line_col_code(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(FIXTURES)
    assert main(["check", "unknown_name.yaml", "--backend", "python"]) == 1
    out = capsys.readouterr()
    assert (
        "unknown_name.yaml:11:11 UNKNOWN_NAME rule 'farm': unknown name 'device.acounts_24h'"
        " (did you mean 'device.accounts_24h'?)" in out.out
    )
    assert "cannot be loaded" in out.err


def test_check_json_output(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    monkeypatch.chdir(FIXTURES)
    main(["check", "bad_thresholds.yaml", "--json", "--backend", "python"])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {
        "file": "bad_thresholds.yaml",
        "line": 8,
        "col": 14,
        "code": "BAD_THRESHOLDS",
        "severity": "error",
    }.items() <= records[-1].items()


def write_pack(tmp_path: Path, expect_decision: str) -> Path:
    (tmp_path / "pack.yaml").write_text(
        (PACKS / "studio" / "pack.yaml").read_text(encoding="utf-8")
        + f"""
tests:
  - name: device farm
    steps:
      - event: {{type: signup, device: d1}}
        features: {{device.accounts_24h: 6}}
        expect: {{decision: {expect_decision}, score: [60, 60], reasons: [device_farm], not_reasons: [virtual_phone]}}
  - name: honest newcomer
    steps:
      - event: {{type: signup, device: d2, phone: "13812345678"}}
        expect: {{decision: allow, tier: occasional, offers: [trial_99]}}
""",
        encoding="utf-8",
    )
    return tmp_path


def test_test_command_prints_a_line_per_case_and_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(write_pack(tmp_path, "review")), "--backend", "python"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("PASS device farm") and out[1].startswith("PASS honest newcomer")
    assert out[-1].startswith("2 passed, 0 failed, 2 cases")


def test_test_command_explains_a_failing_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(write_pack(tmp_path, "deny")), "--backend", "python"]) == 1
    out = capsys.readouterr().out
    assert "FAIL device farm" in out
    assert "decision is review, expected deny (score 60, reasons ['device_farm'])" in out
    assert out.splitlines()[-1].startswith("1 passed, 1 failed")


def test_empty_reasons_means_no_rule_may_fire(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pack = write_pack(tmp_path, "review")
    text = (pack / "pack.yaml").read_text(encoding="utf-8")
    (pack / "pack.yaml").write_text(text.replace("reasons: [device_farm], not_reasons", "reasons: [], not_reasons"))
    assert main(["test", str(pack), "--backend", "python"]) == 1
    assert "no rule may fire, but ['device_farm'] did" in capsys.readouterr().out


def test_check_refuses_webhooks_by_the_deployments_own_settings(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(FIXTURES)
    for variable in ("YUTANG_WEBHOOK_HOSTS", "YUTANG_WEBHOOK_TENANT_HOSTS"):
        monkeypatch.delenv(variable, raising=False)
    assert main(["check", "webhook_host_refused.yaml", "--backend", "python"]) == 1
    out = capsys.readouterr().out
    assert "webhook_host_refused.yaml:9:21 WEBHOOK_HOST_REFUSED webhook 'poke_redis': 127.0.0.1 is a loopback" in out
    # the operator opens loopback for one tenant: the set loads (that tenant may use it); others still may not
    monkeypatch.setenv("YUTANG_WEBHOOK_TENANT_HOSTS", "studio=* 127.0.0.1 ::1 169.254.169.254")
    assert main(["check", "webhook_host_refused.yaml", "--backend", "python"]) == 0
    assert main(["check", "webhook_host_refused.yaml", "--backend", "python", "--tenant", "studio"]) == 0
    assert main(["check", "webhook_host_refused.yaml", "--backend", "python", "--tenant", "other"]) == 1
    monkeypatch.setenv("YUTANG_WEBHOOK_HOSTS", "")  # set and empty: webhooks go nowhere
    capsys.readouterr()
    assert main(["check", "webhook_host_refused.yaml", "--backend", "python", "--tenant", "other"]) == 1
    assert "host crm.studio.example is not in the allow-list" in capsys.readouterr().out


def test_check_counts_what_the_pack_declared(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """'N features' is the pack's own declarations, not those plus the built-in list flags (issue 16)."""
    (tmp_path / "pack.yaml").write_text(
        """
tiers: [{id: regular, label: 常规型, default: true}]
features:
  device.accounts_24h: {distinct: customer, by: device, window: 24h}
  ip.accounts_1h: {distinct: customer, by: ip, window: 1h}
rules:
  - {id: farm, code: 1, on: [signup], when: "device.accounts_24h >= 3 or device.blocked or phone.blocked",
     score: 80, reason: {zh: 农场, en: farm}}
  - {id: burst, code: 2, on: [signup], when: ip.accounts_1h >= 9, score: 30, mode: off, reason: {zh: 突发, en: burst}}
""",
        encoding="utf-8",
    )
    assert main(["check", str(tmp_path)]) == 0
    summary = capsys.readouterr().err
    assert "2 rules (0 shadow, 1 off or expired), 1 tiers, 0 offers, 2 features" in summary, summary


def test_check_and_test_take_a_tenant_pack_on_a_base(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(FIXTURES)
    assert main(["check", "override_missing/tenants/acme", "--base", "override_missing", "--backend", "python"]) == 1
    assert "override_missing/tenants/acme/shop.yaml:3:9 OVERRIDE_MISSING rule 'farms'" in capsys.readouterr().out
    shop = tmp_path / "acme"
    shop.mkdir()
    (shop / "shop.yaml").write_text(
        "rules:\n  - {id: farm, override: true, score: 80}\n"
        "tests:\n  - name: a tuned farm is denied\n    steps:\n"
        "      - event: {type: referral, device: d1, referrer: r1}\n"
        "        features: {device.accounts_24h: 4}\n        expect: {decision: deny, reasons: [farm]}\n",
        encoding="utf-8",
    )
    assert main(["check", str(shop), "--base", "override_missing", "--backend", "python"]) == 0
    assert main(["test", str(shop), "--base", "override_missing", "--backend", "python"]) == 0
    assert "1 passed, 0 failed, 1 cases" in capsys.readouterr().out
    assert main(["test", str(shop), "--backend", "python"]) == 1  # alone, its override has no base
