"""Simulated interventions with known effects: from a day on, a share of each treated department adopts on top of
its story's curve, and an interventions.yaml records the actions as an organisation would (without the effect).

`alignmon simulate --intervention INVESTMENT:DEPARTMENTS:DAY:POINTS[:KIND[:COST]]`, e.g.
`inv-crm-rollout:Sales:-28:20` (a training 28 days before the as-of day after which 20 % more of Sales use the CRM).
The effect is exact: round(POINTS / 100 x department size) more people of each treated department adopt (fewer for a
negative POINTS) than the story's curve alone makes adopt, every day from DAY on, so the rise in the department's
adoption ratio is known to the person. POINTS 0 is a placebo: an intervention that changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from collectors.simulate.catalog import write_catalog_yaml
from collectors.simulate.portfolio import INVESTMENTS_BY_ID
from collectors.simulate.stories import StorySpec

_ID_PART = re.compile(r"[^a-z0-9]+")


class SimulatedIntervention(NamedTuple):
    """One intervention and its true effect."""

    id: str
    investment: str
    departments: tuple[str, ...]
    day: date
    points: float  # percentage points of each treated department that adopt on top of the curve, from `day` on
    kind: str = "training"
    cost: float | None = None

    def extra(self, department_size: int) -> int:
        """Extra adopters in a treated department of that size (negative: fewer)."""
        return round(self.points / 100 * department_size)


def parse_intervention(
    text: str, as_of: date, stories: Sequence[StorySpec], departments: Sequence[str]
) -> SimulatedIntervention:
    """`INVESTMENT:DEPARTMENTS:DAY:POINTS[:KIND[:COST]]`; DEPARTMENTS joined by '+', DAY YYYY-MM-DD or days from the
    as-of day (-28); raises ValueError saying what is wrong."""
    parts = text.split(":")
    if not 4 <= len(parts) <= 6:
        raise ValueError(f"{text!r}: expected INVESTMENT:DEPARTMENTS:DAY:POINTS[:KIND[:COST]]")
    investment, depts, day_text, points_text = parts[:4]
    kind = parts[4] if len(parts) > 4 and parts[4] else "training"
    story = next((s for s in stories if s.investment == investment), None)
    if story is None:
        known = ", ".join(s.investment for s in stories if s.investment)
        raise ValueError(f"{text!r}: no simulated investment {investment!r} (one of: {known})")
    allowed = story.departments or tuple(departments)
    treated = tuple(d for d in depts.split("+") if d)
    if not treated or any(d not in allowed for d in treated):
        raise ValueError(f"{text!r}: departments must be some of {', '.join(allowed)} ('+' between them)")
    try:
        day = (
            as_of + timedelta(days=int(day_text))
            if re.fullmatch(r"[+-]?\d+", day_text)
            else date.fromisoformat(day_text)
        )
    except ValueError:
        raise ValueError(f"{text!r}: DAY is YYYY-MM-DD or a number of days from the as-of day, e.g. -28") from None
    try:
        points = float(points_text.removesuffix("pp"))
        cost = float(parts[5]) if len(parts) > 5 and parts[5] else None
    except ValueError:
        raise ValueError(f"{text!r}: POINTS (and COST) must be numbers") from None
    if not -100 <= points <= 100:
        raise ValueError(f"{text!r}: POINTS is between -100 and 100")
    if cost is not None and cost < 0:
        raise ValueError(f"{text!r}: COST must not be negative")
    ident = _ID_PART.sub("-", f"{investment}-{kind}-{'-'.join(treated)}".lower()).strip("-")
    return SimulatedIntervention(ident, investment, treated, day, points, kind, cost)


def with_unique_ids(items: Sequence[SimulatedIntervention]) -> list[SimulatedIntervention]:
    """The interventions, a repeated id made unique with a suffix (-2, -3...)."""
    seen: dict[str, int] = {}
    out = []
    for item in items:
        seen[item.id] = seen.get(item.id, 0) + 1
        out.append(item if seen[item.id] == 1 else item._replace(id=f"{item.id}-{seen[item.id]}"))
    return out


def interventions_document(items: Sequence[SimulatedIntervention]) -> dict[str, Any]:
    """The interventions file (pipeline/catalog/interventions.py's format) as plain data; the truth is in the note."""
    records = []
    for item in items:
        owner = INVESTMENTS_BY_ID[item.investment].owner
        record: dict[str, Any] = {
            "id": item.id,
            "investment": item.investment,
            "kind": item.kind,
            "date": item.day,
            "target_departments": list(item.departments),
            "owner": {"name": owner.name, "email": owner.email},
        }
        if item.cost is not None:
            record["cost"] = item.cost
        record["note"] = (
            f"simulated: {item.points:+g} percentage points of {' and '.join(item.departments)} adopt on top of the "
            "curve from this day on"
            if item.points
            else "simulated placebo: nothing changes"
        )
        records.append(record)
    return {"interventions": records}


def write_interventions(path: Path, items: Sequence[SimulatedIntervention], header: str) -> None:
    """Write interventions.yaml (dates unquoted) with a comment header."""
    write_catalog_yaml(path, interventions_document(items), header)
