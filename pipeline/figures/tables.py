"""Replacing a derived table's rows from Python values (its columns are declared in pipeline.schema)."""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa


def replace_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]], schema: pa.Schema) -> None:
    """Delete every row of `table` and insert `rows` (by column name); call inside a transaction."""
    con.execute(f"DELETE FROM {table}")
    if rows:
        con.register("replacement", pa.Table.from_pylist(rows, schema=schema))
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM replacement")
        con.unregister("replacement")
