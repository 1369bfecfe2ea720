"""Displacement: per department and week, the new application's share of combined use with the legacy one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from alignment.facts import Facts

ALL = "(all)"  # the organisation-wide row


@dataclass(frozen=True)
class SwitchShare:
    """Share of focus minutes on the new application, of new + legacy, for one department and week."""

    new_app: str
    old_app: str
    department: str
    week: date
    new_minutes: float
    old_minutes: float
    users: int
    share: float


def displacement(facts: Facts) -> list[SwitchShare]:
    """Shares for departments of >= k people whose week has >= k users of either app (k-anonymity)."""
    out = []
    for row in facts.switches:
        total = row.new_s + row.old_s
        if total <= 0 or row.users < facts.k:
            continue
        if row.department != ALL and facts.department_sizes.get(row.department, 0) < facts.k:
            continue
        out.append(
            SwitchShare(
                row.new_app,
                row.old_app,
                row.department,
                row.week,
                row.new_s / 60,
                row.old_s / 60,
                row.users,
                row.new_s / total,
            )
        )
    return sorted(out, key=lambda s: (s.new_app, s.department != ALL, s.department, s.week))
