"""The collectors' health on a real DuckDB file: the devices' days, silent devices, and the k-safe device counts."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from base.pseudonym import pseudonymise
from base.settings import Settings
from base.sources import SOURCES
from pipeline.batch import Record, decode
from pipeline.figures import fleet
from pipeline.store import Store
from tests.support.events import KEY

AS_OF = date(2026, 11, 20)


def _event(n: int, who: str, device: str, source: str, day: date, hour: int = 10) -> bytes:
    start = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    return json.dumps(
        {
            "event_id": f"e{n}",
            "kind": "focus",
            "device_id": device,
            "user": pseudonymise(who, KEY),
            "app": "teams.exe",
            "start": start.isoformat(),
            "duration_s": 600,
            "source": source,
        }
    ).encode()


def _write(store: Store, events: list[bytes]) -> None:
    produced = int(time.time() * 1000)
    store.write(decode([Record("t", 0, i, produced, e) for i, e in enumerate(events)]))


def _reports(spec: list[tuple[str, str, str, list[int]]]) -> list[bytes]:
    """(person, device, source, days before AS_OF it reported on) -> one event per reported day."""
    out, n = [], 0
    for who, device, source, days_back in spec:
        for back in days_back:
            out.append(_event(n, who, device, source, AS_OF - timedelta(days=back)))
            n += 1
    return out


def _rows(store: Store, sql: str) -> list[tuple[Any, ...]]:
    return store.con.execute(sql).fetchall()


def test_each_batch_adds_its_devices_days_in_the_organisations_time_zone() -> None:
    store = Store(":memory:", timezone="Europe/Amsterdam")
    try:
        late = _event(1, "alice", "d-alice", "agent", AS_OF - timedelta(days=1), hour=23)  # 00:00 in Amsterdam
        _write(
            store, [late, _event(2, "alice", "d-alice", "agent", AS_OF), _event(3, "bob", "d-bob", "osquery", AS_OF)]
        )
        _write(store, [late])  # a resend: dropped as a duplicate, so not counted again
        alice, bob = pseudonymise("alice", KEY), pseudonymise("bob", KEY)
        assert _rows(store, "SELECT * FROM device_daily ORDER BY ALL") == [
            (AS_OF, "d-alice", "agent", alice, 2),
            (AS_OF, "d-bob", "osquery", bob, 1),
        ]
    finally:
        store.close()


def test_a_file_from_before_the_devices_days_gets_them_from_its_events(tmp_path: Path) -> None:
    store = Store(tmp_path / "p.duckdb")
    _write(store, _reports([("alice", "d-a", "agent", [0, 1, 1])]))
    before = _rows(store, "SELECT * FROM device_daily ORDER BY ALL")
    store.con.execute("DELETE FROM device_daily")  # what a file of an earlier version holds
    store.close()
    store = Store(tmp_path / "p.duckdb")
    try:
        assert _rows(store, "SELECT * FROM device_daily ORDER BY ALL") == before
        assert [r[4] for r in before] == [2, 1]  # two events the day before, one on the day
    finally:
        store.close()


def test_silent_devices_reported_in_the_28_day_window_and_not_in_the_last_n_days() -> None:
    store = Store(":memory:")
    try:
        _write(
            store,
            _reports(
                [
                    ("alice", "d-today", "agent", [0, 5]),
                    ("bob", "d-seven", "agent", [7, 9]),  # 7 days without an event: not more than 7
                    ("carol", "d-eight", "agent", [8]),  # 8 days: silent
                    ("dave", "d-27", "osquery", [27]),  # the window's first day: silent
                    ("erin", "d-28", "osquery", [28]),  # before the window: not the collectors' concern any more
                    ("frank", "d-later", "agent", [-1]),  # a day after the as-of day is not seen from it
                ]
            ),
        )
        store.con.execute("INSERT INTO directory VALUES (?, 'Sales')", [pseudonymise("carol", KEY)])
        fleet.update(store.con, AS_OF, silent_days=7)
        assert _rows(
            store, "SELECT device_id, source, last_day, days_silent, silent FROM collector_devices ORDER BY ALL"
        ) == [
            ("d-27", "osquery", AS_OF - timedelta(days=27), 27, True),
            ("d-eight", "agent", AS_OF - timedelta(days=8), 8, True),
            ("d-seven", "agent", AS_OF - timedelta(days=7), 7, False),
            ("d-today", "agent", AS_OF, 0, False),
        ]
        # The privacy role's view names them, with the person and the department to ask.
        assert _rows(store, "SELECT * FROM silent_devices") == [
            (AS_OF, "d-27", "osquery", pseudonymise("dave", KEY), None, AS_OF - timedelta(days=27), 27),
            (AS_OF, "d-eight", "agent", pseudonymise("carol", KEY), "Sales", AS_OF - timedelta(days=8), 8),
        ]
        fleet.update(store.con, AS_OF, silent_days=8)
        assert _rows(store, "SELECT device_id FROM silent_devices") == [("d-27",)]
        with pytest.raises(ValueError, match="1 to 26"):
            fleet.update(store.con, AS_OF, silent_days=27)
    finally:
        store.close()


def test_a_source_is_named_and_a_count_shown_only_over_k_people() -> None:
    store = Store(":memory:")
    try:
        _write(
            store,
            _reports(
                [
                    ("a1", "a1-laptop", "agent", [0]),
                    ("a1", "a1-desktop", "agent", [0]),  # one person, two devices: two devices, one person
                    ("a2", "a2", "agent", [0]),
                    ("a3", "a3", "agent", [0, 1]),
                    ("a4", "a4", "agent", [3]),
                    ("a5", "a5", "agent", [4]),
                    ("a6", "a6", "agent", [5]),
                    ("o1", "o1", "osquery", [0]),  # osquery: 2 people, under k
                    ("o2", "o2", "osquery", [0]),
                    ("h1", "h1", "homegrown", [0]),  # a source alignmon does not know: 3 people
                    ("h2", "h2", "homegrown", [0]),
                    ("h3", "h3", "homegrown", [2]),
                ]
            ),
        )
        fleet.update(store.con, AS_OF)
        found = fleet.counts(store.con, SOURCES)
        # agent today: 4 devices of 3 people, under k = 5: not shown. osquery (2 people) and homegrown (unknown)
        # are `other`: 5 people together, 4 of them today (not shown).
        assert found.reporting == {
            ("agent", "7d"): 7,
            ("agent", "28d"): 7,
            ("other", "7d"): 5,
            ("other", "28d"): 5,
        }
        assert found.silent == {}
        # The fleet: 12 devices of 11 people, 8 today; the 4 not today are 4 people: today's count is left out, as
        # the 28-day count minus it would count them.
        assert (found.fleet_reporting, found.fleet_silent) == ({"7d": 12, "28d": 12}, None)
        # The site names its own collector, but with 3 people it still counts as `other`.
        assert fleet.counts(store.con, (*SOURCES, "homegrown")) == found
        store.con.execute("UPDATE refresh_state SET k = 2")
        found = fleet.counts(store.con, (*SOURCES, "homegrown"))
        # homegrown's 7-day count minus today's would single out h3 (1 person): today's is left out, and so is the
        # fleet's (minus agent's and osquery's today it gives homegrown's).
        assert found.reporting == {
            ("agent", "1d"): 4,
            ("agent", "7d"): 7,
            ("agent", "28d"): 7,
            ("homegrown", "7d"): 3,
            ("homegrown", "28d"): 3,
            ("osquery", "1d"): 2,
            ("osquery", "7d"): 2,
            ("osquery", "28d"): 2,
        }
        assert found.fleet_reporting == {"7d": 12, "28d": 12}
    finally:
        store.close()


def test_silent_devices_are_counted_only_over_k_people() -> None:
    store = Store(":memory:")
    reporting = [(f"r{i}", f"r{i}", "agent", [0]) for i in range(5)]
    silent = [(f"s{i}", f"s{i}", "agent", [10]) for i in range(5)]
    few_silent = [(f"o{i}", f"o{i}", "osquery", [0 if i < 5 else 12]) for i in range(7)]
    try:
        _write(store, _reports([*reporting, *silent, *few_silent]))
        fleet.update(store.con, AS_OF)
        found = fleet.counts(store.con, SOURCES)
        assert found.silent == {"agent": 5}  # osquery's 2 silent devices are 2 people: not shown
        # ... nor by subtraction: osquery's 28-day count minus its 7-day (or today's) count would be those 2, so only
        # its 28-day count is shown. agent's differences each hold 5 people: all its counts are shown.
        assert found.reporting == {
            ("agent", "1d"): 5,
            ("agent", "7d"): 5,
            ("agent", "28d"): 10,
            ("osquery", "28d"): 7,
        }
        # The fleet's silent count minus agent's, or its today's count minus agent's (giving osquery's today, then
        # subtracted from osquery's 28 days), would count them too: only the fleet's 28 days are shown.
        assert (found.fleet_reporting, found.fleet_silent) == ({"28d": 17}, None)
        # With osquery's silent devices 5 people, every count is shown.
        more = [(f"o{i}", f"o{i}", "osquery", [12]) for i in range(7, 10)]
        _write(store, _reports(more))  # event ids restart at e0: new devices, so new keys
        fleet.update(store.con, AS_OF)
        found = fleet.counts(store.con, SOURCES)
        assert found.silent == {"agent": 5, "osquery": 5}
        assert found.reporting[("osquery", "7d")] == found.reporting[("osquery", "1d")] == 5
        assert (found.fleet_reporting, found.fleet_silent) == ({"1d": 10, "7d": 10, "28d": 20}, 10)
    finally:
        store.close()


def test_the_fleet_counts_each_device_once_whatever_its_sources() -> None:
    """Devices running two collectors are one device each in the fleet's counts, never one per source."""
    store = Store(":memory:")
    both = [(i, source) for i in range(5) for source in ("agent", "osquery")]
    agent_only = [(f"a{i}", f"a{i}", "agent", [0 if i < 5 else 10]) for i in range(10)]
    try:
        _write(store, _reports([*((f"b{i}", f"b{i}", source, [0]) for i, source in both), *agent_only]))
        fleet.update(store.con, AS_OF)
        found = fleet.counts(store.con, SOURCES)
        assert found.reporting == {
            ("agent", "1d"): 10,
            ("agent", "7d"): 10,
            ("agent", "28d"): 15,
            ("osquery", "1d"): 5,
            ("osquery", "7d"): 5,
            ("osquery", "28d"): 5,
        }
        assert found.silent == {"agent": 5}
        # 15 devices today in the sources' counts, 10 devices in the fleet.
        assert found.fleet_reporting == {"1d": 10, "7d": 10, "28d": 15}
        assert found.fleet_silent == 5
    finally:
        store.close()
    # A device silent for one of its collectors but reporting through another is not silent in the fleet.
    store = Store(":memory:")
    osquery_stopped = [(f"b{i}", f"b{i}", source, [0 if source == "agent" else 9]) for i, source in both]
    try:
        _write(store, _reports([*osquery_stopped, *agent_only]))
        fleet.update(store.con, AS_OF)
        found = fleet.counts(store.con, SOURCES)
        assert found.silent == {"agent": 5, "osquery": 5}
        assert found.fleet_silent == 5 and found.fleet_reporting == {"1d": 10, "7d": 10, "28d": 15}
    finally:
        store.close()


def test_the_settings_default_is_the_pipelines() -> None:
    assert Settings.model_fields["silent_days"].default == fleet.SILENT_DAYS
