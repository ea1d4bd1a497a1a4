"""YAML to plain values, keeping the line and column of every key and value.

PyYAML's composed nodes carry marks; we build the values ourselves so that
(1) each path (``("rules", 3, "when")``) maps to its position for diagnostics,
(2) duplicate keys are reported instead of silently overwritten, and
(3) only ``true``/``false`` are booleans: YAML 1.1 would read ``on:`` as ``True``
and ``mode: off`` as ``False``.

Rule text comes from whoever holds an admin key (``/v1/rules/validate``, reload
uploads), so composing it is bounded before any value is built (``LIMIT_EXCEEDED`` at
the offending node): nesting at most ``MAX_DEPTH`` levels (PyYAML's composer recurses
per level: 10,000 nested ``[`` used to end in a RecursionError, a 500), at most
``MAX_NODES`` values per file *counting every alias at the full size of what it
expands to* (a 300-byte "billion laughs" of nine aliases of nine aliases is nine
levels of 9x: refused at the first alias past the budget, while it is still a few
hundred nodes in memory), and no alias inside its own anchor (an infinite value).
Only then does ``_Builder`` expand aliases into plain values, within that budget.

Scanning and parsing run in libyaml (PyYAML's ``CParser``) when PyYAML was built with it,
as its wheels are: the pure-Python scanner was most of a pack's compile time (a worker
loading 1,000 tenant packs spent minutes in it). Only the events come from C; the
composer that counts depth and expanded size is PyYAML's Python one, so the bounds hold
whichever parser runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from engine.diagnostics import Code, Diagnostic, Location

Path = tuple[str | int, ...]

#: Deepest nesting of mappings and sequences in one file (a rule pack needs ~6).
MAX_DEPTH = 64
#: Most values one file may expand to, aliases counted at their full expansion (a list of
#: 100,000 values, engine/pack/loader.py's MAX_LIST_VALUES, must fit).
MAX_NODES = 200_000


@dataclass(frozen=True, slots=True)
class Position:
    line: int  # 1-based
    col: int  # 1-based
    style: str | None = None  # scalar style: None plain, "'" or '"' quoted, "|" or ">" block


@dataclass
class SourceFile:
    """One parsed YAML file: its values and where each came from."""

    path: str
    data: Any
    values: dict[Path, Position] = field(default_factory=dict)
    keys: dict[Path, Position] = field(default_factory=dict)

    def location(self, path: Path, *, key: bool = False) -> Location:
        """The closest known position of ``path`` (walking up to its parents)."""
        table = self.keys if key else self.values
        probe = path
        while probe:
            found = table.get(probe) or self.values.get(probe)
            if found:
                return Location(self.path, found.line, found.col)
            probe = probe[:-1]
        return Location(self.path, 1, 1)

    def position(self, path: Path) -> Position | None:
        return self.values.get(path)


class _LimitExceeded(yaml.YAMLError):
    def __init__(self, mark: Any, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


class _BoundedComposer(Composer):
    """PyYAML's composer counting depth and expanded size as it goes, over any parser's events."""

    anchors: dict[Any, Any]
    peek_event: Callable[[], Any]

    def _bounds(self) -> None:
        self._depth = 0
        self._expanded = 0  # values composed so far, each alias at its anchor's expanded size
        self._sizes: dict[str, int] = {}  # anchor -> expanded size, once its node is complete

    def compose_node(self, parent: Any, index: Any) -> Any:
        event: Any = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            name = str(event.anchor)
            size = self._sizes.get(name)
            if size is None and name in self.anchors:
                raise _LimitExceeded(event.start_mark, f"alias '*{name}' is inside its own anchor: it never ends")
            self._grow(size or 0, event.start_mark, f"alias '*{name}'")
            return super().compose_node(parent, index)
        level = 1 if isinstance(event, yaml.CollectionStartEvent) else 0  # a level is a mapping or sequence
        self._depth += level
        if self._depth > MAX_DEPTH:
            raise _LimitExceeded(event.start_mark, f"nesting is deeper than {MAX_DEPTH} levels")
        before = self._expanded
        self._grow(1, event.start_mark, "this value")
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= level
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self._sizes[anchor] = self._expanded - before
        return node

    def _grow(self, size: int, mark: Any, what: str) -> None:
        self._expanded += size
        if self._expanded > MAX_NODES:
            raise _LimitExceeded(
                mark, f"{what} takes the file past {MAX_NODES} values (aliases counted at their expanded size)"
            )


class _PythonLoader(_BoundedComposer, Reader, Scanner, Parser, SafeConstructor, Resolver):
    """PyYAML's pure-Python scanner and parser, for a PyYAML built without libyaml."""

    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._bounds()

    def fetch_flow_collection_start(self, TokenClass: type) -> None:
        """Refuse deep ``[[[...`` in the scanner already: it looks ahead up to 1024 characters per token."""
        if self.flow_level >= MAX_DEPTH:
            raise _LimitExceeded(self.get_mark(), f"nesting is deeper than {MAX_DEPTH} levels")
        super().fetch_flow_collection_start(TokenClass)


if yaml.__with_libyaml__:
    from yaml.cyaml import CParser  # type: ignore[attr-defined]

    class _CLoader(_BoundedComposer, CParser, SafeConstructor, Resolver):
        """libyaml's scanner and parser (C), PyYAML's bounded composer (Python) over its events."""

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self._bounds()

    _BoundedLoader: type[_PythonLoader] | type[_CLoader] = _CLoader
else:  # pragma: no cover - PyYAML's wheels ship libyaml
    _BoundedLoader = _PythonLoader


def load_yaml(path: str, text: str) -> tuple[SourceFile | None, list[Diagnostic]]:
    """The file's values and positions, or the diagnostic that says why it cannot be read.

    A file libyaml refuses is read again by the Python parser, whose messages name what
    it expected ("expected ',' or ']', but got ':'") and whose nesting bound points at
    the 65th bracket: a broken file costs two parses, a good one the fast one only.
    """
    node, loader, diagnostic = _compose(_BoundedLoader, path, text)
    if diagnostic is not None and _BoundedLoader is not _PythonLoader:
        node, loader, diagnostic = _compose(_PythonLoader, path, text)
    if diagnostic is not None:
        return None, [diagnostic]
    source = SourceFile(path=path, data=None)
    if node is None:
        return source, []
    builder = _Builder(source, loader)
    source.data = builder.build(node, ())
    return source, builder.diagnostics


def _compose(
    kind: type[_PythonLoader] | type[_CLoader], path: str, text: str
) -> tuple[yaml.Node | None, _PythonLoader | _CLoader, Diagnostic | None]:
    loader = kind(text)
    try:
        return loader.get_single_node(), loader, None
    except _LimitExceeded as err:
        where = Location(path, err.mark.line + 1, err.mark.column + 1)
        return None, loader, Diagnostic(where, Code.LIMIT_EXCEEDED, err.message)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = Location(path, mark.line + 1, mark.column + 1) if mark else Location(path, 1, 1)
        message = " ".join(filter(None, [err.context, err.problem]))
        return None, loader, Diagnostic(where, Code.YAML_SYNTAX, f"YAML syntax error: {message}")
    except yaml.YAMLError as err:
        return None, loader, Diagnostic(Location(path, 1, 1), Code.YAML_SYNTAX, f"YAML error: {err}")
    finally:
        loader.dispose()


class _Builder:
    def __init__(self, source: SourceFile, loader: _PythonLoader | _CLoader) -> None:
        self.source = source
        self.loader = loader
        self.diagnostics: list[Diagnostic] = []

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.source.values[path] = _position(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                where = Location(self.source.path, key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                self.diagnostics.append(Diagnostic(where, Code.INVALID_VALUE, "mapping keys must be plain text"))
                continue
            key = str(key_node.value)
            child = (*path, key)
            if key in result:
                where = Location(self.source.path, key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                first = self.source.keys[child]
                self.diagnostics.append(
                    Diagnostic(
                        where,
                        Code.DUPLICATE_KEY,
                        f"key '{key}' appears twice in one mapping (first on line {first.line})",
                    )
                )
                continue
            self.source.keys[child] = _position(key_node)
            result[key] = self.build(value_node, child)
        return result

    def _scalar(self, node: yaml.Node) -> Any:
        if node.tag == "tag:yaml.org,2002:bool" and str(node.value).lower() not in ("true", "false"):
            return str(node.value)
        try:
            return self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError):  # also a timestamp that is no moment: 2026-02-30
            return str(node.value)  # the schema then names it at its place, as for any other bad value


def _position(node: yaml.Node) -> Position:
    style = getattr(node, "style", None)
    return Position(node.start_mark.line + 1, node.start_mark.column + 1, style)
