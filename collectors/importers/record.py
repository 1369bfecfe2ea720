"""What an importer yields: validated usage events and per-record errors that never abort a file."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, NamedTuple

from pydantic import ValidationError

from collectors.event import UsageEvent

TITLE_MAX = 1024


class RecordError(NamedTuple):
    """One record that could not be imported: which file, where in it, and why."""

    file: str
    locator: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.locator}: {self.message}"


ImportItem = UsageEvent | RecordError


class ImportResult(NamedTuple):
    """Everything an import produced: the valid events, the rejected records and the files read."""

    events: list[UsageEvent]
    errors: list[RecordError]
    files: int = 0


@dataclass(frozen=True)
class ImportOptions:
    """Values a source does not record itself, supplied by whoever runs the import."""

    user: str | None = None
    device: str | None = None
    tz: tzinfo = UTC
    now: datetime | None = field(default=None, compare=False)


DEFAULT_OPTIONS = ImportOptions()


def collect(items: Iterable[ImportItem], files: int = 0) -> ImportResult:
    """Split a stream of importer output into events and errors."""
    events: list[UsageEvent] = []
    errors: list[RecordError] = []
    for item in items:
        if isinstance(item, RecordError):
            errors.append(item)
        else:
            events.append(item)
    return ImportResult(events, errors, files)


def make_event(fields: Mapping[str, Any], *, file: str, locator: str, now: datetime | None) -> ImportItem:
    """Validate one event against the contract; a violation becomes a RecordError naming the record."""
    try:
        return UsageEvent.model_validate(dict(fields), context={"now": now})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'event'}: {err['msg']}" for err in exc.errors())
        return RecordError(file, locator, f"invalid event: {problems}")


def clip_title(title: object) -> str | None:
    """A window title fit for the contract: None when empty, cut to the contract's maximum length."""
    if not isinstance(title, str) or not title.strip():
        return None
    return title[:TITLE_MAX]
