"""An investment whose target population is under k people gets no adoption figures (docs/metrics.md, privacy).

A real DuckDB file: Legal (4 people) all use their tool every day, Sales (10 people) all use Teams every day.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from base.directory import parse_directory
from metrics.exporter import PipelineCollector
from pipeline.batch import Record, decode
from pipeline.catalog import Catalog, load_catalog
from pipeline.domain.status import REASON_WORDS, Reason
from pipeline.refresh import refresh, sync_catalog
from pipeline.store import Store
from tests.support.events import KEY, focus

AS_OF = date(2026, 11, 20)
DAYS = 30
INVESTMENT = """
          - id: {id}
            applications: [{app}]
            seats: 20
            annual_cost: 2000
            currency: EUR
            owner: {{name: Owner, email: owner@example.org}}
            go_live: {go_live}
            target_ratio: 0.8
            target_date: 2027-03-01
            curve: linear
            target_departments: [{dept}]
"""
CATALOG = (
    """
applications:
  - {id: teams, name: Teams, capability: chat, match: {names: [teams.exe]}}
  - {id: lex, name: Lex, capability: legal, match: {names: [lex.exe]}}
objectives:
  - id: work
    name: Work
    initiatives:
      - id: ini
        name: Ini
        domain: it_strategy
        perspective: technology_transformation
        investments:"""
    + INVESTMENT.format(id="legal-lex", app="lex", go_live="2026-09-01", dept="Legal")
    + INVESTMENT.format(id="legal-later", app="lex", go_live="2026-12-01", dept="Legal")
    + INVESTMENT.format(id="sales-teams", app="teams", go_live="2026-09-01", dept="Sales")
)
LEGAL = [f"legal{i}" for i in range(4)]
SALES = [f"sales{i}" for i in range(10)]
# Every figure that would show how many of the few people use it, or how many they are.
ADOPTION = (
    "adoption_ratio", "coverage", "active_target", "trend", "gap", "forecast_date", "at_risk", "population", "dau",
    "wau", "mau", "licence_utilisation", "wasted_spend", "cost_per_active_user", "stickiness",
)  # fmt: skip


@pytest.fixture
def fleet(tmp_path: Path) -> tuple[Store, Catalog]:
    """Everyone active on their investment's application on each of the last DAYS days; not yet refreshed."""
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "catalog.yaml").write_text(CATALOG)
    rows = ["user,department", *(f"{p},Legal" for p in LEGAL), *(f"{p},Sales" for p in SALES)]
    catalog = load_catalog(tmp_path / "cat", parse_directory("\n".join(rows), KEY))
    store = Store(tmp_path / "small.duckdb")
    people = [(p, "lex.exe") for p in LEGAL] + [(p, "teams.exe") for p in SALES]
    payloads = [
        focus(n * DAYS + back, who, app, AS_OF - timedelta(days=back), 30)
        for n, (who, app) in enumerate(people)
        for back in range(DAYS)
    ]
    now = int(time.time() * 1000)
    store.write(decode([Record("t", 0, i, now, p) for i, p in enumerate(payloads)]))
    sync_catalog(store.con, catalog)
    return store, catalog


def current(store: Store) -> dict[str, dict[str, Any]]:
    cur = store.con.execute("SELECT * FROM adoption_current")
    names = [d[0] for d in cur.description]
    return {row[1]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}


def shown_days(store: Store, investment: str) -> tuple[int, int, int, int]:
    """adoption_daily's rows of `investment`, and how many have a ratio, a coverage and an active_target."""
    row = store.con.execute(
        "SELECT count(*), count(adoption_ratio), count(coverage), count(active_target) + count(mau) + count(dau) "
        "+ count(wau) + count(population) FROM adoption_daily "
        "WHERE investment = ?",
        [investment],
    ).fetchone()
    assert row is not None
    return row


def test_every_reason_has_words() -> None:
    assert set(REASON_WORDS) == set(Reason)
    assert all(words.strip() for words in REASON_WORDS.values())


def test_a_target_population_under_k_has_no_adoption_figures(fleet: tuple[Store, Catalog]) -> None:
    store, catalog = fleet
    try:
        refresh(store.con, catalog, AS_OF)
        figures = current(store)
        small, later, large = figures["legal-lex"], figures["legal-later"], figures["sales-teams"]
        assert (small["status"], small["status_reason"]) == ("unknown", "small_population")
        assert {col: small[col] for col in ADOPTION} == dict.fromkeys(ADOPTION)
        assert small["forecast"] == "insufficient_data"
        assert (
            small["planned_ratio"] is not None and small["seats"] == 20
        )  # the plan and the catalog say nothing about people
        # Before go-live the status stays not_started, its figures suppressed all the same.
        assert (later["status"], later["status_reason"]) == ("not_started", "before_go_live")
        assert (later["adoption_ratio"], later["coverage"], later["active_target"]) == (None, None, None)
        # The large department keeps every figure.
        assert (large["status"], large["status_reason"]) == ("on_track", None)
        assert (large["adoption_ratio"], large["coverage"], large["active_target"]) == (1.0, 1.0, 10)
        assert large["trend"] is not None and large["gap"] is not None
        assert (large["forecast"], large["at_risk"]) == ("reached", False)
        # The daily series never shows the small group's ratio, coverage or count; it does show the large one's.
        rows, ratios, coverages, actives = shown_days(store, "legal-lex")
        assert rows > DAYS and (ratios, coverages, actives) == (0, 0, 0)
        rows, ratios, coverages, actives = shown_days(store, "sales-teams")
        assert (ratios, coverages, actives) == (DAYS, rows, 5 * rows)  # days before any telemetry: coverage 0, no ratio
    finally:
        store.close()


def test_the_refresh_k_decides_what_is_small(fleet: tuple[Store, Catalog]) -> None:
    """With k = 3 four people are enough; back to the default k = 5 they are hidden again, in the series too."""
    store, catalog = fleet
    try:
        refresh(store.con, catalog, AS_OF, k=3)
        small = current(store)["legal-lex"]
        assert (small["status"], small["adoption_ratio"], small["active_target"]) == ("on_track", 1.0, 4)
        assert shown_days(store, "legal-lex")[1] == DAYS
        refresh(store.con, catalog, AS_OF)
        small = current(store)["legal-lex"]
        assert (small["status_reason"], small["adoption_ratio"], small["active_target"]) == (
            "small_population",
            None,
            None,
        )
        assert shown_days(store, "legal-lex")[1:] == (0, 0, 0)
    finally:
        store.close()


def test_daily_use_per_department_never_lets_a_small_department_be_subtracted(fleet: tuple[Store, Catalog]) -> None:
    """usage_daily: Sales' 10 people on Teams beside the organisation's totals would leave Legal's 4 as the rest."""

    def shown(k: int) -> set[tuple[str, str]]:
        refresh(store.con, catalog, AS_OF, k=k)
        rows = store.con.execute("SELECT DISTINCT application, department FROM usage_daily").fetchall()
        return {(app, dept) for app, dept in rows}

    store, catalog = fleet
    try:
        assert shown(5) == set()  # Legal (4) is left out, so Sales (the smallest shown) goes too
        assert shown(3) == {("teams", "Sales"), ("lex", "Legal")}  # 4 people are enough for k = 3
    finally:
        store.close()


def test_the_exporter_exports_small_population_and_no_adoption_series(fleet: tuple[Store, Catalog]) -> None:
    store, catalog = fleet
    try:
        refresh(store.con, catalog, AS_OF)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(PipelineCollector(store.cursor))
        text = generate_latest(registry).decode()
    finally:
        store.close()
    by_family = {
        family.name: {s.labels["investment"]: s for s in family.samples if "investment" in s.labels}
        for family in text_string_to_metric_families(text)
    }
    reason = by_family["alignmon_investment_status_reason"]["legal-lex"]
    assert (reason.labels["reason"], reason.value) == ("small_population", 1.0)
    for name in (
        "alignmon_investment_adoption_ratio",
        "alignmon_investment_coverage_ratio",
        "alignmon_investment_trend_ratio_per_day",
        "alignmon_investment_gap_ratio",
        "alignmon_investment_at_risk",
    ):
        assert "legal-lex" not in by_family[name], name
        assert "sales-teams" in by_family[name], name
    # Nor how many they are, or how many of them use it.
    for name in ("alignmon_investment_target_population", "alignmon_investment_licence_utilisation_ratio"):
        assert "legal-lex" not in by_family[name] and "sales-teams" in by_family[name], name
    active = [s for s in text_string_to_metric_families(text) if s.name == "alignmon_investment_active_users"]
    assert not [s for s in active[0].samples if s.labels["investment"] == "legal-lex"]
