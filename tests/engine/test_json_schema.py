"""The rule-file JSON Schema accepts what the loader accepts and flags what it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from engine.cli import main
from engine.pack.json_schema import rule_file_schema
from engine.pack.yaml_source import load_yaml

PACK = Path(__file__).parent / "packs" / "studio" / "pack.yaml"
SHIPPED = sorted((Path(__file__).parents[2] / "rules").rglob("*.yaml"))


def validator() -> jsonschema.Draft202012Validator:
    schema = rule_file_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def load(path: Path) -> object:
    """The file as an editor's YAML 1.2 sees it: `on:` is a key, dates are strings."""
    source, problems = load_yaml(str(path), path.read_text(encoding="utf-8"))
    assert source is not None and not problems
    return json.loads(json.dumps(source.data, default=str))


def messages(data: object) -> list[str]:
    """Every leaf message, including those inside anyOf branches."""
    found: list[str] = []
    stack = list(validator().iter_errors(data))
    while stack:
        error = stack.pop()
        found.append(error.message)
        stack.extend(error.context or [])
    return found


def test_schema_is_printed_by_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["title"] == "yutang rule file"
    assert {"rules", "features", "tiers", "offers", "tests"} <= set(printed["properties"])


def test_valid_pack_file_passes() -> None:
    assert messages(load(PACK)) == []


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_pack_files_pass(path: Path) -> None:
    assert messages(load(path)) == []


def test_unknown_field_and_bad_enum_are_underlined() -> None:
    data = {
        "rules": [
            {
                "id": "farm",
                "code": 1,
                "on": ["signup"],
                "wen": "x",
                "when": "x",
                "score": 1,
                "mode": "sometimes",
                "reason": {"zh": "a", "en": "b"},
            }
        ]
    }
    found = messages(data)
    assert any("'wen' was unexpected" in m for m in found)
    assert any("'sometimes' is not one of" in m for m in found)
