"""The analysts' alignment surface in DuckDB: result tables the pipeline refreshes and stable views over them.

Wiring for the pipeline (the single writer)::

    alignment.views.install(con)                      # once, after pipeline.schema.migrate
    alignment.views.refresh(con, catalog, as_of)      # after each pipeline.refresh.refresh

The views are k-safe like every analyst view: they hold no per-user rows and no group under k.
"""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING, Any

import duckdb

from alignment.assessment import Assessment, assess
from alignment.inputs import TABLE as INPUTS_TABLE
from alignment.inputs import store, stored_days
from alignment.reader import computed_as_of, read_facts, read_inputs, strategy_from_catalog
from alignment.report import previous_quarter_end
from pipeline.database import table_columns
from pipeline.retention import kept_until
from pipeline.transaction import transaction

if TYPE_CHECKING:
    from pipeline.catalog import Catalog

TABLES = """
CREATE TABLE IF NOT EXISTS alignment_portfolio_data (
    as_of DATE, axis VARCHAR, segment VARCHAR, initiatives INTEGER, investments INTEGER, spend DOUBLE,
    spend_share DOUBLE, attainment DOUBLE, low_or_at_risk INTEGER, currency VARCHAR);
CREATE TABLE IF NOT EXISTS alignment_roadmap_data (
    as_of DATE, rank INTEGER, kind VARCHAR, subject VARCHAR, name VARCHAR, initiative VARCHAR, action VARCHAR,
    priority DOUBLE, weight DOUBLE, gap DOUBLE, wasted DOUBLE, value_at_risk DOUBLE, confidence DOUBLE,
    effort DOUBLE, after VARCHAR, reason VARCHAR, weighs VARCHAR, currency VARCHAR, departments VARCHAR,
    owner VARCHAR, decision VARCHAR);
CREATE TABLE IF NOT EXISTS alignment_displacement_data (
    as_of DATE, application VARCHAR, replaces VARCHAR, department VARCHAR, week DATE, new_minutes DOUBLE,
    old_minutes DOUBLE, users INTEGER, new_share DOUBLE);
CREATE TABLE IF NOT EXISTS alignment_emergent_data (
    as_of DATE, application VARCHAR, name VARCHAR, in_catalog BOOLEAN, capability VARCHAR, active_users INTEGER,
    users_per_week DOUBLE, growth_per_week DOUBLE);
CREATE TABLE IF NOT EXISTS alignment_maturity_data (
    as_of DATE, label VARCHAR, criterion VARCHAR, attribute VARCHAR, source VARCHAR, score DOUBLE,
    proxy VARCHAR, proxy_value DOUBLE);
CREATE TABLE IF NOT EXISTS alignment_maturity_levels_data (
    as_of DATE, label VARCHAR, criterion VARCHAR, level DOUBLE, evidenced DOUBLE, assessment VARCHAR);
"""

VIEWS = """
CREATE OR REPLACE VIEW alignment_portfolio AS
SELECT * FROM alignment_portfolio_data
ORDER BY CASE axis WHEN 'domain' THEN 1 WHEN 'perspective' THEN 2 WHEN 'orphan' THEN 3 ELSE 4 END;
CREATE OR REPLACE VIEW roadmap AS SELECT * FROM alignment_roadmap_data ORDER BY rank;
CREATE OR REPLACE VIEW alignment_displacement AS
SELECT * FROM alignment_displacement_data ORDER BY application, department, week;
CREATE OR REPLACE VIEW emergent_strategy AS SELECT * FROM alignment_emergent_data ORDER BY active_users DESC;
CREATE OR REPLACE VIEW alignment_maturity AS SELECT * FROM alignment_maturity_data;
CREATE OR REPLACE VIEW alignment_maturity_levels AS SELECT * FROM alignment_maturity_levels_data;
"""


# Published to the analysts' database (docs/analysts.md): the views, and the k-safe inputs assess/report read.
PUBLISHED = (
    "alignment_portfolio",
    "roadmap",
    "alignment_displacement",
    "emergent_strategy",
    "alignment_maturity",
    "alignment_maturity_levels",
    "alignment_inputs",
)

_TABLE_RE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\);", re.S)


def _stale(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Result tables whose columns are not those TABLES declares (written by an older version)."""
    stale = []
    for table, body in _TABLE_RE.findall(TABLES):
        declared = [column.split()[0] for column in body.split(",")]
        found = table_columns(con, table)
        if found and found != declared:
            stale.append(table)
    return stale


def install(con: duckdb.DuckDBPyConnection) -> None:
    """Create the alignment tables and views if missing (safe to repeat).

    A result table of an older shape is dropped and created anew: refresh rewrites every row anyway.
    """
    for table in _stale(con):
        con.execute(f"DROP TABLE {table} CASCADE")
    con.execute(TABLES)
    con.execute(INPUTS_TABLE)
    con.execute(VIEWS)


def refresh(
    con: duckdb.DuckDBPyConnection, catalog: Catalog, as_of: date | None = None, *, catalog_changed: bool = True
) -> Assessment:
    """Recompute the k-safe inputs (as of `as_of`, and on a new day or a changed catalog the previous quarter's
    end: the report's baseline) and every alignment result from them, and replace the tables' rows."""
    install(con)
    strategy = strategy_from_catalog(catalog)
    day = as_of or computed_as_of(con)[0]
    # Inputs kept under another k would show groups this k hides: dropped (and the baseline recomputed below).
    con.execute("DELETE FROM alignment_inputs WHERE k <> ?", [computed_as_of(con)[2]])
    if day is not None:
        baseline = previous_quarter_end(day)
        lost = kept_until(con)  # a window retention emptied would overwrite the inputs kept from when it was whole
        # The baseline's late data is taken in once a day (its recount costs about as much as today's).
        if (catalog_changed or day not in stored_days(con)) and (lost is None or baseline > lost):
            store(con, read_inputs(con, strategy, baseline), keep=day)
        store(con, read_inputs(con, strategy, day), keep=day)
    result = assess(read_facts(con, strategy, as_of))
    write(con, result)
    return result


def rows(a: Assessment) -> dict[str, list[tuple[Any, ...]]]:
    """The table rows of an assessment, by table name."""
    day = a.facts.as_of
    p = a.portfolio
    total = p.total.spend
    maturity_rows = [
        (day, a.maturity.label, attr.criterion, attr.attribute, attr.source, attr.score,
         attr.proxy.spec.id if attr.proxy else None, attr.proxy.value if attr.proxy else None)
        for c in a.maturity.criteria
        for attr in c.attributes
    ]  # fmt: skip
    return {
        "alignment_portfolio_data": [
            (day, s.axis, s.key, s.initiatives, s.investments, s.spend, s.spend_share(total), s.attainment,
             s.low_or_at_risk, p.currency)
            for s in p.segments
        ],
        "alignment_roadmap_data": [
            (day, n, i.kind, i.subject, i.name, i.initiative, i.action, i.priority, i.weight, i.gap, i.wasted,
             i.value_at_risk, i.confidence, i.effort, " ".join(i.after), i.reason, i.weighs, i.currency,
             ", ".join(i.departments), i.owner, i.decision)
            for n, i in enumerate(a.roadmap, start=1)
        ],
        "alignment_displacement_data": [
            (day, s.new_app, s.old_app, s.department, s.week, s.new_minutes, s.old_minutes, s.users, s.share)
            for s in a.displacement
        ],
        "alignment_emergent_data": [
            (day, c.app, c.name, c.in_catalog, c.capability, c.active_users, c.slope, c.growth) for c in a.emergent
        ],
        "alignment_maturity_data": maturity_rows,
        "alignment_maturity_levels_data": [
            (day, a.maturity.label, c.criterion.name, c.score, c.evidenced, c.level_text) for c in a.maturity.criteria
        ],
    }  # fmt: skip


def write(con: duckdb.DuckDBPyConnection, a: Assessment) -> None:
    """Replace every alignment table's rows in one transaction."""
    with transaction(con):
        for table, values in rows(a).items():
            con.execute(f"DELETE FROM {table}")
            if values:
                marks = ", ".join("?" * len(values[0]))
                # executemany is slow per row, but these tables hold tens of rows, not millions.
                con.executemany(f"INSERT INTO {table} VALUES ({marks})", [list(v) for v in values])
