"""Data-subject requests to a running pipeline: DuckDB lets nobody else open the file the pipeline writes, so the
CLI leaves a request in a folder the pipeline reads between batches, and waits for the answer beside it."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from base.errors import AlignmonError
from pipeline.lake.location import Lake
from pipeline.subject import perform

REQUEST, ANSWER = ".request.json", ".answer.json"


def _write(path: Path, data: dict[str, Any]) -> None:
    """Atomically: the reader never sees half a file."""
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(json.dumps(data, default=str), encoding="utf-8")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class RequestFolder:
    """One folder (0700) of `<id>.request.json` files the pipeline answers with `<id>.answer.json`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def pending(self) -> list[Path]:
        return sorted(self.path.glob("*" + REQUEST)) if self.path.is_dir() else []

    def answer_all(self, con: duckdb.DuckDBPyConnection, lake: Lake | None = None) -> int:
        """Pipeline side: perform every pending request on `con` (the writer's, idle) and `lake`, answer it, drop
        it."""
        requests = self.pending()
        for request in requests:
            ask = json.loads(request.read_text(encoding="utf-8"))
            try:
                result = perform(con, ask["action"], ask["pseudonym"], ask["actor"], lake)
                answer = {"ok": True, "result": result}
            except AlignmonError as exc:
                answer = {"ok": False, "error": str(exc)}
            _write(request.with_name(request.name.removesuffix(REQUEST) + ANSWER), answer)
            request.unlink()
        return len(requests)

    def ask(
        self,
        action: str,
        pseudonym: str,
        actor: str,
        timeout_s: float,
        waiting: Callable[[], None] = lambda: None,
    ) -> Any:
        """CLI side: leave a request and wait for the running pipeline's answer (its result, or its error)."""
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        _write(self.path / (name + REQUEST), {"action": action, "pseudonym": pseudonym, "actor": actor})
        answer = self.path / (name + ANSWER)
        deadline = time.monotonic() + timeout_s
        waiting()
        while not answer.exists():
            if time.monotonic() > deadline:
                (self.path / (name + REQUEST)).unlink(missing_ok=True)
                raise AlignmonError(
                    f"the running pipeline did not answer within {timeout_s:.0f} s (is it running, or stuck?); "
                    "the request is withdrawn unless the pipeline had already taken it up: see privacy_audit"
                )
            time.sleep(0.2)
        data = json.loads(answer.read_text(encoding="utf-8"))
        answer.unlink()
        if not data["ok"]:
            raise AlignmonError(data["error"])
        return data["result"]
