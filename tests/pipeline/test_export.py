"""`alignmon export`: the documented analysts' views as Parquet files, and nothing per person."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from pipeline.schema import ANALYST_VIEWS
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
