"""What an event holds and what it cannot hold, read from the event contract's JSON Schema (never a copied list)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from collectors.event import json_schema

# How the gateway treats each field before Kafka. Keys must be fields of the contract (a test checks); a field
# without an entry is shown as "kept as sent", so a new field is never silently described as protected.
_TREATMENT: dict[str, str] = {
    "event_id": "kept: identifies the event (a random id, or derived from the imported record), not the person",
    "kind": "kept",
    "device_id": "replaced by the gateway with a keyed device pseudonym (`d_…`); the host name never reaches Kafka",
    "user": "replaced by the gateway with a keyed pseudonym (`u_…`, HMAC-SHA256); the name never reaches Kafka",
    "app": "kept, with home folders and the user's own name taken out of paths (replaced by `<user>`)",
    "duration_s": "kept",
    "source": "kept: which collector produced the event",
    "schema_version": "kept",
}
_GRANULARITY = {
    "exact": "kept to the second (ALIGNMON_TIME_GRANULARITY=exact): per-person start times show when people work",
    "hour": "truncated to the hour by the gateway, spans split at local midnight (ALIGNMON_TIME_GRANULARITY=hour)",
    "day": "truncated to the day by the gateway, spans split at local midnight: no time of day is kept "
    "(ALIGNMON_TIME_GRANULARITY=day)",
}

# What people fear such a system records, with the field names that would hold it. Each is listed as "no field for
# it" only while the contract really has none of those fields.
FEARED: tuple[tuple[str, frozenset[str]], ...] = (
    ("keystrokes or typed text", frozenset({"keys", "keystrokes", "text", "input"})),
    ("web addresses (URLs) or browsing history", frozenset({"url", "urls", "domain", "history"})),
    ("screenshots or screen recordings", frozenset({"screenshot", "screen", "image"})),
    ("document names or contents", frozenset({"document", "file", "filename", "content"})),
    ("e-mail, chat or meeting contents", frozenset({"message", "mail", "chat", "body"})),
    ("mouse movements or clicks", frozenset({"mouse", "clicks", "pointer"})),
    ("location (GPS, Wi-Fi networks)", frozenset({"location", "gps", "wifi", "ssid"})),
    ("camera, microphone or presence status", frozenset({"camera", "microphone", "presence", "status"})),
)


class ContractField(NamedTuple):
    """One field of the contract: what it holds, whether every event has it, and what becomes of it."""

    name: str
    required: bool
    description: str
    treatment: str


def treatment(name: str, *, titles_enabled: bool, granularity: str, directory: bool) -> str:
    """What the configured gateway does with field `name` before Kafka."""
    if name == "title":
        if titles_enabled:
            return "KEPT: window titles are stored (ALIGNMON_TITLES_ENABLED is on)"
        return "dropped by the gateway (ALIGNMON_TITLES_ENABLED is off); the agent reads none without --titles"
    if name == "start":
        return _GRANULARITY[granularity]
    if name == "department":
        if directory:
            return "set by the gateway from the directory (ALIGNMON_DIRECTORY_CSV); a device's own value is dropped"
        return "none: no directory is configured (ALIGNMON_DIRECTORY_CSV unset); a device's own value is dropped"
    return _TREATMENT.get(name, "kept as sent")


def fields(
    schema: Mapping[str, Any] | None = None, *, titles_enabled: bool, granularity: str, directory: bool
) -> list[ContractField]:
    """Every field of the contract's JSON Schema, in the schema's order, with the configured treatment."""
    schema = json_schema() if schema is None else schema
    required = set(schema.get("required", ()))
    return [
        ContractField(
            name,
            name in required,
            str(spec.get("description", "")),
            treatment(name, titles_enabled=titles_enabled, granularity=granularity, directory=directory),
        )
        for name, spec in schema["properties"].items()
    ]


def never_held(schema: Mapping[str, Any] | None = None) -> list[str]:
    """The feared kinds of data the contract has no field for."""
    schema = json_schema() if schema is None else schema
    names = {n.casefold() for n in schema["properties"]}
    return [what for what, candidates in FEARED if not names & candidates]


def closed(schema: Mapping[str, Any] | None = None) -> bool:
    """True when the contract refuses any field it does not name (additionalProperties: false)."""
    schema = json_schema() if schema is None else schema
    return schema.get("additionalProperties") is False
