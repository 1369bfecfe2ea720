"""Effect estimates of interventions from the pipeline's DuckDB file: the I/O edge of pipeline.domain.impact.

What is read, all of it tables the refresh keeps (so an estimate counts exactly what the adoption figures count):
the directory, each investment's target departments (`inv_targets`), currency and min_coverage
(`catalog_investments`), and the per-person daily rollup: through the active-day rule of `active.sql` for use, and
any row at all for telemetry (a person without telemetry in a window is left out, not counted as a non-user). The
queries return counts per department and activity pattern, never a person.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb

from base.errors import AlignmonError
from pipeline import sql
from pipeline.catalog.interventions import Intervention
from pipeline.domain.impact import Activity, Effect, Group, Options, Subject, Windows, estimate
from pipeline.domain.rules import MONTH_DAYS


@dataclass(frozen=True)
class _Investment:
    currency: str | None
    min_coverage: float
    targets: frozenset[str]


def estimate_all(
    con: duckdb.DuckDBPyConnection,
    interventions: Sequence[Intervention],
    as_of: date,
    options: Options | None = None,
    *,
    only: Collection[str] | None = None,
) -> list[Effect]:
    """The effect of each intervention as of `as_of` (data after it is not read), in the order given; with `only`,
    of the interventions with those ids (the others still count as overlapping ones).

    `con` is the pipeline's database (or a copy with its per-person rollup); read-only is enough: the active days
    go to a temporary table.
    """
    opts = options or Options()
    investments = _investments(con)
    for item in interventions:
        if item.investment not in investments:
            raise AlignmonError(
                f"intervention {item.id!r}: investment {item.investment!r} is not in the database's catalog tables "
                "(the pipeline has not loaded the current catalog yet: run `alignmon refresh` or wait for it)"
            )
    sizes = dict(con.execute("SELECT department, count(*) FROM directory GROUP BY ALL").fetchall())
    chosen = [item for item in interventions if only is None or item.id in only]
    windows = {item.id: Windows.around(item.date, item.last_day, opts.window_days) for item in interventions}
    _fill_active_days(con, [windows[item.id] for item in chosen], as_of)
    results = []
    for item in chosen:
        inv = investments[item.investment]
        w = windows[item.id]
        treated = tuple(item.target_departments) if item.target_departments else tuple(sorted(inv.targets))
        others = overlapping(item, interventions, w)
        reached = {d for o in others for d in (o.target_departments or inv.targets)} - set(treated)
        comparison = tuple(sorted(inv.targets - set(treated) - reached))
        counts = _activity(con, item.investment, w, [*treated, *comparison], as_of)
        reporting = _reporting(con, w, min(w.post[1], as_of), [*treated, *comparison])
        subject = Subject(
            intervention=item.id,
            investment=item.investment,
            kind=item.kind,
            first_day=item.date,
            last_day=item.last_day,
            departments=treated,
            cost=item.cost,
            currency=(item.currency or inv.currency) if item.cost is not None else None,
        )
        results.append(
            estimate(
                subject,
                as_of,
                _group(treated, counts, reporting, sizes),
                _group(comparison, counts, reporting, sizes),
                comparison_departments=comparison,
                population={d: sizes.get(d, 0) for d in inv.targets | set(treated)},
                overlaps=[o.id for o in others],
                has_directory=bool(sizes),
                min_coverage=inv.min_coverage,
                options=opts,
            )
        )
    return results


def _investments(con: duckdb.DuckDBPyConnection) -> dict[str, _Investment]:
    targets: defaultdict[str, set[str]] = defaultdict(set)
    for investment, department in con.execute("SELECT investment, department FROM inv_targets").fetchall():
        targets[investment].add(department)
    rows = con.execute("SELECT investment, currency, min_coverage FROM catalog_investments").fetchall()
    return {inv: _Investment(currency, min_coverage, frozenset(targets[inv])) for inv, currency, min_coverage in rows}


def overlapping(item: Intervention, interventions: Sequence[Intervention], w: Windows) -> list[Intervention]:
    """The other interventions of the same investment whose days meet the span of `item`'s windows `w`."""
    return [
        o
        for o in interventions
        if o.id != item.id and o.investment == item.investment and o.date <= w.post[1] and o.last_day >= w.base[0]
    ]


def _fill_active_days(con: duckdb.DuckDBPyConnection, windows: Sequence[Windows], as_of: date) -> None:
    """inv_active (active.sql) over every day any estimate reads, up to as_of."""
    if not windows:
        return
    first = min(w.base[0] for w in windows)
    last = min(max(w.post[1] for w in windows), as_of)
    # active.sql fills the 28-day windows ending $first..$last: the first of them starts on the first day needed.
    sql.execute(con, "active", first=first + timedelta(days=MONTH_DAYS - 1), last=last)  # empty when last < first


def _activity(
    con: duckdb.DuckDBPyConnection, investment: str, w: Windows, departments: list[str], as_of: date
) -> dict[str, dict[Activity, int]]:
    rows = sql.execute(
        con,
        "effect_activity",
        investment=investment,
        departments=departments,
        base_from=w.base[0],
        base_to=w.base[1],
        pre_from=w.pre[0],
        pre_to=w.pre[1],
        post_from=w.post[0],
        post_to=w.post[1],
        as_of=as_of,
    ).fetchall()
    out: defaultdict[str, dict[Activity, int]] = defaultdict(dict)
    for department, base, pre, post, people in rows:
        out[department][Activity(base, pre, post)] = people
    return out


def _reporting(
    con: duckdb.DuckDBPyConnection, w: Windows, last: date, departments: list[str]
) -> dict[str, dict[date, int]]:
    out: defaultdict[str, dict[date, int]] = defaultdict(dict)
    if last < w.base[0]:
        return out
    rows = sql.execute(con, "effect_coverage", first=w.base[0], last=last, departments=departments).fetchall()
    for department, day, reporting in rows:
        out[department][day] = reporting
    return out


def _group(
    departments: Sequence[str],
    counts: dict[str, dict[Activity, int]],
    reporting: dict[str, dict[date, int]],
    sizes: dict[str, int],
) -> Group:
    per_day: defaultdict[date, int] = defaultdict(int)
    for department in departments:
        for day, n in reporting.get(department, {}).items():
            per_day[day] += n
    directory = sum(sizes.get(d, 0) for d in departments)
    return Group({d: counts[d] for d in departments if d in counts}, dict(per_day), directory)
