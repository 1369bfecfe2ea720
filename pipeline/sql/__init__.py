"""The pipeline's SQL: one named `.sql` file per query or query family, loaded here.

The constants of docs/metrics.md are never written in a `.sql` file. A query names them as parameters
(`$active_s`, `$week_days`, `$month_days`, `$growth_days`) and `execute` binds them from `pipeline.domain.rules`,
with the caller's own values. Views take no parameters: `render` formats `{{name}}` (a constant) and
`{{name(a, b)}}` (a rule over columns a and b, e.g. `{{app_key(m.application, u.app)}}`) in from the
same module when they are installed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from importlib.resources import files
from typing import Any

import duckdb

from pipeline.domain import rules

# Bound to any query that names them; a caller's value of the same name wins.
PARAMETERS: dict[str, Any] = {
    "active_s": rules.ACTIVE_SECONDS,
    "week_days": rules.WEEK_DAYS,
    "month_days": rules.MONTH_DAYS,
    "growth_days": list(rules.SHADOW_GROWTH_DAYS),
}

# Formatted into views and DDL, which cannot take parameters.
CONSTANTS: dict[str, str] = {
    "active_s": str(rules.ACTIVE_SECONDS),
    "k_anonymity": str(rules.K_ANONYMITY),
    "steepness": f"{rules.S_CURVE_STEEPNESS:g}",
    "half_steepness": f"{rules.S_CURVE_STEEPNESS / 2:g}",
}
RULES: dict[str, Callable[..., str]] = {"app_key": rules.app_key_sql, "app_name": rules.app_name_sql}

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*(?:\(([^)]*)\))?\s*\}\}")
_PARAMETER = re.compile(r"\$([A-Za-z_]\w*)")
_COMMENT = re.compile(r"--[^\n]*")


@cache
def load(name: str) -> str:
    """The text of pipeline/sql/<name>.sql, placeholders formatted in."""
    return render(files(__name__).joinpath(f"{name}.sql").read_text(encoding="utf-8"))


def render(sql: str) -> str:
    """Format `{{constant}}` and `{{rule(a, b)}}` in from pipeline.domain.rules."""

    def one(m: re.Match[str]) -> str:
        name, args = m.group(1), m.group(2)
        if args is None:
            return CONSTANTS[name]
        return RULES[name](*(a.strip() for a in args.split(",")))

    return _PLACEHOLDER.sub(one, sql)


def parameters(sql: str, given: dict[str, Any]) -> dict[str, Any]:
    """The named parameters `sql` uses: the caller's values, else the docs/metrics.md constants."""
    return {name: given[name] if name in given else PARAMETERS[name] for name in _names(sql)}


@cache
def _names(sql: str) -> frozenset[str]:
    return frozenset(_PARAMETER.findall(_COMMENT.sub("", sql)))


def execute(con: duckdb.DuckDBPyConnection, name: str, **given: Any) -> duckdb.DuckDBPyConnection:
    """Run the query of pipeline/sql/<name>.sql with its parameters bound."""
    return run(con, load(name), **given)


def run(con: duckdb.DuckDBPyConnection, sql: str, **given: Any) -> duckdb.DuckDBPyConnection:
    """Run `sql` (placeholders already rendered) with its parameters bound."""
    return con.execute(sql, parameters(sql, given))
