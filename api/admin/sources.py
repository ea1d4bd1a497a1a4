"""The running pack as files a caller may read and edit one at a time: relative paths, layers, one file replaced.

A tenant's running set holds its text in two layers (api/rulesets.py): the base's
files and the tenant's own, keyed by whatever named them (the server's paths for a
directory, the uploader's names for an upload). This module shows them by their path
*inside* the pack (``risk/referral.yaml``), never the server's, and builds the two
layers a reload would run with one file's text replaced.

What it trusts of a caller's path: nothing but its equality with a listed one. A path
is checked for shape (relative, no ``.``/``..`` segments, no control characters or
backslashes, ``.yaml``/``.yml``) and then looked up among this tenant's running files;
it is never joined to a directory or opened, so another tenant's files, the server's
files and anything outside the pack have no name here (404).

Which files a tenant edits (``Mode``):

- ``own``: its own whole pack (it declares ``pack:``; the base is not read): its files;
- ``layered``: its files on the platform's base: its own files; the base's are listed
  read-only (403 on an edit: the platform's text reaches every tenant on it; a tenant
  changes a base rule with ``override: true`` in a file of its own);
- ``base``: it runs the base alone: the base's files, edited as a copy. Its first save
  makes the base's files, that one replaced, the tenant's own pack (as uploading the
  whole pack did); the base, and every other tenant on it, stays as it was.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePath, PurePosixPath
from typing import TYPE_CHECKING, Any

from engine.diagnostics import Diagnostic
from engine.model import CompiledRuleSet, Rule
from engine.pack.loader import content_version
from engine.rule_engine import LoadedRuleSet

if TYPE_CHECKING:
    from api.rulesets import RuleSets

#: The longest path a pack file may have here, and the largest text an edit may send (the loader refuses
#: files over ``MAX_FILE_BYTES`` anyway; this answers sooner, naming the field).
MAX_PATH = 200
MAX_TEXT = 1_000_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Layer(StrEnum):
    TENANT = "tenant"
    BASE = "base"


class Mode(StrEnum):
    OWN = "own"
    LAYERED = "layered"
    BASE = "base"


class PathRefused(ValueError):
    """A path that cannot name a pack file: its reason, for the 422."""


class FileMissing(LookupError):
    """A well-formed path that is no file of the tenant's running pack (404)."""


class ReadOnly(PermissionError):
    """A base file named by a tenant with a pack of its own (403)."""


@dataclass(frozen=True, slots=True)
class PackFile:
    path: str  # inside the pack, shown to the caller
    layer: Layer
    key: str  # the name the running set holds it under (never shown)
    editable: bool


@dataclass(frozen=True, slots=True)
class PackView:
    """One tenant's running set as files: what it may read and edit, and the layers an edit reloads."""

    mode: Mode
    version: str
    files: tuple[PackFile, ...]
    base: Mapping[str, str]
    tenant: Mapping[str, str]

    def text(self, file: PackFile) -> str:
        return (self.tenant if file.layer is Layer.TENANT else self.base)[file.key]

    def find(self, path: str, layer: Layer | None = None) -> PackFile:
        """The listed file at ``path`` (the tenant's own first), else FileMissing naming the files there are."""
        check_path(path)
        for file in sorted(self.files, key=lambda f: f.layer is not Layer.TENANT):
            if file.path == path and layer in (None, file.layer):
                return file
        shown = ", ".join(f.path for f in self.files if layer in (None, f.layer))
        raise FileMissing(f"no file {path!r} in this tenant's running pack; its files: {shown}")

    def editable(self, path: str) -> PackFile:
        """The file at ``path`` that an edit replaces, else FileMissing or ReadOnly."""
        file = self.find(path)
        if not file.editable:
            raise ReadOnly(
                f"{path!r} is a file of the platform's base pack, read-only for a tenant with a pack of its own: "
                "change a base rule with 'override: true' in one of your own files"
            )
        return file

    def replaced(self, file: PackFile, text: str) -> dict[str, str]:
        """The tenant's files a reload runs with ``file``'s text replaced (for ``base``: a copy of the base's)."""
        if self.mode is Mode.BASE:
            return {f.path: (text if f.key == file.key else self.base[f.key]) for f in self.files}
        return {**self.tenant, file.key: text}

    def display(self, diagnostic: Diagnostic, new_tenant: Mapping[str, str] | None = None) -> dict[str, Any]:
        """``diagnostic`` as an answer shows it: its file by path inside the pack, and the layer it is in."""
        body = diagnostic.as_dict()
        key = diagnostic.location.file
        names = _names_of(self, new_tenant)
        if key in names:
            body["file"], body["layer"] = names[key]
        else:
            body["file"], body["layer"] = (_anonymous(key), None)
        return body


def view_of(loaded: LoadedRuleSet, *, base_root: PurePath, tenant_root: PurePath) -> PackView:
    """``loaded`` (a tenant's running set) as files, with paths relative to where they were read from."""
    base, tenant = dict(loaded.files), dict(loaded.tenant_files)
    if not tenant:
        mode = Mode.BASE
    elif loaded.ruleset.version == content_version(tenant):  # a pack of its own: its version is its files' alone
        mode = Mode.OWN
    else:
        mode = Mode.LAYERED
    listed = [PackFile(p, Layer.TENANT, k, True) for k, p in relative_names(tenant, tenant_root).items()]
    if mode is not Mode.OWN:
        editable = mode is Mode.BASE
        listed += [PackFile(p, Layer.BASE, k, editable) for k, p in relative_names(base, base_root).items()]
    files = tuple(sorted(listed, key=lambda f: (f.layer is not Layer.TENANT, f.path)))
    return PackView(mode=mode, version=loaded.ruleset.version, files=files, base=base, tenant=tenant)


def running_view(rulesets: RuleSets, tenant: str, loaded: LoadedRuleSet) -> PackView:
    """``loaded``, one of ``tenant``'s sets, as files named relative to the folders this server read them from."""
    base_root, tenant_root = PurePath(rulesets.engine.rules_path), PurePath(rulesets.tenant_dir(tenant))
    return view_of(loaded, base_root=base_root, tenant_root=tenant_root)


def shown_file(key: str, names: Mapping[str, str]) -> str:
    """The name an answer gives the file stored under ``key``: its path in the pack, never a server path."""
    return names.get(key) or _anonymous(key)


def check_path(path: str) -> str:
    """``path`` if it can name a file inside a pack, else PathRefused saying why."""
    if not path or len(path) > MAX_PATH:
        raise PathRefused(f"a path of 1 to {MAX_PATH} characters")
    if _CONTROL.search(path):
        raise PathRefused("control characters (such as NUL) are not allowed in a path")
    if "\\" in path:
        raise PathRefused("use '/' between folders; a backslash is not allowed")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise PathRefused("a path inside the pack, as GET /v1/rules/sources lists it, not an absolute one")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise PathRefused("'.', '..' and empty segments are not allowed: name a file as the pack lists it")
    if not path.endswith((".yaml", ".yml")):
        raise PathRefused("a rule file ends in .yaml or .yml")
    return path


def relative_names(files: Iterable[str], root: PurePath) -> dict[str, str]:
    """key -> its path inside the pack: relative to ``root`` when under it, else the key without any folder
    a caller need not see (the leading '/', '.', '..' and a common folder of absolute names)."""
    out: dict[str, str] = {}
    rest: list[str] = []
    for key in files:
        try:
            relative = PurePath(key).relative_to(root).as_posix()
        except ValueError:
            rest.append(key)
            continue
        out[key] = relative if relative != "." else PurePath(key).name  # the pack is this one file
    parts = {key: _clean(key) for key in rest}
    absolute = [parts[k] for k in rest if PurePosixPath(k.replace("\\", "/")).is_absolute()]
    common = _common_folder(absolute)
    for key in rest:
        shown = parts[key][len(common) :] if parts[key] in absolute else parts[key]
        out[key] = "/".join(shown) or PurePath(key).name
    return _unique(out)


def _clean(key: str) -> list[str]:
    return [p for p in PurePosixPath(key.replace("\\", "/")).parts if p not in ("/", ".", "..")]


def _common_folder(paths: list[list[str]]) -> list[str]:
    if not paths:
        return []
    folders = [p[:-1] for p in paths]
    common = folders[0]
    for folder in folders[1:]:
        while folder[: len(common)] != common:
            common = common[:-1]
    return common


def _unique(names: dict[str, str]) -> dict[str, str]:
    """Two keys that clean to one path (``a.yaml``, ``./a.yaml``) keep apart: ``a.yaml``, ``a~2.yaml``."""
    seen: dict[str, int] = {}
    out = {}
    for key in sorted(names):
        name = names[key]
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            stem, dot, suffix = name.rpartition(".")
            name = f"{stem}~{seen[name]}{dot}{suffix}"
        out[key] = name
    return out


def _names_of(view: PackView, new_tenant: Mapping[str, str] | None) -> dict[str, tuple[str, str]]:
    names = {f.key: (f.path, f.layer.value) for f in view.files}
    if view.mode is Mode.BASE and new_tenant is not None:  # the copy is keyed by the paths themselves
        names |= {path: (path, Layer.TENANT.value) for path in new_tenant}
    return names


def _anonymous(key: str) -> str:
    """A location outside the listed files (``<pack>``), or a name of no listed file: never a server path."""
    return key if key.startswith("<") else (_clean(key) or ["<pack>"])[-1]


def rule_changes(before: CompiledRuleSet, after: CompiledRuleSet) -> dict[str, Any]:
    """Rules added, removed and changed from ``before`` to ``after``, each change with the fields it touches."""
    old, new = _rules(before), _rules(after)
    changed = []
    for rule_id in sorted(old.keys() & new.keys()):
        a, b = old[rule_id], new[rule_id]
        values = {k: {"before": x, "after": y} for k, (x, y) in _fields(a, b).items() if x != y}
        fields = sorted([*values, *(["when"] if a.condition != b.condition else [])])
        if fields:
            changed.append({"id": rule_id, "fields": fields, "values": values})
    return {"added": sorted(new.keys() - old.keys()), "removed": sorted(old.keys() - new.keys()), "changed": changed}


def _rules(ruleset: CompiledRuleSet) -> dict[str, Rule]:
    return {r.id: r for r in (ruleset.all_rules or ruleset.rules)}


def _fields(a: Rule, b: Rule) -> dict[str, tuple[Any, Any]]:
    """What a decision depends on, as the pack names it, but ``when`` (a tree: named, not shown)."""
    return {
        "on": (sorted(a.on), sorted(b.on)),
        "score": (a.score, b.score),
        "decision": (_value(a.decision), _value(b.decision)),
        "mode": (a.mode.value, b.mode.value),
        "expires": (_value(a.expires), _value(b.expires)),
        "reason": ({"zh": a.reason_zh, "en": a.reason_en}, {"zh": b.reason_zh, "en": b.reason_en}),
    }


def _value(value: Any) -> Any:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else getattr(value, "value", value)
