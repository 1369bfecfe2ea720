"""What a connection's own database holds, read off DuckDB's catalog.

Every database attached to a DuckDB instance is visible to all of its cursors: while the pipeline makes a working copy
(pipeline.working_copy) or publishes the analysts' database (pipeline.snapshot), `duckdb_tables()` and
`information_schema` list that file's tables too, often under the same names. Every look at the catalog goes through
here, restricted to the current database and schema (what an unqualified name resolves to).
"""

from __future__ import annotations

import duckdb


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the connection's own database holds the table `name`."""
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() "
        "WHERE database_name = current_database() AND schema_name = current_schema() AND table_name = ?",
        [name],
    ).fetchone()
    return found == (1,)


def table_columns(con: duckdb.DuckDBPyConnection, name: str) -> list[str]:
    """The columns of the connection's own table (or view) `name`, in order; none when it has no such object."""
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND table_schema = current_schema() AND table_name = ? "
        "ORDER BY ordinal_position",
        [name],
    ).fetchall()
    return [row[0] for row in rows]
