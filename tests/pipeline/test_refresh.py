"""The adoption refresh on a real DuckDB file with a small, hand-counted organisation."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from importlib.resources import files
from pathlib import Path

import pytest

from base.directory import parse_directory
from base.pseudonym import pseudonymise
from base.settings import Settings
from pipeline import sql
from pipeline.batch import Record, decode
from pipeline.catalog import load_catalog
from pipeline.domain import rules
from pipeline.refresh import refresh, sync_catalog
from pipeline.store import Store
from tests.support.events import KEY, focus

AS_OF = date(2026, 11, 20)
CATALOG = """
applications:
  - id: teams
    name: Microsoft Teams
    capability: chat
    match: {names: ["teams.exe", "ms-teams.exe"]}
  - id: notion
    name: Notion
    capability: notes
    sanctioned: false
    match: {names: ["Notion"]}
objectives:
  - id: work
    name: Work
    initiatives:
      - id: comms
        name: Comms
        domain: it_strategy
        perspective: technology_transformation
        investments:
          - id: teams-e3
            applications: [teams]
            seats: 20
            annual_cost: 2000
            currency: EUR
            owner: {name: Head of Workplace, email: workplace@example.org}
            go_live: 2026-09-01
            target_ratio: 0.8
            target_date: 2027-03-01
            curve: linear
            target_departments: [Sales]
"""


def user(name: str) -> str:
    return pseudonymise(name, KEY)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "catalog.yaml").write_text(CATALOG)
    rows = ["user,department"] + [f"sales{i},Sales" for i in range(10)] + [f"sup{i},Support" for i in range(5)]
    directory = parse_directory("\n".join(rows), KEY)
    catalog = load_catalog(tmp_path / "cat", directory)
    s = Store(tmp_path / "t.duckdb")
    sync_catalog(s.con, catalog)
    s.catalog = catalog  # type: ignore[attr-defined]
    return s


def ingest(store: Store, payloads: list[bytes]) -> None:
    now = int(time.time() * 1000)
    store.write(decode([Record("t", 0, i, now, p) for i, p in enumerate(payloads)]))


def test_hand_counted_figures(store: Store) -> None:
    payloads = []
    n = 0
    # Sales 0..3: >= 5 minutes on Teams on AS_OF (active). Sales 4: 4 minutes only (not active).
    for i in range(4):
        payloads.append(focus(n := n + 1, f"sales{i}", "teams.exe", AS_OF, 10))
    payloads.append(focus(n := n + 1, "sales4", "ms-teams.exe", AS_OF, 4))
    # Sales 5: 3 + 3 minutes on two identifiers of the same app, same day: 6 minutes -> active.
    payloads.append(focus(n := n + 1, "sales5", "teams.exe", AS_OF - timedelta(days=3), 3))
    payloads.append(focus(n := n + 1, "sales5", "ms-teams.exe", AS_OF - timedelta(days=3), 3, hour=11))
    # Sales 6: active 27 days ago (inside the 28-day window); Sales 7: 28 days ago (outside).
    payloads.append(focus(n := n + 1, "sales6", "teams.exe", AS_OF - timedelta(days=27), 30))
    payloads.append(focus(n := n + 1, "sales7", "teams.exe", AS_OF - timedelta(days=28), 30))
    # Support 0: active on Teams but outside the target population (counts for licences only).
    payloads.append(focus(n := n + 1, "sup0", "teams.exe", AS_OF, 30))
    ingest(store, payloads)
    refresh(store.con, store.catalog, AS_OF)  # type: ignore[attr-defined]

    row = store.con.execute(
        "SELECT population, mau, active_target, adoption_ratio, coverage, licence_utilisation, wasted_spend, "
        "cost_per_active_user, planned_ratio, status, dau, wau FROM adoption_current"
    ).fetchone()
    population, mau, target, adoption, coverage, util, waste, cpu, planned, status, dau, wau = row
    assert population == 10
    assert target == 6  # sales0-3, sales5, sales6
    assert mau == 7  # + sup0
    assert dau == 5  # sales0-3 and sup0 on AS_OF
    assert wau == 6  # + sales5 three days ago
    assert adoption == pytest.approx(0.6)
    # Any telemetry in the 28-day window: sales0-6 (sales4's 4 minutes count as telemetry), not sales7.
    assert coverage == pytest.approx(0.7)
    assert util == pytest.approx(7 / 20)
    assert waste == pytest.approx((20 - 7) * 2000 / 20)
    assert cpu == pytest.approx(2000 / 7)
    # Linear plan: x = (Nov 20 - Sep 1) / (Mar 1 - Sep 1) = 80 / 181.
    assert planned == pytest.approx(0.8 * 80 / 181)
    assert status == "on_track"


def test_catalog_less_usage_view_is_k_safe(store: Store) -> None:
    # Notion (unsanctioned) used by 5 Sales people: shadow IT; the 4 Support users of Teams stay hidden.
    payloads = [focus(i, f"sales{i}", "Notion", AS_OF, 10) for i in range(5)]
    payloads += [focus(100 + i, f"sup{i}", "teams.exe", AS_OF, 10) for i in range(4)]
    ingest(store, payloads)
    refresh(store.con, store.catalog, AS_OF)  # type: ignore[attr-defined]
    shadow = store.con.execute("SELECT application, active_users FROM shadow_it").fetchall()
    assert shadow == [("notion", 5)]
    depts = store.con.execute("SELECT application, department, users FROM usage_daily ORDER BY ALL").fetchall()
    assert depts == [("notion", "Sales", 5)]


def test_each_investment_uses_its_own_status_thresholds(store: Store, tmp_path: Path) -> None:
    # 6 of 10 Sales people active: adoption 0.6 against a linear plan of 0.8 * 80/181 = 0.354 -> on_track.
    # The same data with target 0.8 reached by go_live + 1 day (planned 0.8) and low_days 1 -> low; with a
    # tolerance of 0.3 (0.6 >= 0.8 * 0.7) -> on_track again.
    payloads = [focus(i, f"sales{i}", "teams.exe", AS_OF, 10) for i in range(6)]
    payloads += [focus(50 + i, f"sup{i}", "teams.exe", AS_OF, 10) for i in range(5)]
    ingest(store, payloads)

    def status_with(extra: str) -> str:
        text = CATALOG.replace("target_date: 2027-03-01", "target_date: 2026-09-02").replace(
            "curve: linear", "curve: linear\n" + extra
        )
        (tmp_path / "cat" / "catalog.yaml").write_text(text)
        directory = store.catalog.directory  # type: ignore[attr-defined]
        catalog = load_catalog(tmp_path / "cat", directory)
        sync_catalog(store.con, catalog)
        refresh(store.con, catalog, AS_OF)
        return str(store.con.execute("SELECT status FROM adoption_current").fetchone()[0])  # type: ignore[index]

    assert status_with("            low_days: 1") == "low"
    assert status_with("            low_days: 1\n            tolerance: 0.3") == "on_track"
    assert status_with("            low_days: 1\n            min_coverage: 0.95") == "unknown"


def test_metrics_constants_have_one_home() -> None:
    """pipeline.domain.rules holds each docs/metrics.md constant; no SQL file, and no layer below, writes its own."""
    # base/ sits below pipeline/ and cannot import the rules: its default must agree with them.
    assert Settings.model_fields["k_anonymity"].default == rules.K_ANONYMITY
    for path in files("pipeline.sql").iterdir():
        if path.name.endswith(".sql"):
            code = "\n".join(line.split("--")[0] for line in path.read_text().splitlines())
            assert not re.search(r"\b(300|27|28)\b|- 7\b|uncatalogued", code), path.name
    # Views get the constants formatted in; what they end up with is the rules' values.
    views = sql.load("views")
    assert f"coalesce(a.min_s, {rules.ACTIVE_SECONDS})" in views
    assert f"exp(-{rules.S_CURVE_STEEPNESS:g} * (x - 0.5))" in views
    assert rules.app_key_sql("m.application", "u.app") in views


def test_the_series_starts_at_go_live_after_a_first_refresh_and_after_a_catalog_edit(store: Store) -> None:
    """Days from go-live to the first telemetry are in the series as no data (null), before and after an edit."""
    ingest(store, [focus(i, f"sales{i}", "teams.exe", AS_OF - timedelta(days=3), 10) for i in range(5)])
    catalog = store.catalog  # type: ignore[attr-defined]
    for _ in range(2):
        refresh(store.con, catalog, AS_OF)
        first, ratio, coverage = store.con.execute(
            "SELECT day, adoption_ratio, coverage FROM adoption_daily ORDER BY day LIMIT 1"
        ).fetchone()  # type: ignore[misc]
        assert (first, ratio, coverage) == (date(2026, 9, 1), None, 0.0)  # the catalog's go_live
        sync_catalog(store.con, catalog)  # as after an edit of the catalog
