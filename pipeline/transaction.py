"""One DuckDB transaction: every write of the pipeline (and of the alignment tables) goes through it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection, *, commit: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN; COMMIT when the block ends (ROLLBACK instead with commit=False, a dry run); ROLLBACK on any error.

    A failing COMMIT is rolled back too, so the connection is never left inside a transaction.
    """
    con.execute("BEGIN")
    try:
        yield con
        con.execute("COMMIT" if commit else "ROLLBACK")
    except BaseException:
        con.execute("ROLLBACK")
        raise
