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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

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


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader whose composer counts depth and expanded size as it goes."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0
        self._expanded = 0  # values composed so far, each alias at its anchor's expanded size
        self._sizes: dict[str, int] = {}  # anchor -> expanded size, once its node is complete

    def fetch_flow_collection_start(self, TokenClass: type) -> None:
        """Refuse deep ``[[[...`` in the scanner already: it looks ahead up to 1024 characters per token."""
        if self.flow_level >= MAX_DEPTH:
            raise _LimitExceeded(self.get_mark(), f"nesting is deeper than {MAX_DEPTH} levels")
        super().fetch_flow_collection_start(TokenClass)

    def compose_node(self, parent: Any, index: Any) -> Any:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
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


def load_yaml(path: str, text: str) -> tuple[SourceFile | None, list[Diagnostic]]:
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
    except _LimitExceeded as err:
        where = Location(path, err.mark.line + 1, err.mark.column + 1)
        return None, [Diagnostic(where, Code.LIMIT_EXCEEDED, err.message)]
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = Location(path, mark.line + 1, mark.column + 1) if mark else Location(path, 1, 1)
        message = " ".join(filter(None, [err.context, err.problem]))
        return None, [Diagnostic(where, Code.YAML_SYNTAX, f"YAML syntax error: {message}")]
    except yaml.YAMLError as err:
        return None, [Diagnostic(Location(path, 1, 1), Code.YAML_SYNTAX, f"YAML error: {err}")]
    finally:
        loader.dispose()
    source = SourceFile(path=path, data=None)
    if node is None:
        return source, []
    builder = _Builder(source, loader)
    source.data = builder.build(node, ())
    return source, builder.diagnostics


class _Builder:
    def __init__(self, source: SourceFile, loader: _BoundedLoader) -> None:
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
        except yaml.YAMLError:
            return str(node.value)


def _position(node: yaml.Node) -> Position:
    style = getattr(node, "style", None)
    return Position(node.start_mark.line + 1, node.start_mark.column + 1, style)
