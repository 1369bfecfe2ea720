"""YAML parsing that remembers the line of every mapping key and list item, so errors can point at them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline.catalog.errors import CatalogIssue

Loc = tuple[str | int, ...]


def format_loc(loc: Sequence[str | int]) -> str:
    """`('objectives', 0, 'name')` -> `objectives[0].name`; the empty path is `(root)`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(root)"


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML file with the 1-based line of each value, keyed by its path in the document."""

    path: Path
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Sequence[str | int]) -> int:
        """Line of the nearest enclosing node that has one (a missing field points at its parent)."""
        key = tuple(loc)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), 1)

    def issue(self, loc: Sequence[str | int], message: str, severity: str = "error") -> CatalogIssue:
        """An issue located at `loc` in this file."""
        return CatalogIssue(
            str(self.path),
            self.line_of(loc),
            format_loc(loc),
            message,
            "warning" if severity == "warning" else "error",
        )


def parse_yaml(path: Path, text: str) -> tuple[YamlDocument | None, list[CatalogIssue]]:
    """Parse one YAML document; returns the document or the syntax problems (duplicate keys included)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        message = " ".join(part for part in (exc.context, exc.problem) if part)
        return None, [CatalogIssue(str(path), line, "(yaml)", message or "invalid YAML")]
    except yaml.YAMLError as exc:
        return None, [CatalogIssue(str(path), 1, "(yaml)", str(exc))]
    finally:
        loader.dispose()
    lines: dict[Loc, int] = {}
    issues: list[CatalogIssue] = []
    if node is not None:
        lines[()] = node.start_mark.line + 1
        _record(node, (), lines, issues, path)
    return YamlDocument(path, data, lines), issues


def _record(node: yaml.Node, loc: Loc, lines: dict[Loc, int], issues: list[CatalogIssue], path: Path) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[object, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else repr(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                # PyYAML silently keeps the last value of a repeated key; a typo-catching catalog must not.
                issues.append(
                    CatalogIssue(str(path), line, format_loc((*loc, key)), f"duplicate key (first at line {seen[key]})")
                )
            seen.setdefault(key, line)
            lines[(*loc, key)] = line
            _record(value_node, (*loc, key), lines, issues, path)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*loc, index)] = item.start_mark.line + 1
            _record(item, (*loc, index), lines, issues, path)
