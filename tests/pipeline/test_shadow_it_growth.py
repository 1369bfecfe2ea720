"""Shadow IT's growth in active users, from the pipeline's own daily history, on hand-counted organisations.

docs/metrics.md, "Shadow IT growth": active users (28-day) as of the as-of day minus as of the day the window before,
only when that earlier day is known (its whole 28-day window held, with telemetry in it) and its count is 0 or k or
more (k-anonymity: today's count is published, so the growth reveals the earlier one).
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from base.directory import parse_directory
from pipeline.batch import Record, decode
from pipeline.catalog import Catalog, load_catalog
from pipeline.refresh import refresh, sync_catalog
from pipeline.retention import Retention, enforce
from pipeline.store import Store
from tests.support.events import KEY, focus

AS_OF = date(2026, 11, 20)  # the 7-day window's earlier day is AS_OF-7, its 28-day window AS_OF-34..AS_OF-7
# Teams sanctioned (and an investment, which the refresh needs), Notion catalogued but not sanctioned; any other
# application seen is uncatalogued.
CATALOG = """
applications:
  - {id: teams, name: Microsoft Teams, capability: chat, match: {names: ["teams.exe"]}}
  - {id: notion, name: Notion, capability: notes, sanctioned: false, match: {names: ["Notion"]}}
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
            seats: 30
            annual_cost: 3000
            currency: EUR
            owner: {name: Head of Workplace, email: workplace@example.org}
            go_live: 2026-09-01
            target_ratio: 0.8
            target_date: 2027-03-01
"""


class Org:
    """A store with CATALOG and a directory of 20 Sales and 5 Support people."""

    def __init__(self, tmp: Path) -> None:
        (tmp / "cat").mkdir()
        (tmp / "cat" / "catalog.yaml").write_text(CATALOG)
        rows = ["user,department"] + [f"sales{i},Sales" for i in range(20)] + [f"sup{i},Support" for i in range(5)]
        self.catalog: Catalog = load_catalog(tmp / "cat", parse_directory("\n".join(rows), KEY))
        self.store = Store(tmp / "t.duckdb")
        sync_catalog(self.store.con, self.catalog)
        self.n = 0
        self.pending: list[bytes] = []

    def use(self, who: str, app: str, day: date, minutes: float = 10) -> None:
        self.n += 1
        self.pending.append(focus(self.n, who, app, day, minutes))

    def telemetry_since(self, first: date, last: date = AS_OF) -> None:
        """sup0 on Teams every day from `first` to `last`: the pipeline holds data of those days."""
        day = first
        while day <= last:
            self.use("sup0", "teams.exe", day)
            day += timedelta(days=1)

    def growth(self) -> list[tuple[str, int, int]]:
        """Store what was used since the last call, refresh as of AS_OF and read shadow_it_growth."""
        if self.pending:
            now = int(time.time() * 1000)
            first = self.n - len(self.pending) + 1
            self.store.write(decode([Record("t", 0, first + i, now, p) for i, p in enumerate(self.pending)]))
            self.pending = []
        refresh(self.store.con, self.catalog, AS_OF)
        return self.store.con.execute("SELECT * FROM shadow_it_growth ORDER BY ALL").fetchall()  # type: ignore[return-value]


@pytest.fixture
def org(tmp_path: Path) -> Org:
    return Org(tmp_path)


def test_growth_is_todays_active_users_minus_those_as_of_the_window_before(org: Org) -> None:
    org.telemetry_since(AS_OF - timedelta(days=40))
    # Sales 0-5 active on Notion ten days ago (in both 28-day windows), Sales 6-8 yesterday (today's only), Sales 9
    # for 4 minutes (not an active day), Sales 10 forty days ago (in neither window).
    for i in range(6):
        org.use(f"sales{i}", "Notion", AS_OF - timedelta(days=10))
    for i in range(6, 9):
        org.use(f"sales{i}", "Notion", AS_OF - timedelta(days=1))
    org.use("sales9", "Notion", AS_OF, minutes=4)
    org.use("sales10", "Notion", AS_OF - timedelta(days=40))
    # 9 active users today, 6 as of seven days ago: +3. The 28-day window's earlier day (AS_OF-28) would need data
    # from AS_OF-55: not known, no row.
    assert org.growth() == [("notion", 7, 3)]
    assert org.store.con.execute("SELECT active_users FROM shadow_it").fetchall() == [(9,)]


def test_a_history_loaded_at_once_is_not_growth_when_its_earlier_window_starts_before_the_data(org: Org) -> None:
    """The demo and a new installation: telemetry from 20 days ago only. Seven days ago the 28-day window held 13 days
    of it, so its count misses users it never saw: no growth is known (Prometheus's delta saw 10 -> 39)."""
    org.telemetry_since(AS_OF - timedelta(days=20))
    for i in range(10):
        org.use(f"sales{i}", "Notion", AS_OF - timedelta(days=15))
    for i in range(10, 14):
        org.use(f"sales{i}", "Notion", AS_OF - timedelta(days=2))
    assert org.growth() == []
    assert org.store.con.execute("SELECT active_users FROM shadow_it").fetchall() == [(14,)]


def test_no_growth_once_retention_deleted_part_of_the_earlier_window(org: Org) -> None:
    org.telemetry_since(AS_OF - timedelta(days=40))
    for i in range(10):
        org.use(f"sales{i}", "Notion", AS_OF - timedelta(days=30))  # in the earlier window only
    for i in range(10, 16):
        org.use(f"sales{i}", "Notion", AS_OF - timedelta(days=1))
    assert org.growth() == [("notion", 7, 6 - 10)]  # shrinking: 6 today, 10 as of seven days ago
    # Rollups kept for 28 days: the earlier window (AS_OF-34..AS_OF-7) lost its first days, and with them Sales 0-9.
    enforce(org.store.con, Retention(raw_days=90, daily_days=28), AS_OF, "UTC")
    assert org.growth() == []


def test_no_growth_when_nothing_was_reported_in_the_earlier_window(org: Org) -> None:
    """Telemetry long ago, then a month without any (collectors down): the earlier count is missing data, not 0."""
    org.telemetry_since(AS_OF - timedelta(days=60), AS_OF - timedelta(days=35))
    org.telemetry_since(AS_OF - timedelta(days=5))
    for i in range(8):
        org.use(f"sales{i}", "Notion", AS_OF - timedelta(days=1))
    # The 7-day window's earlier day (window AS_OF-34..AS_OF-7) has none: no row. The 28-day window's (AS_OF-55..
    # AS_OF-28) has telemetry, and nobody on Notion in it: +8.
    assert org.growth() == [("notion", 28, 8)]


def test_the_earlier_count_is_shown_by_subtraction_only_when_it_is_zero_or_k_or_more(org: Org) -> None:
    org.telemetry_since(AS_OF - timedelta(days=40))
    # Notion: 3 active users as of seven days ago (under k = 5), 8 today: +5 would reveal the 3. Not exported.
    for i in range(3):
        org.use(f"sales{i}", "Notion", AS_OF - timedelta(days=10))
    for i in range(3, 8):
        org.use(f"sales{i}", "Notion", AS_OF - timedelta(days=1))
    # An uncatalogued tool nobody used before: 0 earlier (no person behind it), 6 today, +6.
    for i in range(10, 16):
        org.use(f"sales{i}", "toolbox", AS_OF - timedelta(days=1))
    # Another with 5 earlier (k) and 5 today: +0.
    for i in range(5):
        org.use(f"sales{i + 10}", "scratch", AS_OF - timedelta(days=9))
    assert org.growth() == [("scratch", 7, 0), ("toolbox", 7, 6)]
    shown = dict(org.store.con.execute("SELECT application, active_users FROM shadow_it").fetchall())
    assert shown == {"notion": 8, "toolbox": 6, "scratch": 5}


def test_growth_is_only_of_shadow_it(org: Org) -> None:
    """Teams is sanctioned: however fast it grows, it has no growth row; nor has a tool under k people today."""
    org.telemetry_since(AS_OF - timedelta(days=40))
    for i in range(12):
        org.use(f"sales{i}", "teams.exe", AS_OF - timedelta(days=1))
    for i in range(4):
        org.use(f"sales{i}", "toolbox", AS_OF - timedelta(days=1))
    assert org.growth() == []
