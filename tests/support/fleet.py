"""A simulated organisation stored the way the pipeline stores it, for tests that need a real DuckDB file."""

from __future__ import annotations

import json
import time
from pathlib import Path

from base.directory import load_directory
from collectors.simulate import Organisation
from pipeline.batch import Record, decode
from pipeline.catalog import Catalog, load_catalog
from pipeline.refresh import refresh, sync_catalog
from pipeline.store import Store


def day_records(
    org: Organisation, days: int, key: bytes, *, with_department: bool = True, produced_ms: int = 0
) -> list[list[Record]]:
    """The Kafka records of the `days` days ending at the organisation's as-of day, one list a day, as the gateway
    would have sent them (pseudonymised with `key`) to topic "t", partition 0, offsets from 0."""
    produced = produced_ms or int(time.time() * 1000)
    out: list[list[Record]] = []
    offset = 0
    for day in org.backfill_days(days):
        rows = list(org.dicts_for_day(day, pseudonymise_with=key, with_department=with_department))
        out.append([Record("t", 0, offset + i, produced, json.dumps(row).encode()) for i, row in enumerate(rows)])
        offset += len(rows)
    return out


def store_days(
    store: Store, org: Organisation, days: int, key: bytes, *, with_department: bool = True, produced_ms: int = 0
) -> int:
    """Write the `days` days ending at the organisation's as-of day, one batch a day (day_records); returns the
    events written."""
    batches = day_records(org, days, key, with_department=with_department, produced_ms=produced_ms)
    for batch in batches:
        if batch:
            store.write(decode(batch))
    return sum(len(b) for b in batches)


def stored_fleet(
    tmp: Path, org: Organisation, days: int, key: bytes, *, timezone: str = "UTC", name: str = "fleet.duckdb"
) -> tuple[Store, Catalog]:
    """tmp/catalog/catalog.yaml and tmp/directory.csv written, `days` days stored in tmp/`name`, the catalog synced
    and the figures refreshed as of the organisation's as-of day; the store is left open."""
    (tmp / "catalog").mkdir()
    org.write_catalog(tmp / "catalog" / "catalog.yaml")
    org.write_directory(tmp / "directory.csv")
    store = Store(tmp / name, timezone=timezone)
    store_days(store, org, days, key)
    catalog = load_catalog(tmp / "catalog", load_directory(tmp / "directory.csv", key))
    sync_catalog(store.con, catalog)
    refresh(store.con, catalog, org.as_of)
    return store, catalog
