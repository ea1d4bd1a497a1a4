"""``yutang test --junit FILE``: the pack's cases and scenario steps as JUnit XML for CI.

One ``testcase`` per case and per scenario step, named so a CI page reads like the
terminal: the file and place in ``classname``, the failure lines in ``failure``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from xml.etree import ElementTree as ET

from api.scenarios.runner import ScenarioResult
from engine.case_runner import CaseResult


def write_junit(path: Path, cases: Sequence[CaseResult], scenarios: Sequence[ScenarioResult], seconds: float) -> None:
    suites = ET.Element("testsuites", name="yutang test", time=f"{seconds:.3f}")
    case_suite = _suite(suites, "cases")
    for case in cases:
        _testcase(case_suite, case.case.location.render(), case.case.name, case.failures)
    scenario_suite = _suite(suites, "scenarios")
    for scenario in scenarios:
        for step in scenario.steps:
            name = f"{scenario.scenario.name} / step {step.index + 1} {step.kind}"
            _testcase(scenario_suite, step.location.render(), name, step.failures)
    for suite in (case_suite, scenario_suite):
        cases_in = suite.findall("testcase")
        suite.set("tests", str(len(cases_in)))
        suite.set("failures", str(sum(1 for c in cases_in if c.find("failure") is not None)))
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def _suite(parent: ET.Element, name: str) -> ET.Element:
    return ET.SubElement(parent, "testsuite", name=name, errors="0")


def _testcase(suite: ET.Element, where: str, name: str, failures: Sequence[str]) -> None:
    case = ET.SubElement(suite, "testcase", classname=where, name=name)
    if failures:
        failure = ET.SubElement(case, "failure", message=failures[0][:200])
        failure.text = "\n".join(failures)
