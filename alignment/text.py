"""Plain-text and CSV renderings of an assessment for the terminal and spreadsheets."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence

from alignment.assessment import Assessment
from alignment.maturity import Maturity
from alignment.roadmap import ACTIONS, SPEND_AT_STAKE, VALUE_AT_RISK, Item

ROADMAP_COLUMNS = (
    "rank",
    "kind",
    "subject",
    "name",
    "initiative",
    "action",
    "priority",
    "weight",
    "gap",
    "wasted",
    "value_at_risk",
    "confidence",
    "effort",
    "after",
    "reason",
    "weighs",
    "currency",
    "departments",
    "owner",
    "decision",
)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A left-aligned text table with a rule under the header."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in (header, *rows)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def pct(value: float | None) -> str:
    """0.1234 -> '12%'; None -> '-'."""
    return "-" if value is None else f"{value:.0%}"


def money(value: float | None, currency: str = "") -> str:
    """12345.6 -> 'EUR 12,346'; None -> '-'."""
    if value is None:
        return "-"
    return f"{currency} {value:,.0f}".strip()


def number(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}"


def maturity_title(m: Maturity) -> str:
    """The heading: a Luftman maturity only with survey answers, else telemetry-evidenced indicators."""
    return f"Alignment maturity: {m.label}"


def maturity_text(m: Maturity) -> str:
    rows = []
    for c in m.criteria:
        rows.append(
            [
                c.criterion.name,
                c.level_text,
                pct(c.evidenced),
                number(c.disagreement, 1),
                ", ".join(f"{a.attribute}={a.score:.1f} [{a.source}]" for a in c.assessed if a.score is not None),
            ]
        )
    lines = [maturity_title(m), table(["criterion", "level", "evidenced", "business-IT gap", "attributes"], rows)]
    weakest = m.weakest
    if weakest is None:
        lines.append(f"overall: {m.headline}")
    else:
        lines.append(f"overall: {m.headline}; weakest: {weakest.criterion.name} ({weakest.level_text})")
    if not m.surveyed:
        lines.append(
            "Telemetry alone evidences only some attributes; add business and IT survey answers (--survey FILE) "
            "for a maturity assessment."
        )
    return "\n".join(lines)


def assess_text(a: Assessment) -> str:
    """Everything `alignmon assess` prints."""
    p = a.portfolio
    cur = p.currency
    total = p.total.spend
    out = [f"Alignment assessment as of {a.facts.as_of} (k = {a.facts.k})", ""]
    out.append("Henderson & Venkatraman portfolio")
    rows = [
        [s.axis, s.key, str(s.initiatives), str(s.investments), money(s.spend, cur), pct(s.spend_share(total)),
         pct(s.attainment), str(s.low_or_at_risk)]
        for s in p.segments
    ]  # fmt: skip
    out.append(
        table(["axis", "segment", "initiatives", "investments", "spend", "share", "attainment", "low/at risk"], rows)
    )
    out.append(f"orphan spend (tied to no objective): {money(p.orphan.spend, cur)} — {', '.join(p.orphans) or 'none'}")
    out.append(f"unfunded initiatives: {', '.join(p.unfunded_initiatives) or 'none'}")
    out.append(f"unfunded objectives: {', '.join(p.unfunded_objectives) or 'none'}")
    out.append("")
    out.append("Attainment by objective")
    names = {o.id: o.name for o in a.facts.strategy.objectives}
    out.append(table(["objective", "name", "attainment"], [[o, names[o], pct(v)] for o, v in a.objectives.items()]))
    out.append("")
    out.append(maturity_text(a.maturity))
    out.append("")
    out.append("Displacement of legacy applications (share of combined focus time on the new one, per week)")
    if a.displacement:
        switches = sorted({(s.new_app, s.old_app) for s in a.displacement})
        for new, old in switches:
            shares = [s for s in a.displacement if (s.new_app, s.old_app) == (new, old)]
            weeks = sorted({s.week for s in shares})
            departments = list(dict.fromkeys(s.department for s in shares))
            cells = {(s.department, s.week): pct(s.share) for s in shares}
            out.append(f"{a.facts.app_name(new)} replacing {a.facts.app_name(old)} (week starting)")
            out.append(
                table(
                    ["department", *(w.strftime("%m-%d") for w in weeks)],
                    [[d, *(cells.get((d, w), "-") for w in weeks)] for d in departments],
                )
            )
    else:
        out.append("none (no application with `replaces:` has k-safe use in the last weeks)")
    out.append("")
    out.append("Emergent strategy: unsanctioned tools adopted bottom-up (candidates to adopt)")
    if a.emergent:
        rows = [
            [c.name, "catalogued" if c.in_catalog else "uncatalogued", c.capability or "-", str(c.active_users),
             " ".join("<k" if v is None else str(v) for v in c.weekly), f"{c.growth:+.0%}/week"]
            for c in a.emergent
        ]  # fmt: skip
        out.append(table(["application", "catalog", "capability", "users (28d)", "weekly users", "growth"], rows))
    else:
        out.append("none")
    return "\n".join(out)


def roadmap_rows(items: Sequence[Item]) -> list[dict[str, str]]:
    """The roadmap as string cells, one dict per item (columns ROADMAP_COLUMNS)."""
    return [
        {
            "rank": str(n),
            "kind": i.kind,
            "subject": i.subject,
            "name": i.name,
            "initiative": i.initiative or "",
            "action": i.action,
            "priority": "" if i.priority is None else f"{i.priority:.2f}",
            "weight": f"{i.weight:g}",
            "gap": f"{i.gap:.6f}",
            "wasted": f"{i.wasted:.2f}",
            "value_at_risk": f"{i.value_at_risk:.2f}",
            "confidence": f"{i.confidence:.6f}",
            "effort": f"{i.effort:g}",
            "after": " ".join(i.after),
            "reason": i.reason,
            "weighs": i.weighs or "",
            "currency": i.currency,
            "departments": ", ".join(i.departments),
            "owner": i.owner or "",
            "decision": i.decision,
        }
        for n, i in enumerate(items, start=1)
    ]


def roadmap_csv(items: Sequence[Item]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=ROADMAP_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(roadmap_rows(items))
    return buffer.getvalue()


def at_stake(value: float, currency: str, weighed: bool) -> str:
    """A money figure of a roadmap item: '-' when there is none, '*' marking the one its priority weighs."""
    if value <= 0:
        return "-"
    return money(value, currency) + ("*" if weighed else "")


def roadmap_text(a: Assessment) -> str:
    cur = a.portfolio.currency
    rows = [
        [str(n), i.kind, i.subject, ACTIONS[i.action], "unscored" if i.priority is None else f"{i.priority:,.0f}",
         at_stake(i.wasted, i.currency or cur, i.weighs == SPEND_AT_STAKE),
         at_stake(i.value_at_risk, i.currency or cur, i.weighs == VALUE_AT_RISK),
         pct(i.confidence), f"{i.effort:g}", i.owner or "-", " ".join(i.after), i.reason]
        for n, i in enumerate(a.roadmap, start=1)
    ]  # fmt: skip
    header = ["#", "kind", "subject", "action", "priority", "spend at stake", "value at risk", "confidence", "effort",
              "owner", "after", "why"]  # fmt: skip
    out = [
        f"Roadmap as of {a.facts.as_of}: priority = weight × money* × confidence / effort",
        table(header, rows),
        "* the figure the priority weighs. Spend at stake is what the action can save (idle seats, duplicate "
        "tools, priced shadow IT);",
        "  value at risk is the spend whose planned use is not happening. They overlap, so they are never added "
        "(docs/metrics.md).",
        "",
        "Initiatives by total priority (never before what they depend on)",
        table(
            ["initiative", "name", "priority", "items", "depends on"],
            [[r.initiative, r.name, f"{r.priority:,.0f}" if r.priority > 0 else "-", str(r.items),
              ", ".join(r.depends_on)]
             for r in a.initiative_ranking],
        ),
    ]  # fmt: skip
    return "\n".join(out)
