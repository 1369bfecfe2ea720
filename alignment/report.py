"""The quarterly steering committee report: one self-contained HTML file (inline CSS and SVG, no scripts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from html import escape

from alignment.assessment import Assessment
from alignment.criteria import level_name
from alignment.roadmap import ACTIONS
from alignment.svg import WASTE, adoption_chart, bar_chart, radar
from alignment.text import maturity_title, money, pct
from pipeline.domain.plan import Plan

ROADMAP_ROWS = 15

CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;color:#1f2933;margin:24px 32px;background:#fff;font-size:14px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid #1b6ac9;padding-bottom:4px}
.sub{color:#52606d;margin:0 0 16px}
.kpis{display:flex;gap:12px;flex-wrap:wrap}.kpi{background:#f0f4f8;border-radius:6px;padding:10px 14px;min-width:150px}
.kpi b{display:block;font-size:20px}.kpi span{color:#52606d;font-size:12px}
.grid{display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid #d9dee3;border-radius:6px;padding:6px;width:290px}
.card p{margin:2px 4px;font-size:12px;color:#52606d}
table{border-collapse:collapse;margin:6px 0}th,td{border-bottom:1px solid #d9dee3;padding:4px 8px;text-align:left;
vertical-align:top}th{background:#f0f4f8}td.n{text-align:right}
.legend span{display:inline-block;margin-right:14px}.note{color:#52606d;font-size:12px;max-width:900px}
.low{color:#c53030;font-weight:bold}
"""


def _cell(value: str, numeric: bool = False) -> str:
    return f'<td class="n">{escape(value)}</td>' if numeric else f"<td>{escape(value)}</td>"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(c, n in numeric) for n, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _planned_series(a: Assessment, investment: str, days: Sequence[date]) -> list[tuple[date, float | None]]:
    inv = a.facts.strategy.investments[investment]
    plan = Plan(inv.go_live, inv.target_ratio, inv.target_date, inv.curve)
    return [(day, plan.planned_ratio(day)) for day in days]


def adoption_section(a: Assessment) -> str:
    cards = []
    for inv in a.facts.strategy.investments.values():
        actual = list(a.facts.series.get(inv.id, ()))
        actual = [(d, v) for d, v in actual if d >= inv.go_live - timedelta(days=14)]
        st = a.facts.state(inv.id)
        chart = adoption_chart(inv.name, actual, _planned_series(a, inv.id, [d for d, _ in actual]))
        status = f'<span class="low">{st.status}</span>' if st.status == "low" else escape(st.status)
        cards.append(
            f'<div class="card">{chart}<p>{escape(inv.id)}: {status}, adoption {pct(st.adoption_ratio)} '
            f"vs plan {pct(st.planned_ratio)}, target {pct(inv.target_ratio)} by {inv.target_date}</p></div>"
        )
    legend = (
        '<p class="legend"><span style="color:#1b6ac9">&#9632; actual adoption ratio</span>'
        '<span style="color:#e07b00">&#9632; planned ratio (dashed)</span></p>'
    )
    return f'<h2>Adoption against plan</h2>{legend}<div class="grid">{"".join(cards)}</div>'


def render(a: Assessment, title: str = "Strategic alignment — steering committee report") -> str:
    """The whole report as one HTML document."""
    f = a.facts
    p = a.portfolio
    cur = p.currency
    total = p.total
    wasted = sum(f.state(i).wasted_spend or 0.0 for i in f.strategy.investments)
    m = a.maturity
    kpis = [
        (money(total.spend, cur), "annual spend"),
        (pct(total.attainment), "attainment (cost-weighted)"),
        (money(wasted, cur), "wasted spend (idle seats)"),
        (money(p.orphan.spend, cur), "orphan spend"),
        (str(total.low_or_at_risk), "investments low or at risk"),
        ("not assessed" if m.overall is None else f"{m.overall:.1f} / 5", m.label),
    ]
    parts = [
        f"<h1>{escape(title)}</h1><p class=\"sub\">As of {f.as_of}. Figures follow METRICS.md; groups under "
        f"k = {f.k} people are never shown.</p>",
        '<div class="kpis">'
        + "".join(f'<div class="kpi"><b>{escape(v)}</b><span>{escape(k)}</span></div>' for v, k in kpis)
        + "</div>",
        adoption_section(a),
        "<h2>Attainment by objective</h2>",
        bar_chart(
            [(o.name, a.objectives.get(o.id), pct(a.objectives.get(o.id))) for o in f.strategy.objectives],
            maximum=1.0,
        ),
        "<h2>Portfolio by Henderson &amp; Venkatraman domain and perspective</h2>",
        _table(
            ["axis", "segment", "investments", "spend", "attainment", "low / at risk"],
            [[s.axis, s.key, str(s.investments), money(s.spend, cur), pct(s.attainment), str(s.low_or_at_risk)]
             for s in p.segments],
            numeric=(2, 3, 4, 5),
        ),
        f'<p class="note">Orphan spend (tied to no objective): {escape(", ".join(p.orphans) or "none")}. '
        f"Unfunded initiatives: {escape(', '.join(p.unfunded_initiatives) or 'none')}. "
        f"Unfunded objectives: {escape(', '.join(p.unfunded_objectives) or 'none')}.</p>",
        f"<h2>{escape(maturity_title(m))}</h2>",
        radar([(c.criterion.name, c.score) for c in m.criteria]),
        _table(
            ["criterion", "level", "evidenced", "business–IT gap"],
            [[c.criterion.name, "not assessed" if c.score is None else f"{c.score:.1f} ({level_name(c.score)})",
              pct(c.evidenced), "-" if c.disagreement is None else f"{c.disagreement:.1f}"] for c in m.criteria],
        ),
        "<h2>Wasted spend</h2>",
        bar_chart(
            [(inv.name, f.state(inv.id).wasted_spend, money(f.state(inv.id).wasted_spend, cur))
             for inv in f.strategy.investments.values()],
            colour=WASTE,
        ),
        "<h2>Roadmap</h2>",
        '<p class="note">priority = strategic weight × gap × (wasted spend + value at risk) × confidence / effort; '
        "items wait for the initiatives they depend on.</p>",
        _table(
            ["#", "action", "subject", "priority", "money at stake", "why", "after"],
            [[str(n), ACTIONS[i.action], i.name, "unscored" if i.priority is None else f"{i.priority:,.0f}",
              money(i.wasted + i.value_at_risk, cur), i.reason, " ".join(i.after)]
             for n, i in enumerate(a.roadmap[:ROADMAP_ROWS], start=1)],
            numeric=(3, 4),
        ),
    ]  # fmt: skip
    if a.displacement:
        latest = {}
        for s in a.displacement:
            latest[s.new_app, s.department] = s
        parts += [
            "<h2>Displacement of legacy applications (latest week)</h2>",
            bar_chart(
                [(f"{f.app_name(s.new_app)} — {s.department}", s.share, pct(s.share)) for s in latest.values()],
                maximum=1.0,
            ),
        ]
    if a.emergent:
        parts += [
            "<h2>Emergent strategy: candidates to adopt</h2>",
            _table(
                ["application", "users (28 days)", "growth per week", "capability"],
                [[c.name, str(c.active_users), f"{c.growth:+.0%}", c.capability or "-"] for c in a.emergent],
                numeric=(1, 2),
            ),
        ]
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} {f.as_of}</title><style>{CSS}</style></head><body>\n{body}\n</body></html>\n"
    )
