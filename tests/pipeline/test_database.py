"""Looks at DuckDB's catalog see the connection's own database, not another one attached to the same instance."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from pipeline.database import has_table, table_columns

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("alignment", "alignmon", "base", "collectors", "dashboards", "metrics", "pipeline")
CATALOG = re.compile(r"duckdb_(tables|columns|views|constraints|indexes)\s*\(|information_schema", re.I)


def test_a_table_of_an_attached_database_is_not_counted(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "own.duckdb"))
    try:
        con.execute("CREATE TABLE events (a INTEGER, b VARCHAR)")
        con.execute(f"ATTACH '{tmp_path / 'other.duckdb'}' AS other")
        con.execute("CREATE TABLE other.events (a INTEGER, b VARCHAR)")
        con.execute("CREATE TABLE other.only_there (x INTEGER)")
        assert has_table(con, "events") and not has_table(con, "only_there")
        assert table_columns(con, "events") == ["a", "b"]
        assert table_columns(con, "only_there") == []
    finally:
        con.close()


def test_every_look_at_duckdbs_catalog_goes_through_pipeline_database() -> None:
    """Another database attached (a working copy being made) is visible to every cursor of the instance: a query of
    the catalog not restricted to the current database counts its tables too."""
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != ROOT / "pipeline" / "database.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if CATALOG.search(line)
    ]
    assert found == [], "use pipeline.database (has_table, table_columns)"
