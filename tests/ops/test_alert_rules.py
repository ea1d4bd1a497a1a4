"""The alert rules load in Prometheus, behave as their unit tests say, and link a runbook that exists."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from tests.ops.conftest import OPS

RULES = OPS / "prometheus" / "alerts.yml"
RULE_TESTS = OPS / "prometheus" / "alerts_test.yml"
README = OPS / "README.md"


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus; .ci/run does it)")
    return found


def alerts() -> list[dict[str, object]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_promtool_accepts_the_rules(promtool: str) -> None:
    run = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    total = sum(len(group["rules"]) for group in yaml.safe_load(RULES.read_text())["groups"])
    assert f"SUCCESS: {total} rules found" in run.stdout


def test_every_alert_fires_and_stays_quiet_as_its_unit_tests_say(promtool: str) -> None:
    run = subprocess.run(
        [promtool, "test", "rules", str(RULE_TESTS)], capture_output=True, text=True, timeout=120, cwd=RULE_TESTS.parent
    )
    assert run.returncode == 0, run.stdout + run.stderr
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    assert {rule["alert"] for rule in alerts()} <= tested, "an alert without a unit test"


def test_every_alert_has_a_severity_a_summary_and_a_runbook_section_in_the_readme() -> None:
    headings = re.findall(r"^#+ (.+)$", README.read_text(), flags=re.M)
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}
    for rule in alerts():
        labels, annotations = rule["labels"], rule["annotations"]
        assert labels["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert annotations["summary"] and annotations["description"], rule["alert"]
        path, _, anchor = annotations["runbook_url"].partition("#")
        # absolute through one setting: Prometheus' external label yutang_runbooks, the repository's URL
        assert path == "{{ $externalLabels.yutang_runbooks }}/ops/README.md", rule["alert"]
        assert anchor in anchors, f"{rule['alert']}: no section '{anchor}' in ops/README.md"
