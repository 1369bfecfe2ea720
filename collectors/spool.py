"""A durable FIFO of byte records on disk, for producers that must not lose data while Kafka is away.

Records are appended to numbered segment files, each framed as ``length (4 bytes) | CRC-32 (4 bytes) |
payload`` and fsynced per append batch. A reader peeks a batch from the committed read position and
commits it once the records are safe elsewhere; the position is persisted atomically (write, fsync,
rename), and segments wholly before it are deleted. On open, a torn record at the end of the last
segment (a crash mid-append) is detected by its length or CRC and truncated away; damage anywhere
else is an error, because silently skipping records would lose data.

Only one process may use a spool directory at a time (an exclusive lock file enforces it). Linux, macOS and
Windows: the lock and the directory's durability differ by OS (below); `mypy --platform win32` checks the Windows side.
"""

from __future__ import annotations

import errno
import logging
import os
import struct
import sys
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

from base.errors import AlignmonError

log = logging.getLogger(__name__)

HEADER = struct.Struct(">II")  # payload length, CRC-32 of the payload
MAX_RECORD_BYTES = 64 * 1024 * 1024
SEGMENT_SUFFIX = ".seg"
POSITION_FILE = "position"
LOCK_FILE = "lock"
# Windows opens files in text mode unless told otherwise, which would turn every \n byte of a record into \r\n.
_BINARY = getattr(os, "O_BINARY", 0)

if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        """Lock the lock file's first byte until `fd` closes; False when another process holds it."""
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EDEADLK):
                return False
            raise
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        """Lock the whole lock file until `fd` closes; False when another process holds it."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


class SpoolError(AlignmonError):
    """The spool cannot be used: locked by another process, or damaged beyond a torn tail."""


class Position(NamedTuple):
    """A place in the spool: segment number and byte offset inside it."""

    segment: int
    offset: int


@dataclass(frozen=True)
class Batch:
    """Records read from the committed position; `ends[i]` is the position just after record i."""

    records: list[bytes]
    start: Position
    ends: list[Position]

    def __len__(self) -> int:
        return len(self.records)


def frame(record: bytes) -> bytes:
    """One record as stored: length and CRC header, then the payload."""
    return HEADER.pack(len(record), zlib.crc32(record)) + record


def _segment_name(number: int) -> str:
    return f"{number:020d}{SEGMENT_SUFFIX}"


def _fsync_dir(directory: Path) -> None:
    """Make a created, renamed or deleted name in `directory` durable."""
    if sys.platform == "win32":
        # A directory cannot be opened as a file there; NTFS journals the change of name itself.
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_record(stream: BinaryIO, remaining: int) -> bytes | None:
    """The next valid record, or None when the bytes left do not hold one (torn or damaged)."""
    if remaining < HEADER.size:
        return None
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    length, crc = HEADER.unpack(header)
    if length > MAX_RECORD_BYTES or length > remaining - HEADER.size:
        return None
    payload = stream.read(length)
    if len(payload) < length or zlib.crc32(payload) != crc:
        return None
    return payload


class Spool:
    """A directory-backed FIFO of byte records: append (durable on return), peek, commit."""

    def __init__(self, directory: Path, *, segment_bytes: int = 64 * 1024 * 1024) -> None:
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes
        # Per-person events: the folder and every file in it are the owner's alone (0700, 0600), whatever the umask.
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._lock_fd = self._take_lock()
        try:
            self._read_pos = self._load_position()
            self._segments = self._recover()
            self._depth = self._count_pending()
            last = self._segments[-1]
            self._write_fd = os.open(self._path(last), os.O_WRONLY | os.O_APPEND | os.O_CREAT | _BINARY, 0o600)
            self._write_size = os.fstat(self._write_fd).st_size
        except BaseException:
            os.close(self._lock_fd)
            raise

    # -- public API -------------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        """Records appended and not yet committed."""
        return self._depth

    def __len__(self) -> int:
        return self._depth

    def append(self, records: Iterable[bytes]) -> int:
        """Append records in order and fsync; when this returns they survive a crash. Returns the count."""
        framed = [frame(r) for r in records]
        if not framed:
            return 0
        data = b"".join(framed)
        with self._lock:
            if self._write_size >= self.segment_bytes:
                self._roll()
            start = self._write_size
            try:
                _write_all(self._write_fd, data)
                os.fsync(self._write_fd)
            except OSError:
                # Leave no half-written record behind that a later append would bury mid-file.
                os.ftruncate(self._write_fd, start)
                raise
            self._write_size += len(data)
            self._depth += len(framed)
        return len(framed)

    def peek(self, max_records: int = 500, max_bytes: int = 8 * 1024 * 1024) -> Batch | None:
        """Up to `max_records` records from the committed position (at least one), or None when empty."""
        with self._lock:
            if self._depth == 0:
                return None
            records: list[bytes] = []
            ends: list[Position] = []
            size = 0
            segment, offset = self._read_pos
            for number in self._segments:
                if number < segment:
                    continue
                if number > segment:
                    offset = 0
                end = self._write_size if number == self._segments[-1] else self._path(number).stat().st_size
                with self._path(number).open("rb") as stream:
                    stream.seek(offset)
                    while offset < end and len(records) < max_records and (not records or size < max_bytes):
                        record = _read_record(stream, end - offset)
                        if record is None:
                            raise SpoolError(f"{self._path(number)}: damaged record at byte {offset}")
                        offset += HEADER.size + len(record)
                        size += len(record)
                        records.append(record)
                        ends.append(Position(number, offset))
                if len(records) >= max_records or size >= max_bytes:
                    break
            return Batch(records, self._read_pos, ends)

    def commit(self, batch: Batch, count: int | None = None) -> None:
        """Mark the first `count` records of a peeked batch (default: all) as consumed, durably."""
        count = len(batch) if count is None else count
        if count <= 0:
            return
        with self._lock:
            if batch.start != self._read_pos:
                raise SpoolError("commit of a stale batch: it does not start at the committed position")
            end = batch.ends[count - 1]
            self._store_position(end)
            self._read_pos = end
            self._depth -= count
            for number in [n for n in self._segments if n < end.segment]:
                self._path(number).unlink(missing_ok=True)
                self._segments.remove(number)

    def close(self) -> None:
        """Release the files; everything appended is already durable, so this writes nothing."""
        with self._lock:
            if self._write_fd >= 0:
                os.close(self._write_fd)
                self._write_fd = -1
            if self._lock_fd >= 0:
                os.close(self._lock_fd)
                self._lock_fd = -1

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------------------

    def _path(self, number: int) -> Path:
        return self.directory / _segment_name(number)

    def _take_lock(self) -> int:
        fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT | _BINARY, 0o600)
        try:
            locked = _try_lock(fd)
        except BaseException:
            os.close(fd)
            raise
        if not locked:
            os.close(fd)
            raise SpoolError(f"spool {self.directory} is in use by another process")
        return fd

    def _load_position(self) -> Position:
        path = self.directory / POSITION_FILE
        try:
            text = path.read_text()
        except FileNotFoundError:
            return Position(0, 0)
        try:
            segment, offset = (int(part) for part in text.split())
        except ValueError:
            raise SpoolError(f"{path}: unreadable read position {text!r}") from None
        return Position(segment, offset)

    def _store_position(self, position: Position) -> None:
        path = self.directory / POSITION_FILE
        tmp = path.with_suffix(".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _BINARY, 0o600)
            try:
                _write_all(fd, f"{position.segment} {position.offset}\n".encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except OSError:
            # Disk full: leave the old position file as it was, and free what the attempt took.
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(self.directory)

    def _recover(self) -> list[int]:
        """Segments still needed (oldest first); deletes consumed ones and truncates a torn tail."""
        numbers = sorted(
            int(p.name.removesuffix(SEGMENT_SUFFIX))
            for p in self.directory.glob(f"*{SEGMENT_SUFFIX}")
            if p.name.removesuffix(SEGMENT_SUFFIX).isdigit()
        )
        for number in [n for n in numbers if n < self._read_pos.segment]:
            self._path(number).unlink()  # consumed; a crash came between commit and delete
        numbers = [n for n in numbers if n >= self._read_pos.segment]
        if not numbers:
            number = self._read_pos.segment
            self._path(number).touch(mode=0o600)
            _fsync_dir(self.directory)
            self._read_pos = Position(number, 0)
            return [number]
        last = numbers[-1]
        path = self._path(last)
        start = self._read_pos.offset if last == self._read_pos.segment else 0
        good = self._scan(path, start)
        size = path.stat().st_size
        if good < size:
            log.warning("spool %s: truncating a torn record at byte %d (%d bytes dropped)", path, good, size - good)
            with path.open("r+b") as stream:
                stream.truncate(good)
                stream.flush()
                os.fsync(stream.fileno())
        return numbers

    def _scan(self, path: Path, start: int) -> int:
        """Offset just after the last valid record from `start`."""
        size = path.stat().st_size
        if start > size:
            raise SpoolError(f"{path}: read position {start} is beyond the end of the file ({size} bytes)")
        offset = start
        with path.open("rb") as stream:
            stream.seek(start)
            while True:
                record = _read_record(stream, size - offset)
                if record is None:
                    return offset
                offset += HEADER.size + len(record)

    def _count_pending(self) -> int:
        count = 0
        for number in self._segments:
            path = self._path(number)
            start = self._read_pos.offset if number == self._read_pos.segment else 0
            size = path.stat().st_size
            offset = start
            with path.open("rb") as stream:
                stream.seek(start)
                while offset < size:
                    record = _read_record(stream, size - offset)
                    if record is None:
                        raise SpoolError(f"{path}: damaged record at byte {offset}; move the file aside to go on")
                    offset += HEADER.size + len(record)
                    count += 1
        return count

    def _roll(self) -> None:
        number = self._segments[-1] + 1
        fd = os.open(self._path(number), os.O_WRONLY | os.O_APPEND | os.O_CREAT | _BINARY, 0o600)
        _fsync_dir(self.directory)
        os.close(self._write_fd)
        self._write_fd = fd
        self._write_size = 0
        self._segments.append(number)
