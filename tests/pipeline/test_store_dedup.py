"""The store's dedup key and its horizon, and a stored history no refresh can trip on (issue 11, 1 and 10)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.batch import Record, decode
from pipeline.catalog import load_catalog
from pipeline.refresh import refresh, sync_catalog
from pipeline.store import Store

MS = int(datetime(2026, 11, 20, 12, tzinfo=UTC).timestamp() * 1000)


def event(event_id: str, device: str = "dev-1", start: str = "2026-11-19T09:00:00Z") -> bytes:
    return json.dumps(
        {
            "event_id": event_id,
            "kind": "focus",
            "device_id": device,
            "user": "u1",
            "app": "excel.exe",
            "start": start,
            "duration_s": 60.0,
            "source": "agent",
        }
    ).encode()


def write(store: Store, *values: bytes) -> int:
    return store.write(decode([Record("usage", 0, i, MS, v) for i, v in enumerate(values)]))


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = Store(tmp_path / "d.duckdb")
    yield s
    s.close()


def test_a_resend_with_another_start_in_a_later_batch_is_dropped(store: Store) -> None:
    assert write(store, event("e1", start="2026-11-19T09:00:00Z")) == 1
    # Days later and far from the first start: a time-range probe would not find it.
    assert write(store, event("e1", start="2026-10-01T09:00:00Z")) == 0
    assert store.con.execute("SELECT count(*), min(start) FROM events").fetchone() == (
        1,
        datetime(2026, 11, 19, 9, tzinfo=UTC),
    )
    # The rollup counted it once.
    assert store.con.execute("SELECT sum(focus_s) FROM usage_user_daily").fetchone() == (60.0,)


def test_the_key_is_the_device_and_the_id(store: Store) -> None:
    # One device cannot pre-empt another's (predictable) ids: the same id from two devices is two events.
    assert write(store, event("e1", device="dev-1")) == 1
    assert write(store, event("e1", device="dev-2")) == 1
    assert write(store, event("e1", device="dev-2")) == 0
    batch = decode(
        [Record("usage", 0, 0, MS, event("e2", device="a")), Record("usage", 0, 1, MS, event("e2", device="b"))]
    )
    assert batch.duplicates == 0 and batch.rows.num_rows == 2


def test_keys_older_than_the_horizon_are_forgotten(tmp_path: Path) -> None:
    store = Store(tmp_path / "h.duckdb", dedup_horizon_days=3)
    try:
        write(store, event("old"))
        store.con.execute("UPDATE event_keys SET seen = seen - INTERVAL 4 DAY")
        store._pruned_on = None  # a new day for the store: it prunes on its next write
        write(store, event("new"))
        assert store.con.execute("SELECT count(*) FROM event_keys").fetchone() == (1,)
        # Past the horizon a resend is stored again: the documented limit of the dedup memory.
        assert write(store, event("old")) == 1
    finally:
        store.close()


def test_a_file_from_before_the_dedup_memory_gets_its_keys(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    store = Store(path)
    write(store, event("e1"), event("e2", device="dev-2"))
    store.con.execute("DROP TABLE event_keys")
    store.close()
    store = Store(path)
    try:
        assert store.con.execute("SELECT count(*) FROM event_keys").fetchone() == (2,)
        assert write(store, event("e1", start="2026-11-01T09:00:00Z")) == 0
    finally:
        store.close()


def test_a_bc_day_left_in_the_refresh_state_does_not_stop_the_refresh(tmp_path: Path) -> None:
    """Finding 1: a start in year 1 once made dirty_from a BC date (text in Python) and every refresh failed."""
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "catalog.yaml").write_text(_CATALOG)
    catalog = load_catalog(tmp_path / "cat")
    store = Store(tmp_path / "bc.duckdb")
    try:
        sync_catalog(store.con, catalog)
        write(store, event("e1"))
        store.con.execute("UPDATE refresh_state SET dirty_from = DATE '0001-01-01' - INTERVAL 1 DAY")
        assert isinstance(store.con.execute("SELECT dirty_from::VARCHAR FROM refresh_state").fetchone()[0], str)  # type: ignore[index]
        refresh(store.con, catalog, date(2026, 11, 20))
        assert store.con.execute("SELECT dirty_from FROM refresh_state").fetchone() == (None,)
        assert store.con.execute("SELECT count(*) FROM adoption_series").fetchone()[0] > 0  # type: ignore[index]
    finally:
        store.close()


def test_the_contract_keeps_such_a_start_out_of_the_store(store: Store) -> None:
    batch = decode([Record("usage", 0, 0, MS, event("bc", start="0001-01-01T00:00:00+23:59"))])
    assert batch.rows.num_rows == 0 and "before 2000-01-01" in batch.rejected[0].reason
    store.write(batch)
    assert store.con.execute("SELECT dirty_from FROM refresh_state").fetchone() == (None,)


def test_a_dry_run_writes_and_commits_nothing(store: Store) -> None:
    """Store.accepts tells a bad record from a bad store: it writes a batch, then rolls it back."""
    assert store.accepts(decode([Record("usage", 0, 0, MS, event("e1"))]))
    assert store.con.execute("SELECT count(*) FROM events").fetchone() == (0,)
    assert store.con.execute("SELECT count(*) FROM event_keys").fetchone() == (0,)
    assert store.stored_offsets("usage") == {}
    store.con.execute("DROP TABLE event_keys")  # a broken store: even a known-good batch fails
    assert not store.accepts(decode([Record("usage", 0, 0, MS, event("e1"))]))


_CATALOG = """
applications:
  - id: excel
    name: Excel
    capability: spreadsheets
    match: {names: ["excel.exe"]}
objectives:
  - id: work
    name: Work
    initiatives:
      - id: office
        name: Office
        domain: it_strategy
        perspective: technology_transformation
        investments:
          - id: m365
            applications: [excel]
            seats: 20
            annual_cost: 2000
            currency: EUR
            owner: {name: Head of Workplace, email: workplace@example.org}
            go_live: 2026-09-01
            target_ratio: 0.8
            target_date: 2027-03-01
"""
