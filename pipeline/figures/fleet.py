"""The collectors' health: how many devices report, by source and in all, and how many went silent.

Each refresh writes `collector_devices` from the devices' days (`device_daily`): one row per device and source seen
in the 28-day window, with its last day and whether it has been silent for more than `silent_days` days. That table
is per person (the privacy role's; view `silent_devices`). `counts` reads the k-safe figures the exporter shows, by
source and for the fleet (each device once, whatever its sources): a source is named only when its devices belong to
at least k people (else it counts as `other`), a count is shown only when its devices belong to at least k people, and
counts are left out until no difference of shown counts singles out fewer than k people (secondary suppression).
Metric labels never carry a device or a person.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import NamedTuple

import duckdb

from base.sources import OTHER_SOURCE
from pipeline.domain.privacy import shown_together
from pipeline.domain.rules import K_ANONYMITY, MONTH_DAYS
from pipeline.transaction import transaction

SILENT_DAYS = 7  # ALIGNMON_SILENT_DAYS' default
WINDOWS = {"1d": 1, "7d": 7, "28d": MONTH_DAYS}  # as the investments' active users: DAU, WAU, MAU

# A device used by several people on its last day is listed with one of them (the greatest pseudonym, for a stable
# answer): collector_devices then holds one row per device and source.
_UPDATE = """
INSERT INTO collector_devices BY NAME
WITH seen AS (
    SELECT device_id, source, max(day) AS last_day, max({'day': day, 'user': "user"}).user AS "user"
    FROM device_daily WHERE day BETWEEN $first AND $as_of GROUP BY ALL
),
departments AS (SELECT "user", any_value(department) AS department FROM directory GROUP BY ALL)
SELECT $as_of AS as_of, s.device_id, s.source, s."user", d.department, s.last_day,
       ($as_of - s.last_day)::INTEGER AS days_silent, $as_of - s.last_day > $silent AS silent
FROM seen s LEFT JOIN departments d USING ("user")
"""

# Each device under its source's label: the source itself when the site or alignmon names it and its devices belong
# to at least k people (refresh_state.k), else OTHER_SOURCE; per device and label, how many days ago it last reported
# and whether it is silent; and, per device, one person (the one of its last day, as collector_devices picks).
_DEVICES = f"""
WITH named AS (
    SELECT CASE WHEN list_contains($sources, source) THEN source ELSE '{OTHER_SOURCE}' END AS label, *
    FROM collector_devices
),
sized AS (SELECT label, count(DISTINCT "user") >= (SELECT k FROM refresh_state) AS big FROM named GROUP BY ALL),
grouped AS (
    SELECT CASE WHEN big THEN label ELSE '{OTHER_SOURCE}' END AS label, device_id, days_silent, silent,
           max({{'day': last_day, 'user': "user"}}) OVER (PARTITION BY device_id).user AS "user"
    FROM named JOIN sized USING (label)
)
SELECT device_id, any_value("user"), label, min(days_silent), bool_and(silent) FROM grouped GROUP BY ALL ORDER BY ALL
"""

FLEET = None  # the label of the fleet's counts: every device once, whatever its sources
# The kinds of count, least important first: what secondary suppression leaves out first (a window of WINDOWS or
# "silent"; True for the fleet's count, False for the sources', smaller sources first).
_IMPORTANCE = (
    ("7d", False),  # the 7-day counts are on no panel
    ("7d", True),
    ("1d", False),
    ("silent", True),
    ("1d", True),  # the fleet's are the Collectors dashboard's headline
    ("silent", False),  # a source's silent and 28-day counts are CollectorsSilent's ratio
    ("28d", False),
    ("28d", True),
)

# One device: per label, how many days ago it last reported and whether it is silent.
Profile = tuple[tuple[str, int, bool], ...]
Count = tuple[str | None, str]  # (source label, or FLEET; a window of WINDOWS, or "silent")


class CollectorCounts(NamedTuple):
    """The k-safe device counts of the last refresh: by (source label, window) and silent by source label; and the
    fleet's (every device once, whatever its sources) by window and silent (None when not shown)."""

    reporting: dict[tuple[str, str], int]
    silent: dict[str, int]
    fleet_reporting: dict[str, int]
    fleet_silent: int | None


def update(con: duckdb.DuckDBPyConnection, as_of: date, silent_days: int = SILENT_DAYS) -> None:
    """Rewrite collector_devices for `as_of`: the devices of its 28-day window, silent after `silent_days` days."""
    if not 1 <= silent_days < MONTH_DAYS - 1:
        raise ValueError(f"silent_days must be 1 to {MONTH_DAYS - 2}: a silent device reported in the 28-day window")
    with transaction(con):
        con.execute("DELETE FROM collector_devices")
        con.execute(
            _UPDATE,
            {"first": as_of - timedelta(days=MONTH_DAYS - 1), "as_of": as_of, "silent": silent_days},
        )


def _in(profile: Profile, label: str | None, what: str) -> bool:
    """Whether a device of this profile is in count (label, what)."""
    mine = [(ago, silent) for name, ago, silent in profile if label is FLEET or name == label]
    if not mine:
        return False
    if what == "silent":
        return all(silent for _, silent in mine)
    return min(ago for ago, _ in mine) < WINDOWS[what]


def counts(con: duckdb.DuckDBPyConnection, sources: Sequence[str]) -> CollectorCounts:
    """The k-safe counts of collector_devices; `sources` are the names labels keep (the rest count as `other`).

    Each count covers k people or more, and so does every group of devices that adding and subtracting the shown
    counts could single out (pipeline.domain.privacy.shown_together): a source's 28-day count minus its 7-day one,
    the fleet's count minus the sources' ...
    """
    rows = con.execute(_DEVICES, {"sources": list(dict.fromkeys(sources))}).fetchall()
    person: dict[str, str] = {}
    labelled: dict[str, list[tuple[str, int, bool]]] = {}
    for device, user, label, ago, silent in rows:
        person[device] = user
        labelled.setdefault(device, []).append((label, int(ago), bool(silent)))
    devices: dict[Profile, int] = {}
    people: dict[Profile, set[str]] = {}
    by_label: dict[str, set[str]] = {}
    for device, entries in labelled.items():
        profile = tuple(entries)
        devices[profile] = devices.get(profile, 0) + 1
        people.setdefault(profile, set()).add(person[device])
        for label, _, _ in entries:
            by_label.setdefault(label, set()).add(person[device])
    labels = sorted(by_label, key=lambda label: (len(by_label[label]), label))
    importance: list[Count] = [(label, what) for what, whole in _IMPORTANCE for label in ([FLEET] if whole else labels)]
    members = {c: [p for p in devices if _in(p, *c)] for c in importance}
    k = con.execute("SELECT k FROM refresh_state").fetchone()
    shown = shown_together(members, people, importance, int(k[0]) if k else K_ANONYMITY)
    total = {c: sum(devices[p] for p in members[c]) for c in shown}
    return CollectorCounts(
        reporting={(label, w): n for (label, w), n in total.items() if label is not FLEET and w != "silent"},
        silent={label: n for (label, w), n in total.items() if label is not FLEET and w == "silent"},
        fleet_reporting={w: n for (label, w), n in total.items() if label is FLEET and w != "silent"},
        fleet_silent=total.get((FLEET, "silent")),
    )
