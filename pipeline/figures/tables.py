"""Replacing a derived table's rows from Python values; the table's DDL (pipeline.schema) gives the types."""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa


def replace_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    """Delete every row of `table` and insert `rows` (by column name; a missing key is NULL); call in a transaction."""
    con.execute(f"DELETE FROM {table}")
    if rows:
        schema = con.sql(f"SELECT * FROM {table} LIMIT 0").to_arrow_table().schema  # the columns' one declaration
        con.register("replacement", pa.Table.from_pylist(rows, schema=schema))
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM replacement")
        con.unregister("replacement")
