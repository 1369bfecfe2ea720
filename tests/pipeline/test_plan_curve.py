"""The planned ratio has two implementations (the adoption_daily_all view in SQL, Plan in Python); they agree.

The view draws the plan for analysts (adoption_daily: its rows from go-live) and dashboards; Plan drives status,
forecast and the report. Both take the S-curve's steepness from pipeline.domain.rules. Compared on random plans and
days, including a target due on the go-live day and days before go-live (which adoption_daily does not show).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.domain.plan import Plan
from pipeline.store import Store

GO_LIVE = date(2026, 1, 1)


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    store = Store(tmp_path_factory.mktemp("plan") / "plan.duckdb")
    store.con.execute("UPDATE refresh_state SET has_directory = true")
    yield store.con
    store.close()


def view_planned(con: duckdb.DuckDBPyConnection, plan: Plan, day: date) -> float | None:
    con.execute("DELETE FROM catalog_investments")
    con.execute("DELETE FROM adoption_series")
    con.execute(
        "INSERT INTO catalog_investments (investment, name, go_live, target_ratio, target_date, curve) "
        "VALUES ('inv', 'Inv', ?, ?, ?, ?)",
        [plan.go_live, plan.target_ratio, plan.target_date, plan.curve],
    )
    con.execute("INSERT INTO adoption_series (day, investment, population) VALUES (?, 'inv', 10)", [day])
    row = con.execute("SELECT planned_ratio FROM adoption_daily_all").fetchone()
    assert row is not None
    # The analysts' view: the same row from go-live on, none before it.
    shown = con.execute("SELECT planned_ratio FROM adoption_daily").fetchall()
    assert shown == ([row] if day >= plan.go_live else []), (day, plan, shown)
    return row[0]  # type: ignore[no-any-return]


@given(
    span=st.integers(0, 900),
    offset=st.integers(-30, 1000),
    target=st.floats(0, 1),
    curve=st.sampled_from(["linear", "s_curve"]),
)
def test_the_view_and_plan_give_the_same_planned_ratio(
    con: duckdb.DuckDBPyConnection, span: int, offset: int, target: float, curve: str
) -> None:
    plan = Plan(GO_LIVE, target, GO_LIVE + timedelta(days=span), curve)  # type: ignore[arg-type]
    day = GO_LIVE + timedelta(days=offset)
    want, got = plan.planned_ratio(day), view_planned(con, plan, day)
    assert (want is None) == (got is None), (want, got)
    if want is not None and got is not None:
        assert got == pytest.approx(want, abs=1e-12)
