"""What the alignment scores read as of one day, k-safe, kept in `alignment_inputs` for the analysts' database.

The pipeline computes them from its own file (alignment.reader.read_inputs) for its as-of day and the previous
quarter's end (the steering report's baseline); `assess`, `roadmap` and `report` on the analysts' database read
them back, so analysts never need a per-person row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
from pydantic import TypeAdapter, ValidationError

from alignment.facts import InvestmentState, SwitchWeek, UsageSummary
from pipeline.database import has_table
from pipeline.transaction import transaction

TABLE = "CREATE TABLE IF NOT EXISTS alignment_inputs (as_of DATE PRIMARY KEY, k INTEGER NOT NULL, inputs JSON NOT NULL)"


@dataclass(frozen=True)
class Inputs:
    """The k-safe facts of one day: figures per investment, summarised usage, displacement weeks, department sizes."""

    as_of: date
    k: int
    states: dict[str, InvestmentState] = field(default_factory=dict)
    usage: UsageSummary = field(default_factory=UsageSummary)
    switches: tuple[SwitchWeek, ...] = ()  # weeks of >= k users in departments of >= k people (or all)
    department_sizes: dict[str, int] = field(default_factory=dict)  # departments of >= k people only


_JSON = TypeAdapter(Inputs)


def is_quarter_end(day: date) -> bool:
    """The last day of March, June, September or December."""
    after = day + timedelta(days=1)
    return after.day == 1 and after.month in (1, 4, 7, 10)


def store(con: duckdb.DuckDBPyConnection, inputs: Inputs, *, keep: date) -> None:
    """Replace the inputs of `inputs.as_of`; drop those of other days but `keep` (the current as-of day) and quarter
    ends, which the report compares against."""
    with transaction(con):
        con.execute(TABLE)
        con.execute("DELETE FROM alignment_inputs WHERE as_of = ?", [inputs.as_of])
        con.execute(
            "INSERT INTO alignment_inputs VALUES (?, ?, ?)",
            [inputs.as_of, inputs.k, _JSON.dump_json(inputs).decode()],
        )
        for (day,) in con.execute("SELECT as_of FROM alignment_inputs").fetchall():
            if day not in (keep, inputs.as_of) and not is_quarter_end(day):
                con.execute("DELETE FROM alignment_inputs WHERE as_of = ?", [day])


def stored_days(con: duckdb.DuckDBPyConnection) -> list[date]:
    """The days whose inputs are kept, oldest first (none before the pipeline first wrote them)."""
    if not _exists(con):
        return []
    return [row[0] for row in con.execute("SELECT as_of FROM alignment_inputs ORDER BY as_of").fetchall()]


def load(con: duckdb.DuckDBPyConnection, as_of: date) -> Inputs | None:
    """The inputs kept for `as_of`, or None (none kept, or kept in another version's shape)."""
    if not _exists(con):
        return None
    row = con.execute("SELECT inputs FROM alignment_inputs WHERE as_of = ?", [as_of]).fetchone()
    if row is None:
        return None
    try:
        return _JSON.validate_json(row[0])
    except ValidationError:  # kept by another version of alignmon: not read, and rewritten on the next refresh
        return None


def _exists(con: duckdb.DuckDBPyConnection) -> bool:
    return has_table(con, "alignment_inputs")
