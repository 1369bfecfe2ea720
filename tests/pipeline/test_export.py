"""`alignmon export`: the documented analysts' views as Parquet files, and nothing per person."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from pipeline.schema import ANALYST_VIEWS, PUBLISHED
from pipeline.snapshot import publish
from pipeline.store import Store
from tests.pipeline.test_subject import _fleet


def test_export_writes_only_the_analyst_views(alignmon: Any, tmp_path: Path) -> None:
    db, _catalog = _fleet(tmp_path)
    out = tmp_path / "out"
    result = alignmon.run(["export", str(out), "--database", str(db)], {})
    assert result.returncode == 0, result.stderr
    assert sorted(p.stem for p in out.iterdir()) == sorted(ANALYST_VIEWS)  # no events, rollups or directory
    store = Store(db)
    try:
        for view in ANALYST_VIEWS:
            table = pq.read_table(out / f"{view}.parquet")
            assert table.num_rows == store.con.execute(f"SELECT count(*) FROM {view}").fetchone()[0], view  # type: ignore[index]
            assert not {"user", "device_id", "title"} & set(table.column_names), view
    finally:
        store.close()
    assert pq.read_table(out / "adoption_current.parquet").num_rows == 1  # the fleet's one investment


def test_the_pipelines_file_is_its_own_and_the_snapshot_is_not_world_readable(tmp_path: Path) -> None:
    db, _catalog = _fleet(tmp_path)  # created, written and closed by the Store
    assert db.stat().st_mode & 0o777 == 0o600
    store = Store(db)
    try:
        snapshot = publish(store.con, tmp_path / "snap" / "alignmon-snapshot.duckdb", PUBLISHED)
    finally:
        store.close()
    assert snapshot.stat().st_mode & 0o777 == 0o640  # owner and the folder's group (analysts), nobody else
