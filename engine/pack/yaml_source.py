"""YAML to plain values, keeping the line and column of every key and value.

PyYAML's composed nodes carry marks; we build the values ourselves so that
(1) each path (``("rules", 3, "when")``) maps to its position for diagnostics,
(2) duplicate keys are reported instead of silently overwritten, and
(3) only ``true``/``false`` are booleans: YAML 1.1 would read ``on:`` as ``True``
and ``mode: off`` as ``False``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from engine.diagnostics import Code, Diagnostic, Location

Path = tuple[str | int, ...]


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


def load_yaml(path: str, text: str) -> tuple[SourceFile | None, list[Diagnostic]]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
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
    def __init__(self, source: SourceFile, loader: yaml.SafeLoader) -> None:
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
