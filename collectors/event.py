"""The one usage-event contract shared by every producer, the gateway and the pipeline."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from base.errors import AlignmonError
from base.sources import SOURCES

SCHEMA_VERSION: Final = 1
MAX_DURATION_S = 24 * 3600
MAX_FUTURE = timedelta(minutes=5)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_DATE_TIME_SEP = ("T", "t", " ")  # after YYYY-MM-DD, as RFC 3339 and ISO 8601 write it
SCHEMA_PATH = Path(__file__).with_name("usage-event.schema.json")

# Namespace for deterministic event ids: importers derive ids from the record, so a re-import is a no-op.
_EVENT_NS = uuid.UUID("6f1c2b1e-6a43-4c55-9b0c-8d6a1e0f7a11")

Kind = Literal["focus", "open", "launch"]
# The names alignmon's own collectors send, and what metrics call any other, are base.sources' SOURCES and OTHER_SOURCE.
SOURCE_PATTERN: Final = r"^[a-z][a-z0-9_-]{0,31}$"
MAX_TEXT = 128  # longest event_id, device_id, user, application
ShortText = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]


def check_device_id(device_id: str) -> str:
    """A device id as the contract accepts it (stripped, 1-128 characters), for tokens and agents."""
    value = device_id.strip()
    if not value or len(value) > MAX_TEXT:
        raise AlignmonError(f"device id must be 1 to {MAX_TEXT} characters, got {device_id!r}")
    return value


class UsageEvent(BaseModel):
    """One span of application use (or one piece of launch evidence) on one device."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    event_id: ShortText = Field(description="Unique id; deterministic for imported records (see deterministic_id).")
    kind: Kind = Field(
        description="focus = foreground while not idle; open = running in the background; "
        "launch = evidence of a start or last use, no duration."
    )
    device_id: ShortText = Field(description="The endpoint that observed the use.")
    user: Annotated[str, Field(min_length=1, max_length=256)] = Field(
        description="The user; a keyed pseudonym from the gateway on, never a raw name."
    )
    app: Annotated[str, Field(min_length=1, max_length=512)] = Field(
        description="The raw application identifier as seen: executable name, bundle id or path."
    )
    start: AwareDatetime = Field(
        description="Start of the span: an RFC 3339 string with a UTC offset, not before 2000-01-01 and not more "
        "than 5 minutes ahead of the receiver's clock (both bounds are settings of the receiver).",
    )
    duration_s: float = Field(
        ge=0, le=MAX_DURATION_S, strict=True, description="Length of the span in seconds (a JSON number); 0 for launch."
    )
    source: Annotated[str, Field(pattern=SOURCE_PATTERN)] = Field(description=f"Producer: {', '.join(SOURCES)}, ...")
    title: Annotated[str, Field(max_length=1024)] | None = Field(
        default=None, description="Window title; dropped by the gateway unless titles are explicitly enabled."
    )
    department: Annotated[str, Field(min_length=1, max_length=128)] | None = Field(
        default=None,
        description="Department, added by the gateway from its directory; never taken from a device "
        "(the gateway drops a device's own value).",
    )
    schema_version: Literal[1] = Field(default=SCHEMA_VERSION, description="Version of this contract.")

    @field_validator("start", mode="wrap")
    @classmethod
    def _start(cls, value: object, parse: ValidatorFunctionWrapHandler, info: ValidationInfo) -> datetime:
        # One Python call per event, on the pipeline's hot path: the form, pydantic's own parsing, the window.
        # A datetime comes from Python code (importers, the agent); a client sends text, which must hold a
        # date and a time (pydantic would also take a date alone or a Unix time as digits). Pydantic checks
        # the rest of the form, AwareDatetime the offset.
        if not isinstance(value, datetime) and not (isinstance(value, str) and value[10:11] in _DATE_TIME_SEP):
            raise ValueError("start must be an RFC 3339 string with a UTC offset, e.g. 2026-03-02T09:15:00Z")
        start: datetime = parse(value)
        context = info.context or {}
        if "latest" not in context:  # no receiver's window given: the contract's defaults on this clock
            context = window(
                context.get("now"), context.get("earliest", EARLIEST), context.get("max_future", MAX_FUTURE)
            )
        earliest: datetime = context["earliest"]
        latest: datetime = context["latest"]
        # Years first: an offset on year 1 or 9999 would overflow the exact comparison. An offset is under
        # a day, so a later year than the earliest day's is never before it.
        year = start.year
        if year < earliest.year - 1 or (year <= earliest.year and start < earliest):
            raise ValueError(f"start is before {earliest:%Y-%m-%d}, the earliest date this receiver accepts")
        if year > latest.year + 1 or start > latest:
            minutes = context.get("max_future", MAX_FUTURE).total_seconds() / 60
            raise ValueError(f"start is more than {minutes:g} minutes in the future")
        return start

    @model_validator(mode="after")
    def _launch_has_no_duration(self) -> UsageEvent:
        if self.kind == "launch" and self.duration_s != 0:
            raise ValueError("a launch event has no duration: duration_s must be 0")
        return self

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.duration_s)

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


def window(
    now: datetime | None = None, earliest: datetime = EARLIEST, max_future: timedelta = MAX_FUTURE
) -> dict[str, Any]:
    """UsageEvent's validation context: the range of `start` a receiver whose clock says `now` accepts.

    `earliest` and `max_future` are the receiver's settings (Settings.event_bounds); build it once per
    clock reading, not per event.
    """
    latest = (now or datetime.now(UTC)) + max_future
    return {"earliest": earliest, "latest": latest, "max_future": max_future}


def deterministic_id(source: str, *parts: object) -> str:
    """A stable event id for an imported record: the same record always gets the same id."""
    return str(uuid.uuid5(_EVENT_NS, "\x1f".join([source, *map(str, parts)])))


def json_schema() -> dict[str, Any]:
    """The JSON Schema generated from the model (committed as usage-event.schema.json)."""
    schema = UsageEvent.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://alignmon.org/schema/usage-event.schema.json"
    return schema


def write_json_schema(path: Path = SCHEMA_PATH) -> None:
    path.write_text(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n")
