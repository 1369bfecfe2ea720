"""Just enough PromQL reading to check dashboards: the metric names an expression selects, and macros.

Not a full parser: a tokenizer that skips strings, label matchers, range/offset durations, label
lists after by/without/on/ignoring/group_left/group_right, and function names; every other
identifier is a metric name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
  | (?P<variable>\$\{[^}]*\}|\$\w+|\[\[\w+\]\])
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?:ms|[smhdwy])*)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<punct>=~|!~|!=|==|<=|>=|[-+*/%^(){}\[\],<>=@])
    """,
    re.VERBOSE,
)

_LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "start", "end", "inf", "nan"}
# Aggregations may put their by/without clause before the parenthesis: `sum by (x) (...)`.
_AGGREGATIONS = {
    "sum", "avg", "min", "max", "count", "group", "stddev", "stdvar",
    "topk", "bottomk", "quantile", "count_values", "limitk", "limit_ratio",
}  # fmt: skip


class Token(NamedTuple):
    kind: str
    text: str


def tokens(expr: str) -> list[Token]:
    """The expression's tokens without whitespace; raises ValueError on a character PromQL has no use for."""
    found: list[Token] = []
    pos = 0
    while pos < len(expr):
        match = _TOKEN.match(expr, pos)
        if match is None:
            raise ValueError(f"cannot read PromQL at {pos}: {expr[pos : pos + 20]!r}")
        kind = match.lastgroup or ""
        if kind != "space":
            found.append(Token(kind, match.group()))
        pos = match.end()
    return found


def _skip_group(toks: list[Token], i: int, opening: str, closing: str) -> int:
    """Index after the group that opens at toks[i]."""
    depth = 0
    while i < len(toks):
        if toks[i].text == opening:
            depth += 1
        elif toks[i].text == closing:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError(f"unbalanced {opening}{closing}")


def metric_names(expr: str) -> set[str]:
    """Every metric (or recording rule) name the expression selects, including {__name__="..."} matchers."""
    toks = tokens(expr)
    names: set[str] = set()
    i = 0
    while i < len(toks):
        tok = toks[i]
        nxt = toks[i + 1].text if i + 1 < len(toks) else ""
        if tok.text == "{":
            end = _skip_group(toks, i, "{", "}")
            inner = toks[i + 1 : end - 1]
            for j in range(len(inner) - 2):
                if inner[j].text == "__name__" and inner[j + 1].text == "=" and inner[j + 2].kind == "string":
                    names.add(inner[j + 2].text[1:-1])
            i = end
        elif tok.text == "[":
            i = _skip_group(toks, i, "[", "]")
        elif tok.kind == "ident" and tok.text.lower() in _LABEL_LIST_KEYWORDS and nxt == "(":
            i = _skip_group(toks, i + 1, "(", ")")
        elif tok.kind == "ident" and tok.text.lower() in _LABEL_LIST_KEYWORDS:
            i += 1  # group_left without a label list
        elif tok.kind == "ident" and (nxt == "(" or (tok.text in _AGGREGATIONS and nxt in ("by", "without"))):
            i += 1  # a function or aggregation
        elif tok.kind == "ident" and tok.text.lower() not in _KEYWORDS:
            names.add(tok.text)
            i += 1
        else:
            i += 1
    return names


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """Replace Grafana variables ($name, ${name}, ${name:format}, [[name]]) by the given values."""

    def value(match: re.Match[str]) -> str:
        name = match.group("a") or match.group("b") or match.group("c")
        if name not in values:
            raise KeyError(f"no value for Grafana variable {name!r} in {expr!r}")
        return values[name]

    return re.sub(r"\$\{(?P<a>\w+)(?::[^}]*)?\}|\$(?P<b>\w+)|\[\[(?P<c>\w+)\]\]", value, expr)


class PanelQuery(NamedTuple):
    """One PromQL expression of a dashboard and where it is."""

    dashboard: str
    panel: str
    ref_id: str
    expr: str


def panel_queries(dashboard: Mapping[str, Any]) -> Iterator[PanelQuery]:
    """Every target expression of every panel (rows' nested panels included)."""
    for panel in dashboard.get("panels", []):
        for inner in [panel, *panel.get("panels", [])]:
            for target in inner.get("targets", []):
                yield PanelQuery(
                    dashboard.get("uid", ""), inner.get("title", ""), target.get("refId", ""), target["expr"]
                )


def annotation_queries(dashboard: Mapping[str, Any]) -> Iterator[PanelQuery]:
    """Every Prometheus annotation query's expression (panel: the annotation's name; ref_id: "annotation")."""
    for annotation in dashboard.get("annotations", {}).get("list", []):
        if annotation.get("expr"):
            yield PanelQuery(dashboard.get("uid", ""), annotation["name"], "annotation", annotation["expr"])


def variable_metric_names(query: str) -> set[str]:
    """Metric names in a Grafana Prometheus variable query: label_values(selector, label) or query_result(expr)."""
    match = re.fullmatch(r"\s*label_values\((?P<selector>.*),\s*\w+\s*\)\s*", query, re.DOTALL)
    if match:
        return metric_names(match["selector"])
    if re.fullmatch(r"\s*label_values\(\s*\w+\s*\)\s*", query):
        return set()
    match = re.fullmatch(r"\s*(?:query_result|metrics)\((?P<expr>.*)\)\s*", query, re.DOTALL)
    if match:
        return metric_names(match["expr"])
    return metric_names(query)


def variable_queries(dashboard: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(variable name, query) of every query variable."""
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query" and isinstance(variable.get("query"), str):
            yield variable["name"], variable["query"]
