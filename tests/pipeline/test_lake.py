"""The lake: closed days written once as Parquet (zstd, Hive-partitioned by day), per audience, on a local folder
and on a real S3-compatible server (s3proxy from the local stack); read back by pyarrow and by DuckDB."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from pyarrow.fs import LocalFileSystem

from base.errors import AlignmonError
from collectors.simulate import Organisation
from pipeline.batch import Record, decode
from pipeline.catalog import Catalog
from pipeline.lake.location import Lake
from pipeline.lake.publisher import STATE, Cycle, closed_until, offload, publish, retain
from pipeline.lake.rebuild import manifests, rebuild, superseded
from pipeline.refresh import refresh, sync_catalog
from pipeline.schema import ANALYST_VIEWS
from pipeline.store import Store
from pipeline.subject import access, erase
from tests.support.fleet import day_records, stored_fleet

pytestmark = pytest.mark.integration

KEY = b"lake-test-key"
AS_OF = date(2026, 11, 20)
TZ = "UTC"
DAYS = 30


@pytest.fixture(params=["folder", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    if request.param == "folder":
        return Lake.open(str(tmp_path / "lake"))
    stack = request.getfixturevalue("stack")
    c = stack.config
    return Lake.open(
        f"s3://{c.s3_bucket}/{uuid.uuid4().hex[:8]}",
        endpoint=stack.s3_endpoint,
        access_key=c.s3_access_key,
        secret_key=c.s3_secret_key,
    )


Published = tuple[Store, Cycle, Catalog]  # the store (left open), the first cycle, the catalog


@pytest.fixture
def published(lake: Lake, tmp_path: Path) -> Iterator[Published]:
    """A simulated organisation's DAYS days stored the pipeline's way and its closed days written to `lake` once."""
    store, catalog = stored_fleet(tmp_path, Organisation.build(7, 0.2, AS_OF), DAYS, KEY)
    try:
        yield store, publish(store.con, lake, AS_OF, TZ, close_after_days=2), catalog
    finally:
        store.close()


def _dataset(lake: Lake, prefix: str) -> ds.Dataset:
    files = [lake.path(f) for f in lake.files(prefix) if f.endswith(".parquet")]
    return ds.dataset(files, filesystem=lake.filesystem, format="parquet", partitioning="hive",
                      partition_base_dir=lake.path(prefix))  # fmt: skip


def _snapshot(lake: Lake) -> dict[str, bytes]:
    return {f: lake.get(f) or b"" for f in lake.files("")}


def test_closed_days_are_written_once_per_audience_and_read_back(lake: Lake, published: Published) -> None:
    store, cycle, _ = published
    first = store.con.execute("SELECT min(day) FROM usage_user_daily").fetchone()[0]  # type: ignore[index]
    last = closed_until(AS_OF, 2)
    assert cycle.written == tuple(first + timedelta(days=n) for n in range((last - first).days + 1))
    assert last == AS_OF - timedelta(days=3)  # today and the two days before it stay open
    manifests = [f for f in lake.files("_manifests")]
    assert len(manifests) == len(cycle.written)
    doc = json.loads(lake.get(manifests[-1]) or b"{}")
    assert doc["schema"] == 1 and doc["day"] == str(last) and doc["replay_from"]

    # Another engine reads what the writer wrote: pyarrow's datasets, and DuckDB over the same files.
    con = duckdb.connect()
    con.register("lake_adoption", _dataset(lake, "aggregates/adoption_daily").to_table())
    con.register("lake_rollups", _dataset(lake, "private/usage_user_daily").to_table())
    con.register("lake_events", _dataset(lake, "private/events").to_table())
    store_daily = store.con.execute(
        "SELECT day, investment, mau, adoption_ratio FROM adoption_daily WHERE day BETWEEN ? AND ? ORDER BY ALL",
        [first, last],
    ).fetchall()
    lake_daily = con.execute(
        "SELECT day::DATE, investment, mau, adoption_ratio FROM lake_adoption ORDER BY ALL"
    ).fetchall()
    assert lake_daily == store_daily and len(lake_daily) > 50
    for table, query in (
        ("lake_rollups", "SELECT count(*), sum(focus_s) FROM usage_user_daily WHERE day <= $last"),
        ("lake_events", "SELECT count(*), sum(duration_s) FROM events WHERE start::DATE <= $last"),
    ):
        expected = store.con.execute(query, {"last": last}).fetchone()
        got = con.execute(
            f"SELECT count(*), sum({'focus_s' if 'rollups' in table else 'duration_s'}) FROM {table}"
        ).fetchone()
        assert got == pytest.approx(expected), table
    if isinstance(lake.filesystem, LocalFileSystem):  # on S3 DuckDB reads through pyarrow (no httpfs here)
        direct = duckdb.execute(
            f"SELECT count(*) FROM read_parquet('{lake.root}/private/events/*/*.parquet', hive_partitioning=true)"
        ).fetchall()
        assert direct == store.con.execute("SELECT count(*) FROM events WHERE start::DATE <= ?", [last]).fetchall()

    # The analysts' prefix holds no pseudonym; the per-person ones are apart from it.
    aggregates = con.execute("SELECT * FROM lake_adoption").fetchall()
    assert not re.search(r"\b[ud]_[0-9a-f]{32}\b", str(aggregates))
    assert all(f.startswith(("aggregates/", "private/", "_manifests/")) for f in lake.files(""))

    # A re-run writes nothing and duplicates nothing.
    before = _snapshot(lake)
    assert publish(store.con, lake, AS_OF, TZ, close_after_days=2).written == ()
    assert _snapshot(lake) == before


def test_a_late_event_for_a_closed_day_lands_once_in_an_extra_file(lake: Lake, published: Published) -> None:
    store, _, catalog = published
    closed = AS_OF - timedelta(days=10)
    # Six people of one department used a new tool that day; their events arrive after the day was written.
    who = [r[0] for r in store.con.execute(
        'SELECT "user" FROM usage_user_daily WHERE day = ? AND department = ? GROUP BY ALL ORDER BY ALL LIMIT 6',
        [closed, "Engineering"]).fetchall()]  # fmt: skip
    assert len(who) == 6
    received = int(datetime.now(UTC).timestamp() * 1000)
    records = [
        Record("t", 0, 10_000_000 + n, received, json.dumps(
            {"event_id": f"late-{n + 1}", "kind": "focus", "device_id": f"d_{n:032d}", "user": user, "app": "late.exe",
             "start": datetime.combine(closed, datetime.min.time(), tzinfo=UTC).replace(hour=10).isoformat(),
             "duration_s": 600.0, "source": "test", "schema_version": 1}).encode())
        for n, user in enumerate(who)
    ]  # fmt: skip
    store.write(decode(records))
    refresh(store.con, catalog, AS_OF)  # the pipeline refreshes before each lake cycle
    cycle = publish(store.con, lake, AS_OF, TZ, close_after_days=2)
    assert cycle.amended == (closed,) and cycle.written == () and cycle.refreshed > 0
    # The late day's aggregates are the refreshed figures: the new tool's row is there.
    usage = _dataset(lake, "aggregates/usage_daily").to_table().to_pylist()
    assert [(r["users"], r["focus_minutes"]) for r in usage
            if str(r["day"]) == str(closed) and r["application"] == "uncatalogued:late.exe"] == [(6, 60.0)]  # fmt: skip
    files = lake.files(f"private/events/day={closed}")
    assert len(files) == 2 and any("/late-" in f for f in files)
    events = _dataset(lake, "private/events").to_table()
    assert events.filter(ds.field("event_id") == "late-1").num_rows == 1
    rollups = _dataset(lake, "private/usage_user_daily").to_table().to_pylist()
    assert any(r["app"] == "late.exe" and r["focus_s"] == 600.0 for r in rollups)
    manifest = json.loads(lake.get(f"_manifests/day={closed}.json") or b"{}")
    stored = store.con.execute("SELECT count(*) FROM events WHERE start::DATE = ?", [closed]).fetchone()
    assert (manifest["files"]["private/events"]["rows"],) == stored  # the day's events, counted once
    # The same event replayed (a resend, a Kafka redelivery): dropped by the pipeline, nothing new in the lake.
    store.write(decode([records[0]._replace(offset=10_000_100)]))
    before = _snapshot(lake)
    assert publish(store.con, lake, AS_OF, TZ, close_after_days=2).amended == ()
    assert _snapshot(lake) == before


def test_a_lost_pipeline_file_is_rebuilt_from_the_lake_and_kafka(lake: Lake, tmp_path: Path) -> None:
    """60 days stored and the closed ones in the lake; the file is lost; a new one from the lake plus Kafka's records
    from the manifest's replay position gives every analysts' view value for value."""
    org = Organisation.build(7, 0.2, AS_OF)
    store, catalog = stored_fleet(tmp_path, org, 60, KEY, name="lost.duckdb")
    publish(store.con, lake, AS_OF, TZ, close_after_days=2)
    before = {view: store.con.execute(f"SELECT * FROM {view} ORDER BY ALL").fetchall() for view in ANALYST_VIEWS}
    store.close()
    (tmp_path / "lost.duckdb").unlink()

    rebuilt = Store(tmp_path / "rebuilt.duckdb")
    try:
        assert rebuild(rebuilt.con, lake) == 60 - 3
        resume = rebuilt.con.execute("SELECT next_offset FROM kafka_offsets WHERE topic = 't'").fetchall()
        records = [r for batch in day_records(org, 60, KEY) for r in batch]
        assert resume and 0 < resume[0][0] < len(records)  # Kafka is read again only from where the lake ends
        # Kafka redelivers from that position: records of closed days among them are dropped as duplicates.
        replay = [r for r in records if r.offset >= resume[0][0]]
        rebuilt.write(decode(replay))
        sync_catalog(rebuilt.con, catalog)
        refresh(rebuilt.con, catalog, AS_OF)
        after = {view: rebuilt.con.execute(f"SELECT * FROM {view} ORDER BY ALL").fetchall() for view in ANALYST_VIEWS}
        for view in ANALYST_VIEWS:
            assert after[view] == before[view], view
        assert rebuilt.con.execute("SELECT count(*) FROM events").fetchone() == (len(records),)
    finally:
        rebuilt.close()


def test_a_lake_written_by_a_newer_alignmon_is_refused(tmp_path: Path) -> None:
    lake = Lake.open(str(tmp_path / "lake"))
    lake.put("_manifests/day=2026-11-01.json", json.dumps({"schema": 99, "day": "2026-11-01"}).encode())
    with pytest.raises(AlignmonError, match="written by a newer alignmon"):
        manifests(lake)


def test_retention_deletes_the_lakes_per_person_days_and_keeps_the_aggregates(lake: Lake, published: Published) -> None:
    raw_from, daily_from = AS_OF - timedelta(days=9), AS_OF - timedelta(days=19)
    aggregates = lake.files("aggregates")

    def days(prefix: str) -> set[date]:
        return {date.fromisoformat(f.split("/")[2].removeprefix("day=")) for f in lake.files(prefix)}

    assert min(days("private/events")) < raw_from and min(days("private/usage_user_daily")) < daily_from
    assert retain(lake, raw_from, daily_from) > 0
    assert days("private/events") and min(days("private/events")) >= raw_from
    assert days("private/usage_user_daily") and min(days("private/usage_user_daily")) >= daily_from
    assert lake.files("aggregates") == aggregates  # the k-safe history stays
    assert retain(lake, raw_from, daily_from) == 0  # nothing left to delete


def test_a_file_that_did_not_write_the_lake_never_overwrites_it(lake: Lake, published: Published) -> None:
    """A pipeline file that has no record of the lake's days (a copy, a restore, a file started without the lake)
    refuses to write them again: its partial history would replace the lake's."""
    store, _, _ = published
    before = _snapshot(lake)
    store.con.execute("DELETE FROM lake_days")  # as if another file
    with pytest.raises(AlignmonError, match=r"already holds .* which this pipeline file never wrote"):
        publish(store.con, lake, AS_OF, TZ, close_after_days=2)
    assert _snapshot(lake) == before


def test_a_folder_write_leaves_nothing_a_reader_would_open(tmp_path: Path) -> None:
    lake = Lake.open(str(tmp_path / "lake"))
    lake.put_parquet("aggregates/t/day=2026-11-20/part-0.parquet", pa.table({"x": [1, 2]}))
    # What a crash between write and rename would leave: a dot-file, which readers skip.
    (tmp_path / "lake/aggregates/t/day=2026-11-20/.part-1.parquet.0123.tmp").write_bytes(b"half a file")
    table = ds.dataset(str(tmp_path / "lake/aggregates/t"), format="parquet", partitioning="hive").to_table()
    assert table.column("x").to_pylist() == [1, 2]
    assert lake.files("aggregates") == ["aggregates/t/day=2026-11-20/part-0.parquet"]


def test_erasure_reaches_the_lakes_per_person_objects_and_nothing_else(
    lake: Lake, published: Published, tmp_path: Path
) -> None:
    """`alignmon privacy erase` (pipeline.subject.erase) removes the person from the lake's private prefixes too:
    what a reader or a rebuild finds there no longer holds them; everyone else's rows, the aggregates and the days'
    publication times stay."""
    store, _, _ = published
    person = store.con.execute(
        'SELECT "user" FROM usage_user_daily GROUP BY ALL ORDER BY count(*) DESC, "user" LIMIT 1'
    ).fetchone()[0]  # type: ignore[index]
    before = {p: _dataset(lake, p).to_table() for p in ("private/events", "private/usage_user_daily")}
    theirs = {p: sum(1 for u in t.column("user").to_pylist() if u == person) for p, t in before.items()}
    assert all(theirs.values())
    aggregates = {f: lake.get(f) for f in lake.files("aggregates")}
    times = {m["day"]: m["published_at"] for m in manifests(lake)}
    other_file = duckdb.connect()  # another pipeline's file that wrote the same days (a standby's, a copy)
    other_file.execute(STATE)
    other_file.executemany("INSERT INTO lake_days VALUES (?, ?, ?)", store.con.execute("FROM lake_days").fetchall())
    assert not superseded(other_file, lake)

    counts = erase(store.con, person, "dpo", lake)

    assert counts["lake"] == {
        "events": theirs["private/events"],
        "usage_user_daily": theirs["private/usage_user_daily"],
    }
    for prefix, table in before.items():
        after = _dataset(lake, prefix).to_table()
        assert person not in after.column("user").to_pylist()
        assert after.num_rows == table.num_rows - theirs[prefix]  # nobody else's rows went
    assert {f: lake.get(f) for f in lake.files("aggregates")} == aggregates
    days = manifests(lake)
    changed = {m["day"] for m in days if m["published_at"] != times[m["day"]]}
    their_days = {
        str(d) for t in before.values() for u, d in zip(t["user"].to_pylist(), t["day"].to_pylist(), strict=True)
        if u == person
    }  # fmt: skip
    assert changed == their_days  # only the days the erasure rewrote have a new version
    assert not superseded(store.con, lake)  # the erasing file wrote the new versions
    assert superseded(other_file, lake)  # any other is behind: rebuilt from the lake, never resumed with the person
    assert (
        sum(m["files"]["private/events"]["rows"] for m in days)
        == before["private/events"].num_rows - theirs["private/events"]
    )
    rebuilt = Store(tmp_path / "rebuilt.duckdb")
    try:
        rebuild(rebuilt.con, lake)
        for table in ("events", "usage_user_daily", "device_daily"):
            assert rebuilt.con.execute(f'SELECT count(*) FROM {table} WHERE "user" = ?', [person]).fetchone() == (0,)
        audit = rebuilt.con.execute("SELECT action, subject, detail FROM privacy_audit").fetchall()
        assert [(a, s) for a, s, _ in audit] == [("erase", person)]  # the audit comes back from the lake
        # Kafka read again after the rebuild (or a late resend) delivers the person's older events: they stay out.
        org = Organisation.build(7, 0.2, AS_OF)  # the fixture's organisation: the same records Kafka holds
        again = [r for batch in day_records(org, DAYS, KEY) for r in batch if person.encode() in (r.value or b"")]
        assert again
        assert rebuilt.write(decode(again)) == 0
    finally:
        rebuilt.close()


def test_an_erasure_the_lake_cannot_take_leaves_the_pipelines_file_as_it_was(published: Published) -> None:
    store, _, _ = published
    person = store.con.execute('SELECT any_value("user") FROM usage_user_daily').fetchone()[0]  # type: ignore[index]
    held = store.con.execute('SELECT count(*) FROM events WHERE "user" = ?', [person]).fetchone()
    gone = Lake.open("s3://alignmon/x", endpoint="http://127.0.0.1:9", access_key="a", secret_key="b")
    with pytest.raises(AlignmonError, match="the lake cannot be written, nothing erased in the pipeline's file"):
        erase(store.con, person, "dpo", gone)
    assert store.con.execute('SELECT count(*) FROM events WHERE "user" = ?', [person]).fetchone() == held


def test_the_file_keeps_the_hot_days_and_access_still_finds_every_event(lake: Lake, published: Published) -> None:
    """With a lake the pipeline's file keeps only the hot days of raw events (publisher.offload, after each cycle);
    a person's older events are in the lake, and `alignmon privacy subject` (pipeline.subject.access) answers with
    both, each event once."""
    store, cycle, _ = published
    person = store.con.execute(
        'SELECT "user" FROM events GROUP BY ALL ORDER BY count(*) DESC, "user" LIMIT 1'
    ).fetchone()[0]  # type: ignore[index]
    key = ("device_id", "event_id", "start", "app", "kind")
    everything = sorted(tuple(r[k] for k in key) for r in access(store.con, person, "dpo")["events"])
    hot_from = AS_OF - timedelta(days=5)
    unwritten = cycle.written[1]  # as if this old day had not reached the lake yet: its events must stay
    store.con.execute("DELETE FROM lake_days WHERE day = ?", [unwritten])
    day = f"timezone('{TZ}', start)::DATE"

    offloaded = offload(store.con, hot_from, TZ)

    older = store.con.execute(f"SELECT DISTINCT {day} FROM events WHERE {day} < ?", [hot_from]).fetchall()
    assert older == [(unwritten,)]
    assert offloaded > 0
    assert cycle.written[-1] >= hot_from  # the hot days include closed ones: only the lake's days before it went
    found = access(store.con, person, "dpo", lake)["events"]
    assert sorted(tuple(r[k] for k in key) for r in found) == everything
    assert len(found) > len(access(store.con, person, "dpo")["events"])  # the file alone no longer has them all


@pytest.mark.usefixtures("published")  # the lake it wrote
def test_a_rebuilt_file_holds_the_hot_days_and_still_knows_every_event(lake: Lake, tmp_path: Path) -> None:
    """A rebuild loads raw events of the hot days only (the lake keeps the rest), yet its dedup memory and running
    totals cover every event in the lake: an older event delivered again is a duplicate, not a new row."""
    hot_from = AS_OF - timedelta(days=6)
    rebuilt = Store(tmp_path / "rebuilt.duckdb")
    try:
        rebuild(rebuilt.con, lake, hot_from)
        first = rebuilt.con.execute(f"SELECT min(timezone('{TZ}', start))::DATE FROM events").fetchone()
        assert first is not None and first[0] >= hot_from
        in_lake = sum(m["files"]["private/events"]["rows"] for m in manifests(lake))
        assert rebuilt.con.execute("SELECT sum(events) FROM ingest_totals").fetchone() == (in_lake,)
        # The devices' days come back for every event in the lake (the collectors' health needs 28 days, not 6).
        devices = rebuilt.con.execute("SELECT sum(events), min(day) FROM device_daily").fetchone()
        assert devices is not None and devices[0] == in_lake and devices[1] < hot_from
        org = Organisation.build(7, 0.2, AS_OF)
        old = day_records(org, DAYS, KEY)[0]  # the first stored day: long out of the hot window
        assert old and rebuilt.write(decode(old)) == 0
    finally:
        rebuilt.close()


def test_erasure_after_retention_and_after_an_interrupted_erasure_leaves_manifests_true(
    lake: Lake, published: Published
) -> None:
    """Retention deletes raw-event days (their manifests forget those objects), and an erasure that was interrupted
    after rewriting an object but before its manifest left that manifest's count too high: the next erasure counts
    every manifest from the objects there, and gives each day it corrects a new version."""
    store, _, _ = published
    retain(lake, raw_from=AS_OF - timedelta(days=10), daily_from=AS_OF - timedelta(days=400))
    gone = [m for m in manifests(lake) if date.fromisoformat(m["day"]) < AS_OF - timedelta(days=10)]
    assert gone and all(m["files"]["private/events"] == {"files": [], "rows": 0} for m in gone)
    rollups = lake.files("private/usage_user_daily")
    tables = {f: pq.read_table(lake.path(f), filesystem=lake.filesystem) for f in rollups}
    # The interrupted erasure of `other`: one rollups object rewritten, its manifest not, on a day `person` (erased
    # next) has no row, so only the recount of every manifest can correct it.
    people = 'SELECT "user" FROM usage_user_daily GROUP BY ALL ORDER BY count(*), "user"'
    person = store.con.execute(people).fetchone()[0]  # type: ignore[index]
    path, table = next((f, t) for f, t in tables.items() if person not in t["user"].to_pylist() and t.num_rows)
    other = table["user"][0].as_py()
    lake.put_parquet(path, table.filter(pc.invert(pc.equal(table["user"], other))))
    day = path.split("/")[2].removeprefix("day=")
    before = {m["day"]: m["published_at"] for m in manifests(lake)}

    erase(store.con, person, "dpo", lake)

    for m in manifests(lake):
        for prefix in ("private/events", "private/usage_user_daily"):
            entry = m["files"].get(prefix)
            if entry:
                rows = sum(pq.read_metadata(lake.path(f), filesystem=lake.filesystem).num_rows for f in entry["files"])
                assert entry["rows"] == rows, (m["day"], prefix)
    assert {m["day"]: m["published_at"] for m in manifests(lake)}[day] != before[day]
    assert not superseded(store.con, lake)  # the erasing file is the lake's


def test_a_writer_does_not_rewrite_a_day_another_pipeline_rewrote(lake: Lake, published: Published) -> None:
    """A day's manifest whose version is not the one this file wrote (another pipeline erased or amended it) is never
    written again from this file: that could bring back what was erased there."""
    store, cycle, _ = published
    day = cycle.written[-1]  # a Tuesday: the organisation works
    manifest = f"_manifests/day={day}.json"
    document = json.loads(lake.get(manifest) or b"{}")
    document["published_at"] = datetime.now(UTC).isoformat()  # what another pipeline's erasure leaves
    lake.put(manifest, json.dumps(document).encode())
    org = Organisation.build(7, 0.2, AS_OF)
    records = day_records(org, DAYS, KEY)[DAYS - 1 - (AS_OF - day).days][:5]
    events = [{**json.loads(r.value or b"{}"), "event_id": f"late-{i}"} for i, r in enumerate(records)]
    late = [Record("t", 0, 10**9 + i, records[i].timestamp, json.dumps(e).encode()) for i, e in enumerate(events)]
    assert late and store.write(decode(late)) == len(late)
    with pytest.raises(AlignmonError, match=f"the lake's {day} was rewritten by another pipeline"):
        publish(store.con, lake, AS_OF, TZ, close_after_days=2)
