"""The durable spool: FIFO order, commit positions, restart, torn tails and locking, on real files."""

from __future__ import annotations

import os
import stat
import struct
import zlib
from pathlib import Path

import pytest

from collectors.spool import Position, Spool, SpoolError


def drain(spool: Spool, batch: int = 3) -> list[bytes]:
    out: list[bytes] = []
    while (b := spool.peek(batch)) is not None:
        out.extend(b.records)
        spool.commit(b)
    return out


def test_records_come_out_in_append_order_across_batches(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append([b"a", b"b"])
        spool.append([b"c"])
        spool.append([b"", b"e" * 1000])
        assert spool.depth == 5
        assert drain(spool, batch=2) == [b"a", b"b", b"c", b"", b"e" * 1000]
        assert spool.depth == 0
        assert spool.peek() is None


def test_peek_without_commit_returns_the_same_records_again(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append([b"one", b"two", b"three"])
        first = spool.peek(2)
        assert first is not None and first.records == [b"one", b"two"]
        again = spool.peek(2)
        assert again is not None and again.records == [b"one", b"two"]
        spool.commit(again, 1)  # only "one" is safe elsewhere
        rest = spool.peek(10)
        assert rest is not None and rest.records == [b"two", b"three"]


def test_a_stale_batch_cannot_be_committed_twice(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append([b"x", b"y"])
        batch = spool.peek(1)
        assert batch is not None
        spool.commit(batch)
        with pytest.raises(SpoolError, match="stale"):
            spool.commit(batch)
        assert spool.depth == 1


def test_restart_resumes_at_the_committed_position(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([f"r{i}".encode() for i in range(10)])
    batch = spool.peek(4)
    assert batch is not None
    spool.commit(batch)
    spool.peek(3)  # read but not committed: must come back after a restart
    spool.close()

    with Spool(tmp_path) as reopened:
        assert reopened.depth == 6
        assert drain(reopened) == [f"r{i}".encode() for i in range(4, 10)]
    with Spool(tmp_path) as again:
        assert again.depth == 0


def test_segments_roll_and_consumed_ones_are_deleted(tmp_path: Path) -> None:
    with Spool(tmp_path, segment_bytes=100) as spool:
        for i in range(6):
            spool.append([bytes([65 + i]) * 60])  # 68 bytes framed: a segment rolls once it reaches 100
        segments = sorted(p.name for p in tmp_path.glob("*.seg"))
        assert len(segments) == 3  # AB, CD, EF
        batch = spool.peek(4)
        assert batch is not None
        assert batch.records == [b"A" * 60, b"B" * 60, b"C" * 60, b"D" * 60]
        spool.commit(batch)
        # The position is now the end of segment 1 (C, D): segment 0 (A, B) is deleted.
        assert sorted(p.name for p in tmp_path.glob("*.seg")) == segments[1:]
    with Spool(tmp_path, segment_bytes=100) as reopened:
        assert drain(reopened) == [b"E" * 60, b"F" * 60]


def test_a_torn_tail_is_truncated_and_appends_continue_after_it(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append([b"first", b"second"])
    segment = next(tmp_path.glob("*.seg"))
    good_size = segment.stat().st_size
    assert good_size == 2 * 8 + len(b"first") + len(b"second")
    with segment.open("ab") as f:  # a crash mid-append: header promises 100 bytes, only 7 arrived
        f.write(struct.pack(">II", 100, 0) + b"partial")

    with Spool(tmp_path) as spool:
        assert spool.depth == 2
        assert segment.stat().st_size == good_size
        spool.append([b"third"])
        assert drain(spool) == [b"first", b"second", b"third"]


def test_a_tail_record_with_a_bad_crc_is_truncated(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append([b"keep"])
    segment = next(tmp_path.glob("*.seg"))
    with segment.open("ab") as f:  # complete length, but the payload is not what was checksummed
        f.write(struct.pack(">II", 5, zlib.crc32(b"hello")) + b"jello")
    with Spool(tmp_path) as spool:
        assert spool.depth == 1
        assert drain(spool) == [b"keep"]


def test_a_torn_header_alone_is_truncated(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append([b"keep"])
    segment = next(tmp_path.glob("*.seg"))
    with segment.open("ab") as f:
        f.write(b"\x00\x00")
    with Spool(tmp_path) as spool:
        assert spool.depth == 1
        assert segment.stat().st_size == 8 + 4


def test_damage_in_an_older_segment_is_an_error_not_a_silent_skip(tmp_path: Path) -> None:
    with Spool(tmp_path, segment_bytes=10) as spool:
        spool.append([b"aaaaaaaaaa"])
        spool.append([b"bbbbbbbbbb"])
    first = sorted(tmp_path.glob("*.seg"))[0]
    data = bytearray(first.read_bytes())
    data[-1] ^= 0xFF
    first.write_bytes(bytes(data))
    with pytest.raises(SpoolError, match="damaged record"):
        Spool(tmp_path, segment_bytes=10)


def test_a_second_user_of_the_same_directory_is_refused(tmp_path: Path) -> None:
    with Spool(tmp_path), pytest.raises(SpoolError, match="in use"):
        Spool(tmp_path)
    Spool(tmp_path).close()  # free again once the first one closed


def test_position_file_is_replaced_atomically(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append([b"abc", b"defg"])
        batch = spool.peek(1)
        assert batch is not None
        spool.commit(batch)
        assert batch.ends == [Position(0, 8 + 3)]
    assert (tmp_path / "position").read_text() == "0 11\n"
    assert not (tmp_path / "position.tmp").exists()


def test_a_failed_write_leaves_no_partial_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = Spool(tmp_path)
    spool.append([b"ok"])
    real_write = os.write
    calls = {"n": 0}

    def failing_write(fd: int, data: bytes | memoryview) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            real_write(fd, bytes(data)[:5])  # part of the batch reaches the file, then the disk fills up
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", failing_write)
    with pytest.raises(OSError, match="No space"):
        spool.append([b"lost-1", b"lost-2"])
    monkeypatch.undo()
    assert spool.depth == 1
    spool.append([b"next"])
    assert drain(spool) == [b"ok", b"next"]
    spool.close()


def test_a_commit_on_a_full_disk_changes_nothing_and_can_be_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import collectors.spool as spool_module

    with Spool(tmp_path) as spool:
        spool.append([b"a", b"b", b"c"])
        batch = spool.peek(2)
        assert batch is not None

        def disk_full(fd: int, data: bytes) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        with monkeypatch.context() as patch:
            patch.setattr(spool_module, "_write_all", disk_full)
            with pytest.raises(OSError, match="No space left"):
                spool.commit(batch)
        assert not (tmp_path / "position.tmp").exists()  # the failed attempt holds no disk space
        assert spool.depth == 3
        again = spool.peek(2)
        assert again is not None and again.records == [b"a", b"b"]
        spool.commit(batch)  # the same batch commits once the disk has room again
        assert spool.depth == 1
    with Spool(tmp_path) as reopened:
        assert drain(reopened) == [b"c"]


def test_the_spool_is_its_owners_alone_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        spool = Spool(tmp_path / "spool", segment_bytes=64)
        for _ in range(4):
            spool.append([b"per-person event"])  # several segments
        batch = spool.peek(1)
        assert batch is not None
        spool.commit(batch)  # and the read position's file
        spool.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "spool").stat().st_mode) == 0o700
    files = list((tmp_path / "spool").iterdir())
    assert len(files) > 2
    assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {f.name: 0o600 for f in files}
