"""A private working copy of the pipeline's DuckDB file, for work that recomputes figures without touching the live
file (`alignmon metrics backfill` recomputes every past day on one, with the pipeline's own refresh).

The copy holds the per-person tables the refresh reads, so it is the pipeline user's alone: it is made in a folder
only that user can open (0700) beside the pipeline's state, and whoever asked for it deletes it when the work is done.
What a killed run left (a copy, an answer nobody read, a request nobody waits for) is deleted once it is COPY_MAX_AGE_S
old, by the next request and by the running pipeline, which looks every SWEEP_S (`drop_abandoned`).

DuckDB lets no other process open the file a running pipeline writes, so the CLI leaves a request in that folder and
the pipeline answers it (`serve`, between batches) once it has stored what Kafka holds: the copy is read on a cursor
of its own, in a thread, one consistent state that never blocks the pipeline's writes.

A request is withdrawn (Ctrl-C, SIGTERM, the timeout) by deleting it, or once the pipeline took it (renamed it
`<id>.taken.json`) by deleting that: the pipeline deletes `<id>.taken.json` after writing its answer, and finding it
gone it deletes the copy and the answer itself; the CLI, finding neither, deletes the answer's copy. Whoever deletes
the taken file first decides, so a copy nobody reads is never left behind.

COPY FROM DATABASE needs the copy attached to the pipeline's own DuckDB instance, where every cursor sees it while it
is made: the pipeline's looks at DuckDB's catalog are restricted to its own database (pipeline.database).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from base.errors import AlignmonError, DatabaseInUseError

log = logging.getLogger(__name__)

REQUEST, TAKEN, ANSWER, COPY = ".request.json", ".taken.json", ".answer.json", ".duckdb"
COPY_MAX_AGE_S = 6 * 3600  # no backfill takes this long: an older copy was left by a run that was killed
SWEEP_S = 600.0  # how often the running pipeline looks for what killed runs left
_ATTACHED = "alignmon_working_copy"


def working_copies(state_dir: Path) -> Path:
    """The folder of working copies and of the requests for them, beside the pipeline's state."""
    return state_dir / "working-copies"


def copy_database(con: duckdb.DuckDBPyConnection, target: Path) -> Path:
    """Copy every table (with its rows), view and macro of `con`'s current database into the new file `target`; a
    failure or an interruption (Ctrl-C, SIGTERM) leaves no half of it."""
    files = (target, target.with_name(target.name + ".wal"))
    for stale in files:
        stale.unlink(missing_ok=True)
    row = con.execute("SELECT current_database()").fetchone()
    assert row is not None
    quoted = str(target).replace("'", "''")
    try:
        con.execute(f"ATTACH '{quoted}' AS {_ATTACHED}")
        try:
            con.execute(f'COPY FROM DATABASE "{row[0]}" TO {_ATTACHED}')
        finally:
            con.execute(f"DETACH {_ATTACHED}")
    except BaseException:
        for path in files:  # per-person rows nobody will read
            path.unlink(missing_ok=True)
        raise
    target.chmod(0o600)
    return target


def copy_file(source: Path, target: Path) -> Path:
    """A working copy of the DuckDB file `source`, which no process may hold for writing (DatabaseInUseError)."""
    if not source.exists():
        raise AlignmonError(f"{source} does not exist (ALIGNMON_DUCKDB_PATH): the pipeline has stored nothing there")
    con = duckdb.connect()
    try:
        quoted = str(source).replace("'", "''")
        try:
            con.execute(f"ATTACH '{quoted}' AS alignmon_source (READ_ONLY)")
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            in_use = DatabaseInUseError.from_lock_failure(source, exc, "a running pipeline is asked for a copy")
            if in_use is None:
                raise
            raise in_use from exc
        con.execute("USE alignmon_source")
        return copy_database(con, target)
    finally:
        con.close()


def _write(path: Path, data: dict[str, Any]) -> None:
    """Atomically: the reader never sees half a file."""
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


class CopyRequests:
    """A folder (0700) of `<id>.request.json` files the pipeline answers with `<id>.duckdb` and `<id>.answer.json`."""

    def __init__(self, folder: Path, clock: Callable[[], float] = time.time) -> None:
        self.folder = folder
        self.clock = clock  # Unix seconds, compared with the files' mtimes
        self._thread: threading.Thread | None = None

    # --- the CLI's side -----------------------------------------------------------------------------------------

    def open(self) -> None:
        """Create the folder (only its owner may enter: copies hold per-person rows) and drop abandoned copies."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        self.drop_abandoned()

    def ask(self, timeout_s: float, waiting: Callable[[float], None] = lambda _s: None) -> Path:
        """Leave a request for the running pipeline and wait for its copy; returns the copy's path (the caller deletes
        it). `waiting(seconds waited)` is called about every second meanwhile."""
        self.open()
        name = uuid.uuid4().hex
        request, answer = self.folder / (name + REQUEST), self.folder / (name + ANSWER)
        _write(request, {"asked_at": time.time(), "pid": os.getpid()})
        began = time.monotonic()
        data: dict[str, Any] | None = None
        try:
            while not answer.exists():
                waited = time.monotonic() - began
                if waited > timeout_s:
                    raise AlignmonError(
                        f"the running pipeline did not answer within {timeout_s:.0f} s: it answers once it has stored "
                        "what Kafka holds (see its log, its consumer lag), or it is not running here (is "
                        f"ALIGNMON_STATE_DIR the pipeline's? requests go to {self.folder})"
                    )
                waiting(waited)
                time.sleep(1.0)
            data = json.loads(answer.read_text(encoding="utf-8"))
        finally:
            if data is None:  # the timeout, Ctrl-C, SIGTERM: nobody will read the copy
                self._withdraw(name)
        answer.unlink()
        if not data["ok"]:
            raise AlignmonError(f"the running pipeline could not copy its database: {data['error']}")
        return self.folder / str(data["copy"])

    def _withdraw(self, name: str) -> None:
        """Withdraw the request `name`: not taken yet, it goes; being answered, the pipeline finds it withdrawn and
        deletes its copy; answered already, its copy is deleted here."""
        (self.folder / (name + REQUEST)).unlink(missing_ok=True)
        try:
            (self.folder / (name + TAKEN)).unlink()
            return  # taken, not answered yet: the pipeline sees it gone once the copy is made
        except FileNotFoundError:
            pass
        answer = self.folder / (name + ANSWER)
        try:
            data = json.loads(answer.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return  # never taken
        except ValueError:
            data = {}
        self._discard(name, str(data.get("copy") or name + COPY))

    def _discard(self, name: str, copy: str) -> None:
        """Delete the copy `copy` (and its WAL) and the answer of request `name`."""
        for path in (self.folder / copy, self.folder / (copy + ".wal"), self.folder / (name + ANSWER)):
            path.unlink(missing_ok=True)

    def drop_abandoned(self, max_age_s: float = COPY_MAX_AGE_S) -> int:
        """Delete what is older than `max_age_s`, left by a run that was killed: copies, answers nobody read, requests
        nobody waits for, requests taken by a pipeline that stopped, half-written files. Returns how many."""
        dropped = 0
        now = self.clock()
        patterns = ("*" + COPY, "*" + COPY + ".wal", "*" + ANSWER, "*" + REQUEST, "*" + TAKEN, ".*.tmp")
        for path in [path for pattern in patterns for path in self.folder.glob(pattern)]:
            try:
                if now - path.stat().st_mtime > max_age_s:
                    path.unlink()
                    dropped += 1
            except FileNotFoundError:
                pass
        if dropped:
            log.info(
                "deleted %d files killed runs left in %s (older than %.0f h)", dropped, self.folder, max_age_s / 3600
            )
        return dropped

    # --- the pipeline's side ------------------------------------------------------------------------------------

    def pending(self) -> bool:
        return self.folder.is_dir() and any(self.folder.glob("*" + REQUEST))

    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def serve(self, cursor: Callable[[], duckdb.DuckDBPyConnection]) -> None:
        """Answer the pending requests in a thread of its own, each with a copy read on a new cursor of `cursor`."""
        if self.busy():
            return
        self._thread = threading.Thread(target=self.answer_all, args=(cursor,), name="working-copy", daemon=True)
        self._thread.start()

    def wait(self, timeout_s: float | None = None) -> None:
        """Wait for the copy in progress (before the database closes)."""
        if self._thread is not None:
            self._thread.join(timeout_s)

    def answer_all(self, cursor: Callable[[], duckdb.DuckDBPyConnection]) -> int:
        """Copy the database for every pending request and answer it; returns how many were answered."""
        answered = 0
        self.drop_abandoned()
        for request in sorted(self.folder.glob("*" + REQUEST)):
            name = request.name.removesuffix(REQUEST)
            taken = request.with_name(name + TAKEN)
            try:
                os.replace(request, taken)  # withdrawn from now on by deleting `taken`
            except FileNotFoundError:
                continue  # withdrawn meanwhile
            with contextlib.suppress(FileNotFoundError):
                os.utime(taken, (self.clock(), self.clock()))  # its age counts from now (drop_abandoned)
            began = time.perf_counter()
            con = cursor()
            try:
                copy_database(con, self.folder / (name + COPY))
                answer: dict[str, Any] = {"ok": True, "copy": name + COPY}
                log.info("working copy %s made in %.1f s", name + COPY, time.perf_counter() - began)
            except (duckdb.Error, OSError) as exc:
                log.exception("working copy failed")
                answer = {"ok": False, "error": str(exc)}
            finally:
                con.close()
            _write(self.folder / (name + ANSWER), answer)
            try:
                taken.unlink()
            except FileNotFoundError:  # withdrawn while the copy was made: nobody will read it
                self._discard(name, name + COPY)
                log.info("working copy %s deleted: its request was withdrawn while it was made", name + COPY)
                continue
            answered += 1
        return answered
