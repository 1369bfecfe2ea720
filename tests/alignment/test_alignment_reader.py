"""The DuckDB edge on a small hand-counted database: usage facts, displacement rows, past as-of days."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from alignment.displacement import displacement
from alignment.reader import read_facts, strategy_from_catalog
from base.directory import parse_directory
from base.errors import AlignmonError
from base.pseudonym import pseudonymise
from pipeline.batch import Record, decode
from pipeline.catalog import load_catalog
from pipeline.refresh import refresh, sync_catalog
from pipeline.store import Store

KEY = b"test-key"
AS_OF = date(2026, 11, 20)  # a Friday; its week starts on Monday 2026-11-16
CATALOG = """
applications:
  - {id: teams, name: Teams, capability: chat, replaces: skype, match: {names: ["teams.exe"]}}
  - {id: skype, name: Skype, capability: chat, match: {names: ["lync.exe"]}}
objectives:
  - id: work
    name: Work
    initiatives:
      - id: comms
        name: Comms
        domain: it_infrastructure
        perspective: service_level
        depends_on: [base]
        investments:
          - id: teams-e3
            applications: [teams]
            seats: 10
            annual_cost: 1000
            currency: EUR
            owner: {name: Owner, email: owner@example.org}
            go_live: 2026-09-01
            target_ratio: 0.8
            target_date: 2027-03-01
            target_departments: [Sales]
      - {id: base, name: Base, domain: it_strategy, perspective: technology_transformation}
"""


def focus(n: int, who: str, app: str, day: date, minutes: float) -> bytes:
    start = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
    return json.dumps(
        {"event_id": f"e{n}", "kind": "focus", "device_id": f"d-{who}", "user": pseudonymise(who, KEY), "app": app,
         "start": start.isoformat(), "duration_s": minutes * 60, "source": "test"}
    ).encode()  # fmt: skip


@pytest.fixture
def database(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    rows = ["user,department"] + [f"sales{i},Sales" for i in range(6)] + [f"sup{i},Support" for i in range(5)]
    rows += ["legal0,Legal", "legal1,Legal"]
    catalog = load_catalog(tmp_path / "catalog.yaml", parse_directory("\n".join(rows), KEY))
    events = [focus(i, f"sales{i}", "teams.exe", AS_OF, 10) for i in range(5)]
    events.append(focus(10, "sales5", "teams.exe", AS_OF, 3))  # focus, but not an active day
    events.append(focus(11, "sales0", "teams.exe", AS_OF - timedelta(days=1), 10))
    events += [focus(20 + i, f"sup{i}", "lync.exe", AS_OF, 20) for i in range(5)]
    # One uncatalogued tool reported as a full Windows path and as a bare name: one application key.
    events += [focus(30, "legal0", r"C:\Tools\Foo.exe", AS_OF, 6), focus(31, "legal1", "foo", AS_OF, 6)]
    store = Store(tmp_path / "db.duckdb")
    produced = int(datetime(2026, 11, 21, tzinfo=UTC).timestamp() * 1000)
    store.write(decode([Record("t", 0, n, produced, e) for n, e in enumerate(events)]))
    sync_catalog(store.con, catalog)
    refresh(store.con, catalog, AS_OF)
    store.close()
    return tmp_path / "db.duckdb", tmp_path / "catalog.yaml"


def test_usage_facts_are_hand_counted(database: tuple[Path, Path]) -> None:
    path, catalog_path = database
    strategy = strategy_from_catalog(load_catalog(catalog_path))
    assert strategy.initiatives["comms"].depends_on == ("base",)
    con = duckdb.connect(str(path), read_only=True)
    facts = read_facts(con, strategy)
    con.close()
    assert (facts.as_of, facts.k) == (AS_OF, 5)
    u = facts.usage
    assert u.focus_s == {"teams": (50 + 3 + 10) * 60, "skype": 100 * 60, "uncatalogued:foo": 12 * 60}
    assert {app: len(users) for app, users in u.active_users.items()} == {"teams": 5, "skype": 5, "uncatalogued:foo": 2}
    assert u.active_user_days["teams"] == 6
    assert u.active_focus_s["teams"] == 60 * 60
    assert u.weekly_active["teams"] == (0, 0, 0, 0, 0, 5)
    assert u.first_day == AS_OF - timedelta(days=1)
    assert facts.department_sizes == {"Sales": 6, "Support": 5, "Legal": 2}
    assert {(a, d) for a, d in u.active_by_department} == {("teams", "Sales"), ("skype", "Support"),
                                                          ("uncatalogued:foo", "Legal")}  # fmt: skip
    state = facts.states["teams-e3"]
    assert (state.population, state.mau) == (6, 5)
    shares = {(s.department, s.week): s.share for s in displacement(facts)}
    week = date(2026, 11, 16)
    assert shares == {("(all)", week): pytest.approx(3780 / 9780), ("Sales", week): 1.0, ("Support", week): 0.0}


def test_a_past_day_is_recomputed_and_a_future_one_refused(database: tuple[Path, Path]) -> None:
    path, catalog_path = database
    strategy = strategy_from_catalog(load_catalog(catalog_path))
    con = duckdb.connect(str(path), read_only=True)
    try:
        earlier = read_facts(con, strategy, AS_OF - timedelta(days=1))
        assert earlier.states["teams-e3"].mau == 1  # only sales0 was active by then
        assert earlier.usage.focus_s == {"teams": 600}
        with pytest.raises(AlignmonError, match="computed up to 2026-11-20"):
            read_facts(con, strategy, AS_OF + timedelta(days=1))
    finally:
        con.close()
