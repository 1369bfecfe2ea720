"""The figures do not depend on the time granularity: the demo fleet at `exact` and at `day`, in two real DuckDB
stores, gives every analysts' view value for value."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from base.directory import load_directory
from collectors.event import UsageEvent, window
from collectors.granularity import Granularity
from collectors.policy import PrivacyPolicy
from collectors.simulate import Organisation
from pipeline.batch import Record, decode
from pipeline.catalog import load_catalog
from pipeline.refresh import refresh, sync_catalog
from pipeline.schema import ANALYST_VIEWS
from pipeline.store import Store

KEY = b"granularity-figures-key"
TZ = ZoneInfo("Europe/Amsterdam")
AS_OF = date(2026, 11, 6)  # the 35 days up to it hold the end of summer time (Sunday 2026-10-25, 25 hours)
DAYS = 35
PRODUCED = datetime(2026, 11, 7, tzinfo=UTC)  # when Kafka got the events: fixed, not the test's clock
NIGHT = time(22, 30)


def sent_on(org: Organisation, day: date) -> Iterator[dict[str, Any]]:
    """What the devices send for a day: the fleet's spans, plus night spans of 5 hours from 22:30 across midnight
    (the fleet works weekdays only, so Saturday night crosses into the 25-hour Sunday)."""
    yield from org.dicts_for_day(day)
    yesterday = [e for e in org.dicts_for_day(day - timedelta(days=1)) if e["kind"] == "focus"]
    for event in yesterday[::40]:
        night = datetime.combine(day, NIGHT, tzinfo=TZ).isoformat()
        yield {**event, "event_id": event["event_id"] + "-night", "start": night, "duration_s": 5 * 3600.0}


def build_store(path: Path, granularity: Granularity, sent: list[list[UsageEvent]], catalog_dir: Path) -> Store:
    """A pipeline store fed each day's events through the gateway's policy at `granularity`, then refreshed."""
    directory = load_directory(catalog_dir / "directory.csv", KEY)
    policy = PrivacyPolicy(KEY, departments=dict(directory.members), granularity=granularity, timezone=TZ)
    store = Store(path, timezone=TZ.key)
    offset, produced_ms = 0, int(PRODUCED.timestamp() * 1000)
    for events in sent:
        payloads = [clean.to_json_bytes() for event in events for clean in policy.apply(event)]
        records = [Record("t", 0, offset + n, produced_ms, p) for n, p in enumerate(payloads)]
        store.write(decode(records, ingested_at=PRODUCED))
        offset += len(payloads)
    catalog = load_catalog(catalog_dir / "catalog", directory)
    sync_catalog(store.con, catalog)
    refresh(store.con, catalog, AS_OF)
    return store


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Store]]:
    tmp = tmp_path_factory.mktemp("granularity")
    org = Organisation.build(11, 0.2, AS_OF, TZ.key)
    (tmp / "catalog").mkdir()
    org.write_catalog(tmp / "catalog" / "catalog.yaml")
    org.write_directory(tmp / "directory.csv")
    bounds = window(PRODUCED)
    sent = [[UsageEvent.model_validate(e, context=bounds) for e in sent_on(org, d)] for d in org.backfill_days(DAYS)]
    built = {g: build_store(tmp / f"{g}.duckdb", g, sent, tmp) for g in ("exact", "day")}
    yield built
    for store in built.values():
        store.con.close()


def test_every_analysts_view_is_the_same_at_exact_and_day(stores: dict[str, Store]) -> None:
    exact, day = stores["exact"].con, stores["day"].con
    # The day store really is coarser: more events (the night spans split), and no start but a local midnight.
    count = "SELECT count(*) FROM events"
    assert day.execute(count).fetchone()[0] > exact.execute(count).fetchone()[0]  # type: ignore[index]
    local = "SELECT count(*) FROM events WHERE timezone($tz, start)::TIME <> TIME '00:00:00'"
    assert day.execute(local, {"tz": TZ.key}).fetchone() == (0,)
    assert exact.execute(local, {"tz": TZ.key}).fetchone() != (0,)
    dst_sunday = "SELECT sum(focus_s) FROM usage_user_daily WHERE day = DATE '2026-10-25'"
    assert exact.execute(dst_sunday).fetchone() == day.execute(dst_sunday).fetchone() != (None,)
    for view in ANALYST_VIEWS:
        query = f"SELECT * FROM {view} ORDER BY ALL"
        rows = exact.execute(query).fetchall()
        assert rows == day.execute(query).fetchall(), view
        assert rows or view == "rejected_events_summary", f"{view} is empty: the comparison shows nothing"
