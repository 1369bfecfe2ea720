"""YAML parsing that remembers the line of every mapping key and list item, so errors can point at them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline.catalog.errors import CatalogIssue

Loc = tuple[str | int, ...]

# A catalog is a few levels deep (objectives > initiatives > investments > owner); PyYAML composes and
# walks nodes recursively, so an unbounded depth ends in RecursionError instead of a located error.
MAX_DEPTH = 64
# Aliases let a few lines expand exponentially ("billion laughs"); every later step (validation, line
# recording) walks the expanded tree, so the values aliases add are bounded, far above what reuse needs.
# Values written out are not: their cost follows the file's size.
MAX_ALIAS_VALUES = 100_000


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


class _BoundedLoader(yaml.SafeLoader):
    """A SafeLoader that refuses to compose a node nested deeper than MAX_DEPTH (before recursing into it)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self._depth >= MAX_DEPTH:
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def parse_yaml(path: Path, text: str) -> tuple[YamlDocument | None, list[CatalogIssue]]:
    """Parse one YAML document; returns the document or the syntax problems (duplicate keys included).

    Refused as a located error: nesting deeper than MAX_DEPTH, aliases that add more than MAX_ALIAS_VALUES
    values, and an alias inside the node it names.
    """
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_expansion(node)
        data = loader.construct_document(node) if node is not None else None
    except _RefusedError as exc:
        return None, [CatalogIssue(str(path), exc.node.start_mark.line + 1, "(yaml)", str(exc))]
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


def _timestamp(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """A YAML date, refused as a located error when it names no day (2026-10-32) rather than raising ValueError."""
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)  # type: ignore[arg-type]
    except ValueError as exc:
        raise _RefusedError(node, f"{node.value!r} is not a date: {exc}") from None


_BoundedLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


class _RefusedError(Exception):
    """A composed document that must not be constructed; `node` locates the problem."""

    def __init__(self, node: yaml.Node, message: str) -> None:
        super().__init__(message)
        self.node = node


def _check_expansion(root: yaml.Node) -> None:
    """Raise _RefusedError at the first node whose alias-expanded size or depth is over the bounds, or that
    contains itself through an alias.

    Each distinct node is visited once (sizes are memoised), so this costs the composed document, not its
    expansion. The walk's own recursion stays within MAX_DEPTH: an alias names a node composed before it,
    which is either finished (memoised) or an ancestor (a cycle).
    """
    done: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth) once expanded
    open_nodes: set[int] = set()

    def visit(node: yaml.Node) -> tuple[int, int]:
        if id(node) in done:
            return done[id(node)]
        if id(node) in open_nodes:
            raise _RefusedError(node, "an alias names a node that contains it (a recursive document)")
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        open_nodes.add(id(node))
        values, depth = 1, 0
        for child in children:
            child_values, child_depth = visit(child)
            values += child_values
            depth = max(depth, child_depth)
        open_nodes.discard(id(node))
        # The node's distinct values are at most those visited so far plus itself: the rest are repeats.
        if values - (len(done) + 1) > MAX_ALIAS_VALUES:
            raise _RefusedError(node, f"aliases expand this by more than {MAX_ALIAS_VALUES:,} values")
        if depth + 1 > MAX_DEPTH:
            raise _RefusedError(node, f"nested deeper than {MAX_DEPTH} levels once aliases are expanded")
        done[id(node)] = (values, depth + 1)
        return done[id(node)]

    visit(root)
