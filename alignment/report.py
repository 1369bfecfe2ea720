"""The quarterly steering committee report: one self-contained HTML file (inline CSS and SVG, no scripts).

The numbers are prepared here as plain values; alignment/templates/report.html.j2 lays them out (Jinja2, with
autoescaping: every catalog name is escaped, only the charts of `alignment.svg` are inserted as markup).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import jinja2

from alignment.assessment import Assessment
from alignment.displacement import SwitchShare
from alignment.facts import Facts, InterventionEffect, InvestmentInfo, InvestmentState, Strategy
from alignment.maturity import Maturity
from alignment.roadmap import ACTIONS, Item, nameable
from alignment.svg import WASTE, adoption_chart, bar_chart, radar
from alignment.text import money, pct
from pipeline.domain.plan import Plan
from pipeline.domain.rules import EFFECT_SETTLE_DAYS, MONTH_DAYS
from pipeline.domain.status import REASON_WORDS, STATUS_WORDS

DECISION_ROWS = 5
ROADMAP_ROWS = 15
TITLE = "Strategic alignment — steering committee report"
NO_OWNER = "not named in the catalog"

FORECAST_LABELS = {
    "insufficient_data": "too few days of data to forecast",
    "not_reached": "the forecast never reaches the target",
}

SEGMENT_LABELS = {"orphan": "no initiative (orphan spend)", "total": "all investments"}
SEGMENT_NAMES = {"it_strategy": "IT strategy", "it_infrastructure": "IT infrastructure"}


def human(identifier: str) -> str:
    """A controlled-vocabulary id in words: 'business_strategy' -> 'Business strategy'."""
    words = identifier.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]


def humanise_text(text: str, ids: Iterable[tuple[str, str]]) -> str:
    """Replace raw ids (and snake_case statuses) in a sentence by their names."""
    codes = [(r, human(r).lower()) for r in REASON_WORDS]
    pairs = [*ids, *STATUS_WORDS.items(), *FORECAST_LABELS.items(), *codes]
    for raw, name in sorted(pairs, key=lambda p: -len(p[0])):
        if raw and raw != name:
            text = text.replace(raw, name)
    return text


def status_text(st: InvestmentState) -> str:
    """'on track', or 'low — below plan…' with the reason in words."""
    label = STATUS_WORDS.get(st.status, human(st.status))
    if st.status == "on_track" and st.low_or_at_risk:
        return f"{label}, but at risk: the forecast misses the target date"
    if st.status == "on_track" or not st.status_reason:
        return label
    reason = REASON_WORDS.get(st.status_reason, human(st.status_reason))
    if st.status_reason == "low_coverage" and st.coverage is not None:
        reason += f" (coverage {st.coverage:.0%})"
    return f"{label} — {reason}"


def previous_quarter_end(day: date) -> date:
    """The last day of the quarter before `day`'s: the figures as they stood when this quarter started."""
    return date(day.year, (day.month - 1) // 3 * 3 + 1, 1) - timedelta(days=1)


def quarter_name(day: date) -> str:
    return f"Q{(day.month - 1) // 3 + 1} {day.year}"


def baseline_is_known(day: date, first_telemetry: date | None) -> bool:
    """Whether the figures as of `day` rest on data: its whole 28-day window lies on or after the first day with
    telemetry. A window that starts before telemetry under-counts users (docs/metrics.md, Data completeness), so a
    change against it would be a made-up improvement."""
    return first_telemetry is not None and day - timedelta(days=MONTH_DAYS - 1) >= first_telemetry


MINUS = "\u2212"  # one minus sign for every negative change: levels, percentage points, money, counts


def signed(delta: Decimal | int, text: str) -> str:
    """A change with its sign: '+12 pp', '\u221212 pp', '0 pp'; `text` is the magnitude as displayed."""
    return ("+" if delta > 0 else MINUS if delta < 0 else "") + text


def _shown(value: float, digits: int) -> Decimal:
    """The figure exactly as the report displays it (half-even rounding of the float, as str.format does)."""
    return Decimal(f"{value:.{digits}f}")


def _pp(before: float | None, now: float | None) -> str:
    """The change between two displayed percentages ('79%' and '78%'), in percentage points: '\u22121 pp'."""
    if before is None or now is None:
        return "-"
    delta = _shown(now * 100, 0) - _shown(before * 100, 0)
    return signed(delta, f"{abs(delta)} pp")


def _money_delta(before: float | None, now: float | None, currency: str) -> str:
    """The change between two displayed amounts: '+EUR 1,200', '\u2212EUR 300', 'EUR 0'."""
    if before is None or now is None:
        return "-"
    delta = _shown(now, 0) - _shown(before, 0)
    return signed(delta, money(float(abs(delta)), currency))


def _level_delta(before: float | None, now: float | None) -> str:
    """The change between two displayed maturity levels ('3.4' and '3.2'): '\u22120.2'."""
    if before is None or now is None:
        return "-"
    delta = _shown(now, 1) - _shown(before, 1)
    return signed(delta, f"{abs(delta)}") if delta else "0"


def _count_delta(before: int, now: int) -> str:
    return signed(now - before, str(abs(now - before)))


@dataclass(frozen=True)
class Card:
    """One small multiple: the chart and the line under it."""

    name: str
    chart: object
    tone: str  # low | risk | ok | muted: the card's colour
    status: str
    line: str
    owner: str


@dataclass(frozen=True)
class Decision:
    decision: str
    subject: str
    owner: str
    cost: str
    idle: str
    value_at_risk: str
    why: str


@dataclass(frozen=True)
class Change:
    """One figure then and now."""

    name: str
    before: str
    now: str
    delta: str


def tone(st: InvestmentState) -> str:
    """The card's colour, from the same rule as the 'low or at risk' count: low red, at risk amber."""
    if st.status == "low":
        return "low"
    if st.low_or_at_risk:
        return "risk"
    return "ok" if st.status == "on_track" else "muted"


def owner_of(item: Item, strategy: Strategy) -> str:
    """Who answers for a roadmap item: the item's own owner, else the catalog's owner of what it is about."""
    if item.owner:
        return item.owner
    inv = strategy.investments.get(item.subject) if item.kind == "investment" else None
    if inv is not None and inv.owner:
        return inv.owner
    initiative = strategy.initiatives.get(item.initiative or "")
    if initiative is not None and initiative.owner:
        return initiative.owner
    owners = sorted({i.owner for i in _funding(item, strategy) if i.owner})
    return ", ".join(owners) if owners else NO_OWNER


def _funding(item: Item, strategy: Strategy) -> list[InvestmentInfo]:
    """The investments whose money the item is about."""
    if item.kind == "investment":
        return [i for i in strategy.investments.values() if i.id == item.subject]
    if item.kind == "applications":  # interchangeable tools, subject "app+app"
        apps = set(item.subject.split("+"))
    elif item.kind == "application":
        apps = {item.subject}
    else:
        return []
    return [i for i in strategy.investments.values() if apps.intersection(i.applications)]


def _ids(f: Facts) -> list[tuple[str, str]]:
    """Every id a sentence might carry, with its name."""
    s = f.strategy
    return [
        *((i.id, i.name) for i in s.investments.values()),
        *((i.id, i.name) for i in s.initiatives.values()),
        *((o.id, o.name) for o in s.objectives),
        # Application ids are left alone: "word" or "excel" are also words; reasons already name applications.
        *((c, human(c).lower()) for c in {a.capability for a in s.applications.values()} if c and "_" in c),
    ]


def annual_cost(investments: Iterable[InvestmentInfo]) -> str:
    """What the investments cost a year, summed per currency (amounts in two currencies are never added)."""
    by_currency: dict[str, float] = defaultdict(float)
    for inv in investments:
        by_currency[inv.currency] += inv.annual_cost
    return " + ".join(money(total, currency) for currency, total in sorted(by_currency.items())) or "-"


def item_money(value: float, item: Item, portfolio_currency: str) -> str:
    """A money figure of a roadmap item in the item's own currency (the portfolio's when it has none); '-' if 0."""
    return money(value, item.currency or portfolio_currency) if value else "-"


def decisions(a: Assessment) -> list[Decision]:
    """The top roadmap items as decisions for the committee, with owner and money; the roadmap words them."""
    f, cur = a.facts, a.portfolio.currency
    ids = _ids(f)
    return [
        Decision(
            decision=humanise_text(item.decision, ids),
            subject=item.name,
            owner=owner_of(item, f.strategy),
            cost=annual_cost(_funding(item, f.strategy)),
            idle=item_money(item.wasted, item, cur),
            value_at_risk=item_money(item.value_at_risk, item, cur),
            why=humanise_text(item.reason, ids),
        )
        for item in a.roadmap[:DECISION_ROWS]
    ]


def _wasted(a: Assessment) -> float:
    return sum(a.facts.state(i).wasted_spend or 0.0 for i in a.facts.strategy.investments)


def headline_changes(a: Assessment, before: Assessment) -> list[Change]:
    """The headline figures then and now."""
    cur = a.portfolio.currency
    m0, m1 = before.maturity, a.maturity
    return [
        Change("annual spend", money(before.portfolio.total.spend, cur), money(a.portfolio.total.spend, cur),
               _money_delta(before.portfolio.total.spend, a.portfolio.total.spend, cur)),
        Change("attainment (cost-weighted)", pct(before.portfolio.total.attainment), pct(a.portfolio.total.attainment),
               _pp(before.portfolio.total.attainment, a.portfolio.total.attainment)),
        Change("wasted spend (idle seats)", money(_wasted(before), cur), money(_wasted(a), cur),
               _money_delta(_wasted(before), _wasted(a), cur)),
        Change("investments low or at risk", str(before.portfolio.total.low_or_at_risk),
               str(a.portfolio.total.low_or_at_risk),
               _count_delta(before.portfolio.total.low_or_at_risk, a.portfolio.total.low_or_at_risk)),
        Change("maturity", m0.headline, m1.headline,
               _level_delta(m0.overall, m1.overall)),
    ]  # fmt: skip


def investment_changes(a: Assessment, before: Assessment) -> list[tuple[str, Change, Change, Change]]:
    """Per investment: adoption, status and wasted spend (in the investment's currency) then and now."""
    rows = []
    for inv in a.facts.strategy.investments.values():
        s0, s1 = before.facts.state(inv.id), a.facts.state(inv.id)
        cur = inv.currency
        rows.append(
            (
                inv.name,
                Change("adoption", pct(s0.adoption_ratio), pct(s1.adoption_ratio),
                       _pp(s0.adoption_ratio, s1.adoption_ratio)),
                Change("status", status_text(s0), status_text(s1), "" if s0.status == s1.status else "changed"),
                Change("wasted spend", money(s0.wasted_spend, cur), money(s1.wasted_spend, cur),
                       _money_delta(s0.wasted_spend, s1.wasted_spend, cur)),
            )
        )  # fmt: skip
    return rows


def objective_changes(a: Assessment, before: Assessment) -> list[Change]:
    """Attainment per objective then and now."""
    return [
        Change(o.name, pct(before.objectives.get(o.id)), pct(a.objectives.get(o.id)),
               _pp(before.objectives.get(o.id), a.objectives.get(o.id)))
        for o in a.facts.strategy.objectives
    ]  # fmt: skip


def time_axis(strategy: Strategy, as_of: date) -> tuple[date, date]:
    """One axis for every adoption chart: the earliest go-live to the latest target date (and today)."""
    invs = list(strategy.investments.values())
    if not invs:
        return as_of - timedelta(days=90), as_of
    return min(i.go_live for i in invs), max(*(i.target_date for i in invs), as_of)


def cards(a: Assessment) -> list[Card]:
    """One card per investment, every chart on the same time axis."""
    f = a.facts
    first, last = time_axis(f.strategy, f.as_of)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    out = []
    for inv in f.strategy.investments.values():
        st = f.state(inv.id)
        plan = Plan(inv.go_live, inv.target_ratio, inv.target_date, inv.curve)
        chart = adoption_chart(
            inv.name, f.series.get(inv.id, ()), [(d, plan.planned_ratio(d)) for d in days], first, last, today=f.as_of
        )
        line = f"adoption {pct(st.adoption_ratio)} vs plan {pct(st.planned_ratio)} today; "
        line += f"target {pct(inv.target_ratio)} by {inv.target_date}"
        if st.judged and st.at_risk:
            line += "; " + (
                f"forecast reaches it only on {st.forecast_date}"
                if st.forecast_date
                else FORECAST_LABELS.get(st.forecast, "the forecast misses the target date")
            )
        if st.wasted_spend:
            line += f"; idle seats cost {money(st.wasted_spend, inv.currency)} a year"
        out.append(Card(inv.name, chart, tone(st), status_text(st), line, inv.owner or NO_OWNER))
    return out


# Why an effect could not be estimated, in words (pipeline.domain.impact.Reason; docs/metrics.md).
NOT_ESTIMABLE_WORDS = {
    "no_directory": "no directory says who is in which department",
    "no_comparison_group": "no department without the action is left to compare with",
    "small_group": "a group to compare holds fewer than k people (privacy)",
    "unknown_days": "telemetry is missing on days before or after it (missing data is not read as non-use)",
    "estimated_later": "it was estimated only after this day",
}


CAUTION = "the groups were already drifting apart before it: read with caution"


def _signed_points(share: float) -> str:
    """A share as signed percentage points, one decimal, no unit: -0.075 -> '\u22127.5'."""
    shown = _shown(share * 100, 1)
    return signed(shown, f"{abs(shown)}")


def _points(share: float) -> str:
    """A share as signed percentage points, one decimal: 0.2 -> '+20.0 pp'."""
    return f"{_signed_points(share)} pp"


def _day(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def _level(e: InterventionEffect) -> str:
    return f"{e.level * 100:g} %"


def effect_verdict(e: InterventionEffect, k: int) -> str:
    """The verdict in words: an interval that contains 0 is inconclusive, never 'no effect'; a divergence before the
    intervention is said next to it."""
    if e.verdict == "not_estimable":
        why = NOT_ESTIMABLE_WORDS.get(e.reason or "", "the data cannot say")
        if e.reason == "window_not_over":
            ready = e.post_to + timedelta(days=EFFECT_SETTLE_DAYS + 1)  # late telemetry first (docs/metrics.md)
            why = f"the weeks after it end on {_day(e.post_to)}; it is estimated from {_day(ready)} on"
        elif e.reason == "small_group":
            why = why.replace("k people", f"{k} people")
        return f"Cannot tell yet: {why}"
    if e.verdict == "effect":
        verdict = (
            "Worked: adoption rose more than where it was not done"
            if e.rose
            else "Adoption fell more than where it was not done"
        )
    elif (interval := e.interval) is not None:
        low, high = interval
        verdict = (
            f"Inconclusive: the data fit an effect anywhere between {_signed_points(low)} and "
            f"{_signed_points(high)} points ({_level(e)} interval); more time or a larger group could tell"
        )
    else:
        verdict = "Inconclusive: chance could explain the change; more time or a larger group could tell"
    return f"{verdict} ({CAUTION})" if e.diverging else verdict


def effect_figure(e: InterventionEffect) -> str:
    """The effect with its interval: '+20.0 pp (99 % interval +8.3 pp to +35.0 pp)'; '-' when not estimated."""
    interval = e.interval
    if e.verdict == "not_estimable" or e.effect is None or interval is None:
        return "-"
    return f"{_points(e.effect)} ({_level(e)} interval {_points(interval[0])} to {_points(interval[1])})"


def effect_cost(e: InterventionEffect) -> str:
    """The cost per additional active user as the range its interval gives, the point value as 'about'."""
    currency = e.currency or ""
    if e.cost is None:
        return "-"
    spent = money(e.cost, currency)
    point, low, high = (
        e.cost_per_additional_active_user,
        e.cost_per_additional_active_user_low,
        e.cost_per_additional_active_user_high,
    )
    if e.rose:
        if point is None or e.additional_active_users is None:
            return f"{spent} spent"
        about = money(point, currency)
        count = f"{spent} for an estimated {e.additional_active_users:.0f} more active users"
        if low is None or high is None:  # a file published before the range has the point only
            return f"about {about} per additional active user ({count})"
        return f"{money(low, currency)} to {high:,.0f} per additional active user (about {about}: {count})"
    if e.verdict == "not_estimable":
        return f"{spent} spent; per additional active user: not known until the effect can be estimated"
    if e.verdict == "effect":
        return f"{spent} spent; adoption fell, so there are no additional active users"
    return f"{spent} spent; per additional active user: not known while the effect is inconclusive"


def what_worked(f: Facts) -> list[tuple[str, str, str, str]]:
    """Per intervention: the action, the verdict in words, the effect with its interval, the cost per added user."""
    names = {i.id: i.name for i in f.strategy.investments.values()}
    by_id = {e.intervention: e for e in f.effects}
    rows = []
    for e in f.effects:
        named = nameable(f, e.departments)  # a kept estimate may name a department that has since shrunk under k
        where = f" in {', '.join(named)}" if named else ""
        action = f"{human(e.kind)} for {names.get(e.investment, human(e.investment))}{where}, {_days(e)}"
        if e.overlaps:
            others = [_action_of(by_id.get(i)) for i in e.overlaps]
            action += f" (also in its weeks: {', '.join(others)}; where the same people were reached, their effects "
            action += "cannot be told apart)"
        rows.append((action, effect_verdict(e, f.k), effect_figure(e), effect_cost(e)))
    return rows


def _action_of(e: InterventionEffect | None) -> str:
    """'the training of 1 Sep 2026': another intervention as the report names it beside one it overlaps."""
    if e is None or e.kind == "other":
        return "another action" if e is None else f"another action of {_days(e)}"
    return f"the {human(e.kind).lower()} of {_days(e)}"


def _days(e: InterventionEffect) -> str:
    return _day(e.first_day) if e.first_day == e.last_day else f"{_day(e.first_day)} to {_day(e.last_day)}"


def maturity_rows(m: Maturity) -> list[tuple[str, str, str, str]]:
    return [
        (c.criterion.name, c.level_text, pct(c.evidenced), "-" if c.disagreement is None else f"{c.disagreement:.1f}")
        for c in m.criteria
    ]


def _names(ids: Iterable[str], lookup: Callable[[str], str]) -> str:
    return ", ".join(lookup(i) for i in ids) or "none"


@functools.cache
def environment() -> jinja2.Environment:
    """The template environment: autoescaping on, undefined names are errors."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("alignment", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(a: Assessment, before: Assessment | None = None, title: str = TITLE, missing: str | None = None) -> str:
    """The whole report as one HTML document; `before` is the assessment as of the previous quarter's end, and
    `missing` why there is none although telemetry covers that day."""
    f, p = a.facts, a.portfolio
    cur = p.currency
    s = f.strategy
    inv_name = {i.id: i.name for i in s.investments.values()}
    ini_name = {i.id: i.name for i in s.initiatives.values()}
    obj_name = {o.id: o.name for o in s.objectives}
    ids = _ids(f)
    investment_cards = cards(a)
    troubled = sum(1 for c in investment_cards if c.tone in ("low", "risk"))
    m = a.maturity
    kpis = [
        (money(p.total.spend, cur), "annual spend"),
        (pct(p.total.attainment), "attainment (cost-weighted)"),
        (money(_wasted(a), cur), "wasted spend (idle seats)"),
        (money(p.orphan.spend, cur), "orphan spend"),
        (str(troubled), f"investment{'' if troubled == 1 else 's'} low or at risk"),
        ("-" if m.overall is None else f"{m.overall:.1f} / 5", f"maturity over {len(m.levelled)} of "
         f"{len(m.criteria)} criteria ({m.label})"),
    ]  # fmt: skip
    first, last = time_axis(s, f.as_of)
    latest: dict[tuple[str, str], SwitchShare] = {}
    for sw in a.displacement:
        latest[sw.new_app, sw.department] = sw
    context = {
        "title": title,
        "as_of": f.as_of,
        "telemetry_since": f.usage.first_day,
        "k": f.k,
        "currency": cur,
        "kpis": kpis,
        "decisions": decisions(a),
        "baseline": previous_quarter_end(f.as_of),
        "missing": missing,
        "quarter_before": quarter_name(previous_quarter_end(f.as_of)),
        "before": before,
        "headline_changes": headline_changes(a, before) if before else [],
        "investment_changes": investment_changes(a, before) if before else [],
        "objective_changes": objective_changes(a, before) if before else [],
        "cards": investment_cards,
        "worked": what_worked(f),
        "axis": (first, last),
        "objectives": bar_chart(
            [(o.name, a.objectives.get(o.id), pct(a.objectives.get(o.id))) for o in s.objectives],
            maximum=1.0,
            label="attainment by objective",
        ),
        "segments": [
            (human(seg.axis), SEGMENT_LABELS.get(seg.axis, SEGMENT_NAMES.get(seg.key, human(seg.key))),
             seg.investments, money(seg.spend, cur), pct(seg.attainment), seg.low_or_at_risk)
            for seg in p.segments
        ],
        "orphans": _names(p.orphans, lambda i: inv_name.get(i, i)),
        "unfunded_initiatives": _names(p.unfunded_initiatives, lambda i: ini_name.get(i, i)),
        "unfunded_objectives": _names(p.unfunded_objectives, lambda i: obj_name.get(i, i)),
        "maturity": m,
        "radar": radar([(c.criterion.name, c.score, c.level_text) for c in m.criteria]),
        "maturity_rows": maturity_rows(m),
        "waste": bar_chart(
            [(inv.name, f.state(inv.id).wasted_spend,
              money(f.state(inv.id).wasted_spend, inv.currency) if f.state(inv.id).wasted_spend is not None
              else "no seat count") for inv in s.investments.values()],
            colour=WASTE,
            label="wasted spend per investment",
        ),
        "roadmap_after": any(i.after for i in a.roadmap[:ROADMAP_ROWS]),
        "roadmap": [
            (n, ACTIONS[i.action], i.name, owner_of(i, s), "unscored" if i.priority is None else f"{i.priority:,.0f}",
             item_money(i.wasted, i, cur), item_money(i.value_at_risk, i, cur), humanise_text(i.reason, ids),
             ", ".join(ini_name.get(x, x) for x in i.after))
            for n, i in enumerate(a.roadmap[:ROADMAP_ROWS], start=1)
        ],
        "displacement": bar_chart(
            [(f"{f.app_name(sw.new_app)} — {sw.department}", sw.share, pct(sw.share))
             for sw in latest.values()],
            maximum=1.0,
            label="displacement of legacy applications",
        ) if latest else None,
        "emergent": [
            (c.name, c.active_users, signed(_shown(c.growth * 100, 0), f"{abs(c.growth):.0%}"),
             human(c.capability) if c.capability else "-")
            for c in a.emergent
        ],
    }  # fmt: skip
    return environment().get_template("report.html.j2").render(context)
