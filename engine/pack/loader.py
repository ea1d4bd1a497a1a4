"""Read a pack's files and validate every section item, collecting all problems.

The result (``ValidatedPack``) keeps each item beside the file and path it came
from, so the compiler's semantic checks can point at the exact line too.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any, Generic, TypeVar, cast, get_args

from pydantic import BaseModel, ValidationError

from engine.diagnostics import Code, Diagnostic, Location, did_you_mean
from engine.pack.automation_schema import HealthRuleItem, JourneyItem, WebhookItem
from engine.pack.scenario_schema import ScenarioItem
from engine.pack.schema import (
    SECTIONS,
    ClawbackItem,
    ContactsItem,
    CouponBindingItem,
    DecisionItem,
    FeatureItem,
    OfferGroupItem,
    OfferItem,
    PackMeta,
    ReviewItem,
    RuleItem,
    RuleOverrideItem,
    SeedListItem,
    TestItem,
    TierItem,
)
from engine.pack.yaml_source import Path, SourceFile, load_yaml

T = TypeVar("T", covariant=True)
MAX_FILE_BYTES = 2_000_000
MAX_LIST_VALUES = 100_000
#: Most values a whole pack may expand to (each file is also capped: yaml_source.MAX_NODES).
MAX_PACK_NODES = 400_000


@dataclass(frozen=True, slots=True)
class Located(Generic[T]):
    item: T
    source: SourceFile
    path: Path

    def location(self, *sub: str | int, key: bool = False) -> Location:
        return self.source.location((*self.path, *sub), key=key)


@dataclass
class ValidatedPack:
    files: list[SourceFile] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    version: str = ""
    meta: Located[PackMeta] | None = None
    decision: Located[DecisionItem] | None = None
    contacts: Located[ContactsItem] | None = None
    attributes: dict[str, Located[str]] = field(default_factory=dict)
    lists: dict[str, Located[list[str | int | float]]] = field(default_factory=dict)
    features: dict[str, Located[FeatureItem]] = field(default_factory=dict)
    seed_lists: list[Located[SeedListItem]] = field(default_factory=list)
    coupon_bindings: list[Located[CouponBindingItem]] = field(default_factory=list)
    tiers: list[Located[TierItem]] = field(default_factory=list)
    rules: list[Located[RuleItem]] = field(default_factory=list)
    rule_overrides: list[Located[RuleOverrideItem]] = field(default_factory=list)  # resolved by pack/layering.py
    offers: list[Located[OfferItem]] = field(default_factory=list)
    offer_groups: dict[str, Located[OfferGroupItem]] = field(default_factory=dict)
    tests: list[Located[TestItem]] = field(default_factory=list)
    journeys: list[Located[JourneyItem]] = field(default_factory=list)
    community: list[Located[HealthRuleItem]] = field(default_factory=list)
    webhooks: dict[str, Located[WebhookItem]] = field(default_factory=dict)
    review: Located[ReviewItem] | None = None
    clawback: Located[ClawbackItem] | None = None
    scenarios: list[Located[ScenarioItem]] = field(default_factory=list)


#: Beside a base pack, ``<root>/tenants/<tenant>/`` holds each tenant's own pack (engine/pack/layering.py).
TENANTS_DIR = "tenants"


def read_pack_files(root: str | FsPath) -> dict[str, str]:
    """Every ``*.yaml``/``*.yml`` under ``root`` (or ``root`` itself), by display path.

    ``root/tenants/`` is not part of the pack: it holds the tenants' packs layered on it.
    """
    base = FsPath(root)
    tenants = base / TENANTS_DIR
    paths = (
        [base]
        if base.is_file()
        else sorted(
            p
            for p in base.rglob("*")
            if p.suffix in (".yaml", ".yml") and p.is_file() and not p.is_relative_to(tenants)
        )
    )
    return {str(p): p.read_text(encoding="utf-8") for p in paths}


def load_sources(files: Mapping[str, str]) -> ValidatedPack:
    pack = ValidatedPack(version=content_version(files))
    if not files:
        pack.diagnostics.append(Diagnostic(Location("<pack>"), Code.EMPTY_PACK, "no rule files (*.yaml) found"))
    expanded = 0
    for name in sorted(files):
        text = files[name]
        if expanded > MAX_PACK_NODES:
            message = f"the pack expands to more than {MAX_PACK_NODES} values before this file; it is not read"
            pack.diagnostics.append(Diagnostic(Location(name, 1, 1), Code.LIMIT_EXCEEDED, message))
            continue
        if len(text.encode("utf-8")) > MAX_FILE_BYTES:
            pack.diagnostics.append(
                Diagnostic(Location(name, 1, 1), Code.LIMIT_EXCEEDED, f"file is larger than {MAX_FILE_BYTES} bytes")
            )
            continue
        source, problems = load_yaml(name, text)
        pack.diagnostics.extend(problems)
        if source is not None:
            expanded += len(source.values)
            pack.files.append(source)
            _collect_file(pack, source)
    return pack


def content_version(files: Mapping[str, str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(FsPath(name).name.encode() + b"\0" + files[name].encode("utf-8") + b"\0")
    return digest.hexdigest()[:12]


def _collect_file(pack: ValidatedPack, source: SourceFile) -> None:
    data = source.data
    if data is None:
        return
    if not isinstance(data, dict):
        pack.diagnostics.append(
            Diagnostic(
                source.location(()), Code.INVALID_VALUE, "a rule file is a mapping of sections (rules:, features:, ...)"
            )
        )
        return
    for section, body in data.items():
        if section not in SECTIONS:
            hint = did_you_mean(section, SECTIONS)
            pack.diagnostics.append(
                Diagnostic(
                    source.location((section,), key=True), Code.UNKNOWN_SECTION, f"unknown section '{section}'{hint}"
                )
            )
            continue
        _COLLECTORS[SECTIONS[section][1]](pack, source, section, body)


def _collect_single(pack: ValidatedPack, source: SourceFile, section: str, body: Any) -> None:
    model = SECTIONS[section][0]
    assert model is not None
    existing = getattr(pack, _FIELD[section])
    if existing is not None:
        first = existing.location()
        pack.diagnostics.append(
            Diagnostic(
                source.location((section,), key=True),
                Code.DUPLICATE_ID,
                f"section '{section}' is already defined in {first.render()}",
            )
        )
        return
    item = _validate(pack, source, (section,), model, body)
    if item is not None:
        setattr(pack, _FIELD[section], Located(item, source, (section,)))


def _collect_list(pack: ValidatedPack, source: SourceFile, section: str, body: Any) -> None:
    model = SECTIONS[section][0]
    assert model is not None
    if not isinstance(body, list):
        pack.diagnostics.append(
            Diagnostic(
                source.location((section,)), Code.INVALID_VALUE, f"'{section}' must be a list of items (- id: ...)"
            )
        )
        return
    target: list[Located[Any]] = getattr(pack, section)
    for index, raw in enumerate(body):
        if section == "rules" and isinstance(raw, dict) and raw.get("override") is True:
            override = _validate(pack, source, (section, index), RuleOverrideItem, raw)
            if override is not None:
                pack.rule_overrides.append(Located(override, source, (section, index)))
            continue
        item = _validate(pack, source, (section, index), model, raw)
        if item is not None:
            target.append(Located(item, source, (section, index)))


def _collect_map(pack: ValidatedPack, source: SourceFile, section: str, body: Any) -> None:
    if not isinstance(body, dict):
        pack.diagnostics.append(
            Diagnostic(source.location((section,)), Code.INVALID_VALUE, f"'{section}' must be a mapping of name: value")
        )
        return
    target: dict[str, Located[Any]] = getattr(pack, section)
    for name, raw in body.items():
        path: Path = (section, name)
        if name in target:
            first = target[name].location(key=True)
            pack.diagnostics.append(
                Diagnostic(
                    source.location(path, key=True),
                    Code.DUPLICATE_ID,
                    f"{section[:-1]} '{name}' is already declared at {first.render()}",
                )
            )
            continue
        item = _MAP_VALIDATORS[section](pack, source, path, raw)
        if item is not None:
            target[name] = Located(item, source, path)


def _validate_feature(pack: ValidatedPack, source: SourceFile, path: Path, raw: Any) -> FeatureItem | None:
    name = str(path[-1])
    if not _is_feature_name(name):
        pack.diagnostics.append(
            Diagnostic(
                source.location(path, key=True),
                Code.INVALID_VALUE,
                f"feature name '{name}' must look like '<entity>.<name>' in lower case, e.g. 'device.accounts_24h'",
            )
        )
        return None
    return cast(FeatureItem | None, _validate(pack, source, path, FeatureItem, raw))


def _validate_list(pack: ValidatedPack, source: SourceFile, path: Path, raw: Any) -> list[str | int | float] | None:
    if not isinstance(raw, list) or not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in raw):
        pack.diagnostics.append(
            Diagnostic(
                source.location(path), Code.INVALID_VALUE, f"list '{path[-1]}' must be a list of strings or numbers"
            )
        )
        return None
    if len(raw) > MAX_LIST_VALUES:
        pack.diagnostics.append(
            Diagnostic(
                source.location(path), Code.LIMIT_EXCEEDED, f"list '{path[-1]}' has more than {MAX_LIST_VALUES} values"
            )
        )
        return None
    return list(raw)


def _validate_attribute(pack: ValidatedPack, source: SourceFile, path: Path, raw: Any) -> str | None:
    if raw not in ("number", "string", "bool"):
        pack.diagnostics.append(
            Diagnostic(
                source.location(path),
                Code.INVALID_VALUE,
                f"attribute '{path[-1]}' has type {raw!r}; use number, string or bool",
            )
        )
        return None
    return str(raw)


def _is_feature_name(name: str) -> bool:
    import re

    return re.fullmatch(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*", name) is not None and len(name) <= 96


def _validate(pack: ValidatedPack, source: SourceFile, path: Path, model: type[BaseModel], raw: Any) -> Any:
    if not isinstance(raw, dict):
        pack.diagnostics.append(
            Diagnostic(
                source.location(path), Code.INVALID_VALUE, f"expected a mapping (key: value) for {_describe(path)}"
            )
        )
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        label = _describe(path, raw.get("id") or raw.get("name"))
        for error in err.errors(include_url=False):
            pack.diagnostics.append(_from_pydantic(source, path, error, label, model))
        return None


def _from_pydantic(
    source: SourceFile, path: Path, error: Any, what: str, model: type[BaseModel] | None = None
) -> Diagnostic:
    loc: Path = tuple(error["loc"])
    full = (*path, *loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        field_name = str(loc[-1])
        hint = did_you_mean(field_name, _fields_at(model, loc[:-1]))
        return Diagnostic(
            source.location(full, key=True), Code.UNKNOWN_FIELD, f"unknown field '{field_name}' in {what}{hint}"
        )
    if kind == "missing":
        return Diagnostic(
            source.location(full[:-1]),
            Code.MISSING_FIELD,
            f"{what} is missing required field '{'.'.join(map(str, loc))}'",
        )
    field_text = ".".join(str(p) for p in loc) or "value"
    message = error["msg"].removeprefix("Value error, ")
    if kind in ("enum", "literal_error") and isinstance(error.get("input"), str):
        message += did_you_mean(error["input"], re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected"))))
    return Diagnostic(source.location(full), Code.INVALID_VALUE, f"{what}: '{field_text}': {message}")


def _describe(path: Path, label: object = None) -> str:
    section = str(path[0])
    singular = section[:-1] if section.endswith("s") else section
    if isinstance(label, str) and len(path) > 1:
        return f"{singular} '{label}'"
    if len(path) > 1 and isinstance(path[1], int):
        return f"{section[:-1] if section.endswith('s') else section} #{path[1] + 1}"
    if len(path) > 1:
        return f"{section[:-1]} '{path[1]}'"
    return f"section '{section}'"


def _known_fields() -> frozenset[str]:
    from engine.pack import schema

    names: set[str] = set()
    for value in vars(schema).values():
        if isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel:
            names.update(value.model_fields)
    return frozenset(names)


KNOWN_FIELDS = _known_fields()


def _fields_at(model: type[BaseModel] | None, loc: Path) -> frozenset[str]:
    """The field names (and aliases) of the model at ``loc`` under ``model``; every known field if not found.

    A name that is a field of another section (a case's ``expect`` has ``shadow``, a scenario
    step's had not) is then never suggested as its own correction.
    """
    current = model
    for part in loc:
        if isinstance(part, int):
            continue
        if current is None or part not in current.model_fields:
            return KNOWN_FIELDS
        current = _inner_model(current.model_fields[part].annotation)
    if current is None:
        return KNOWN_FIELDS
    fields = current.model_fields
    return frozenset(fields) | {f.alias for f in fields.values() if f.alias}


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


_FIELD = {"pack": "meta", "decision": "decision", "contacts": "contacts", "review": "review", "clawback": "clawback"}
_COLLECTORS = {"single": _collect_single, "list": _collect_list, "map": _collect_map}


def _validate_offer_group(pack: ValidatedPack, source: SourceFile, path: Path, raw: Any) -> OfferGroupItem | None:
    item: OfferGroupItem | None = _validate(pack, source, path, OfferGroupItem, raw)
    return item


_MAP_VALIDATORS: dict[str, Callable[[ValidatedPack, SourceFile, Path, Any], Any]] = {
    "features": _validate_feature,
    "lists": _validate_list,
    "attributes": _validate_attribute,
    "offer_groups": _validate_offer_group,
    "webhooks": lambda pack, source, path, raw: _validate(pack, source, path, WebhookItem, raw),
}
