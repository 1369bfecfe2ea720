"""`alignmon impact`'s output: a readable block per intervention, or every figure as CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import fields
from datetime import date

from pipeline.catalog.catalog import Catalog
from pipeline.catalog.interventions import Intervention
from pipeline.domain.impact import Effect, Options, Verdict


def _columns() -> tuple[str, ...]:
    """The keys of Effect.row(), in its order (a window is two columns, its first and last day)."""
    names: list[str] = []
    for f in fields(Effect):
        if f.name.endswith("_window"):
            names += [f.name.replace("_window", "_from"), f.name.replace("_window", "_to")]
        else:
            names.append(f.name)
    return tuple(names)


COLUMNS = _columns()


def points(share: float | None, signed: bool = True) -> str:
    """A share as percentage points: 0.2 -> '+20.0 pp'."""
    if share is None:
        return "-"
    return f"{share * 100:+.1f} pp" if signed else f"{share * 100:.1f} pp"


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.1f}%"


def _money(value: float, currency: str | None) -> str:
    return f"{currency or ''} {value:,.0f}".strip()


def _days(first: date, last: date) -> str:
    return first.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"


def table(effects: Sequence[Effect], as_of: date, options: Options) -> str:
    """One block per intervention: groups, ratios before and after, the effect with its interval, the verdict."""
    level = f"{options.level * 100:g}%"
    lines = [
        f"Effect of interventions on adoption as of {as_of.isoformat()}: difference-in-differences over "
        f"{options.window_days}-day windows before and after, {level} intervals from {options.resamples:,} "
        f"resamples (seed {options.seed}); docs/metrics.md, Effect of an intervention.",
    ]
    if not effects:
        lines.append("no interventions")
    for e in effects:
        lines.append("")
        lines.append(f"{e.intervention}  {e.kind} for {e.investment}, {_days(e.first_day, e.last_day)}")
        lines.append(
            f"  windows      before {_days(*e.pre_window)}, after {_days(*e.post_window)}"
            + (f"; also in them: {', '.join(e.overlaps)}" if e.overlaps else "")
        )
        treated = ", ".join(e.departments) or "-"
        comparison = ", ".join(e.comparison_departments) or "-"
        if e.verdict is Verdict.NOT_ESTIMABLE:
            lines.append(f"  treated      {treated}" + _people(e.treated_people))
            lines.append(f"  comparison   {comparison}" + _people(e.comparison_people))
            lines.append(f"  verdict      not_estimable ({e.reason}): {e.detail}")
            continue
        lines.append(
            f"  treated      {treated}{_people(e.treated_people)}: {_pct(e.treated_pre)} -> {_pct(e.treated_post)}"
        )
        lines.append(
            f"  comparison   {comparison}{_people(e.comparison_people)}: {_pct(e.comparison_pre)} -> "
            f"{_pct(e.comparison_post)}"
        )
        lines.append(
            f"  effect       {points(e.effect)} ({level} interval {points(e.effect_low)} to {points(e.effect_high)})"
        )
        lines.append(f"  verdict      {e.verdict}: {e.detail}")
        if e.pre_trend is None:
            lines.append(
                f"  pre-trend    {e.trends}: the {e.window_days} days before the window before lack known days"
            )
        else:
            lines.append(
                f"  pre-trend    {points(e.pre_trend)} ({level} interval {points(e.pre_trend_low)} to "
                f"{points(e.pre_trend_high)}): {e.trends}"
            )
        if e.cost is not None:
            low, high = e.cost_per_additional_active_user_low, e.cost_per_additional_active_user_high
            if e.cost_per_additional_active_user is not None and e.additional_active_users is not None:
                lines.append(
                    f"  cost         {_money(e.cost, e.currency)} / {e.additional_active_users:.1f} additional active "
                    f"users = {_money(e.cost_per_additional_active_user, e.currency)} each"
                    + (
                        ""
                        if low is None or high is None
                        else f" ({_money(low, e.currency)} to {_money(high, e.currency)} over the interval)"
                    )
                )
            else:
                per = (
                    "not known while the effect is inconclusive"
                    if e.verdict is Verdict.NO_DETECTABLE_EFFECT
                    else "none"
                )
                lines.append(f"  cost         {_money(e.cost, e.currency)}; per additional active user: {per}")
    return "\n".join(lines)


def _people(n: int | None) -> str:
    return "" if n is None else f" ({n:,} people)"


def as_csv(effects: Sequence[Effect]) -> str:
    """Every figure of every effect, one row each (ratios as shares, dates as YYYY-MM-DD)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(e.row() for e in effects)
    return buffer.getvalue()


def as_json(effects: Sequence[Effect], as_of: date, options: Options) -> str:
    """The options and every figure of every effect as one JSON document."""
    doc = {
        "as_of": as_of.isoformat(),
        "window_days": options.window_days,
        "level": options.level,
        "resamples": options.resamples,
        "seed": options.seed,
        "effects": [e.row() for e in effects],
    }
    return json.dumps(doc, indent=2)


def listing(items: Sequence[Intervention], catalog: Catalog) -> str:
    """`alignmon interventions list`: one line per intervention, in file order (costs in their currency)."""
    if not items:
        return "no interventions"
    rows = [["id", "investment", "kind", "days", "departments", "owner", "cost", "note"]]
    for i in items:
        currency = i.currency or catalog.investments[i.investment].investment.currency
        cost = "-" if i.cost is None else _money(i.cost, currency)
        departments = ", ".join(i.target_departments) if i.target_departments else "(whole target population)"
        rows.append(
            [i.id, i.investment, i.kind, _days(i.date, i.last_day), departments, i.owner.name, cost, i.note or ""]
        )
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=False)) + "  " + r[-1] for r in rows
    ).rstrip()
