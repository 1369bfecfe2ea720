"""The steering committee report on hand-made facts: decisions first, quarter change, one time axis, gaps,
names not ids, autoescaping, and the template shipped with the package."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import tomllib
from dataclasses import replace
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from alignment.assessment import Assessment, assess
from alignment.facts import (
    AppInfo,
    Facts,
    InitiativeInfo,
    InterventionEffect,
    InvestmentInfo,
    InvestmentState,
    ObjectiveInfo,
    Strategy,
    UsageSummary,
)
from alignment.report import (
    MINUS,
    NO_OWNER,
    _count_delta,
    _level_delta,
    _money_delta,
    _pp,
    baseline_is_known,
    owner_of,
    previous_quarter_end,
    render,
    status_text,
)
from alignment.roadmap import Item
from alignment.svg import adoption_chart, segments
from alignment.text import money, pct
from pipeline.domain.status import REASON_WORDS

ROOT = Path(__file__).resolve().parents[2]
AS_OF = date(2026, 11, 20)
BASELINE = date(2026, 9, 30)
EVIL = "<script>alert(1)</script> Portal"
RAW = ("on_track", "not_started", "insufficient_data", "not_reached", *REASON_WORDS)


class Page(HTMLParser):
    """The visible text of an HTML page, the tables' rows by id and the sections' headings and first rows."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.sections: list[dict[str, str]] = []
        self._stack: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._stack.append(tag)
        a = dict(attrs)
        if tag == "section":
            self.sections.append({"id": a.get("id") or "", "heading": "", "first": ""})
        elif tag == "table":
            self._table = a.get("id") or f"table{len(self.tables)}"
            self.tables[self._table] = []
        elif tag == "tr" and "thead" not in self._stack:
            self._row = []
        elif tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        while self._stack and self._stack.pop() != tag:
            pass
        if tag == "td" and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self.tables[self._table].append(self._row)
            self._row = None
            if self.sections and self.sections[-1]["first"]:
                self.sections[-1]["done"] = "yes"

    def handle_data(self, data: str) -> None:
        if "style" in self._stack or not data.strip():
            return
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self.sections and "section" in self._stack:
            section = self.sections[-1]
            if "h2" in self._stack:
                section["heading"] += data
            elif (
                section["heading"]
                and not section.get("done")
                and "thead" not in self._stack
                and {"td", "text", "div"} & set(self._stack)
            ):
                # The first row of content (a table row, a chart's first text or a card's title): its longest text.
                words = " ".join(data.split())
                if len(words) > len(section["first"]):
                    section["first"] = words
                if "td" not in self._stack:
                    section["done"] = "yes"

    @property
    def visible(self) -> str:
        return " ".join(" ".join(self.text).split())


def visible_text(html: str) -> str:
    return Page(html).visible


def strategy() -> Strategy:
    def inv(id: str, name: str, initiative: str | None, objective: str | None, owner: str | None, **kw: object):
        base = InvestmentInfo(id, name, 10_000, date(2026, 1, 5), 0.8, date(2027, 3, 1), initiative, objective,
                              owner=owner)  # fmt: skip
        return replace(base, **kw)

    return Strategy(
        objectives=(ObjectiveInfo("obj-growth", "Grow revenue", ("ini-crm",)),
                    ObjectiveInfo("obj-costs", "Lower costs", ("ini-erp", "ini-portal"))),
        initiatives={
            "ini-crm": InitiativeInfo("ini-crm", "One view of the customer", "obj-growth", "business_strategy",
                                      "strategy_execution", owner="Maria Jansen"),
            "ini-erp": InitiativeInfo("ini-erp", "Modern finance", "obj-costs", "it_strategy", "service_level",
                                      owner="Pieter de Vries"),
            "ini-portal": InitiativeInfo("ini-portal", "Self-service portal", "obj-costs", "it_infrastructure",
                                         "competitive_potential", owner="Eva Smit"),
        },
        investments={
            "inv-crm": inv("inv-crm", "CRM rollout", "ini-crm", "obj-growth", "Maria Jansen", applications=("crm",),
                           seats=20),
            "inv-erp": inv("inv-erp", "ERP finance", "ini-erp", "obj-costs", "Pieter de Vries",
                           applications=("erp",), seats=20),
            "inv-portal": inv("inv-portal", EVIL, "ini-portal", "obj-costs", None, applications=("portal",),
                              go_live=date(2025, 6, 2), target_date=date(2027, 6, 30)),
        },
        applications={
            "crm": AppInfo("crm", "Salesforce", "customer_relationship"),
            "erp": AppInfo("erp", "SAP S/4HANA", "enterprise_resource_planning"),
            "portal": AppInfo("portal", "Portal", "self_service"),
            "notion": AppInfo("notion", "Notion", "knowledge_management", sanctioned=False),
        },
    )  # fmt: skip


def series(first: date, last: date, value: float, holes: tuple[tuple[date, date], ...] = ()) -> tuple:
    """A daily series from first to last; days inside a hole are None (no data) or missing altogether."""
    out = []
    day = first
    while day <= last:
        hole = any(a <= day <= b for a, b in holes)
        if not (hole and day.day % 2):  # in a hole: every other day None, the others missing
            out.append((day, None if hole else value))
        day += timedelta(days=1)
    return tuple(out)


def facts(as_of: date, crm: float, erp: float, crm_waste: float = 1000.0, erp_waste: float = 5000.0) -> Facts:
    states = {
        "inv-crm": InvestmentState("on_track", crm, 0.5, 0.9, 20, int(crm * 20), 0.9, crm_waste, "reached",
                                   date(2027, 5, 1), True),
        "inv-erp": InvestmentState("low", erp, 0.6, 0.9, 20, int(erp * 20), 0.5, erp_waste, "reached",
                                   date(2027, 1, 1), False, status_reason="below_plan"),
        "inv-portal": InvestmentState("unknown", None, 0.4, 0.2, 30, 2, status_reason="low_coverage"),
    }  # fmt: skip
    start = as_of - timedelta(days=60)
    return Facts(
        as_of,
        strategy(),
        states,
        UsageSummary(first_day=start),
        series={
            "inv-crm": series(start, as_of, crm, ((as_of - timedelta(days=30), as_of - timedelta(days=20)),)),
            "inv-erp": series(start, as_of, erp),
        },
        department_sizes={"Sales": 20, "Finance": 12},  # k-safe: departments of k people or more only
        k=5,
    )


# As alignment.roadmap words them: the decision is the item's, never the report's.
ITEMS = (
    Item("investment", "inv-erp", "ERP finance", "enable_and_train", "status low: adoption 30% vs plan 60%",
         "ini-erp", wasted=5000.0, value_at_risk=3000.0, gap=0.5, confidence=1.0, currency="EUR",
         owner="Pieter de Vries", decision="Fund enablement and training for ERP finance in Sales"),
    Item("applications", "crm+portal", "Salesforce and Portal", "consolidate",
         "interchangeable; 20% of their use is outside Salesforce", "ini-crm", gap=0.2, confidence=1.0,
         value_at_risk=400.0, decision="Standardise on Salesforce and retire Portal"),
    Item("application", "notion", "Notion", "sanction_shadow_it", "12 active users, catalogued, not sanctioned",
         value_at_risk=100.0, gap=1.0, confidence=1.0,
         decision="Sanction Notion (catalog it as sanctioned, with an owner) or offer an alternative"),
)  # fmt: skip


@pytest.fixture(scope="module")
def pair() -> tuple[Assessment, Assessment]:
    now = replace(assess(facts(AS_OF, 0.8, 0.3)), roadmap=ITEMS)
    before = replace(assess(facts(BASELINE, 0.5, 0.25)), roadmap=ITEMS)
    return now, before


@pytest.fixture(scope="module")
def html(pair: tuple[Assessment, Assessment]) -> str:
    return render(*pair)


def test_decisions_come_first_with_owners_and_money(html: str) -> None:
    page = Page(html)
    assert [s["heading"] for s in page.sections][:2] == [
        "Decisions requested", "Where we stand, and change since the end of Q3 2026"
    ]  # fmt: skip
    rows = page.tables["table0"]
    assert [r[1] for r in rows] == [item.decision for item in ITEMS]  # the roadmap's words
    assert [r[2] for r in rows] == ["Pieter de Vries", "Maria Jansen", NO_OWNER]  # item, initiative, nobody
    assert rows[0][3:6] == ["EUR 10,000", "EUR 5,000", "EUR 3,000"]  # annual cost, idle seats, value at risk apart
    assert rows[1][3] == "EUR 20,000"  # the investments funding the interchangeable tools


def test_the_items_own_owner_and_decision_come_first(pair: tuple[Assessment, Assessment]) -> None:
    item = replace(ITEMS[2], owner="Chief Digital Officer", decision="Sanction Notion for the knowledge base")
    assert owner_of(item, strategy()) == "Chief Digital Officer"
    rows = Page(render(replace(pair[0], roadmap=(item,)))).tables["table0"]
    assert rows[0][1:3] == ["Sanction Notion for the knowledge base", "Chief Digital Officer"]


def test_quarter_change_is_the_assessment_as_of_the_previous_quarters_end(
    html: str, pair: tuple[Assessment, Assessment]
) -> None:
    now, before = pair
    assert previous_quarter_end(AS_OF) == BASELINE
    assert previous_quarter_end(date(2026, 1, 1)) == date(2025, 12, 31)
    page = Page(html)
    invs = {r[0]: r for r in page.tables["change-investments"]}
    for inv in now.facts.strategy.investments.values():
        s0, s1 = before.facts.state(inv.id), now.facts.state(inv.id)
        row = invs[inv.name]
        assert row[1:3] == [pct(s0.adoption_ratio), pct(s1.adoption_ratio)]
        assert row[4:8] == [status_text(s0), status_text(s1), money(s0.wasted_spend, "EUR"),
                            money(s1.wasted_spend, "EUR")]  # fmt: skip
    assert invs["CRM rollout"][3] == "+30 pp"
    objectives = {r[0]: r[1:3] for r in page.tables["change-objectives"]}
    for o in now.facts.strategy.objectives:
        assert objectives[o.name] == [pct(before.objectives[o.id]), pct(now.objectives[o.id])]
    headline = {r[0]: r[1:] for r in page.tables["change-headline"]}
    assert headline["attainment (cost-weighted)"][:2] == [
        pct(before.portfolio.total.attainment), pct(now.portfolio.total.attainment)
    ]  # fmt: skip
    assert headline["wasted spend (idle seats)"] == ["EUR 6,000", "EUR 6,000", "EUR 0"]


def test_without_a_baseline_the_report_says_so(pair: tuple[Assessment, Assessment]) -> None:
    text = visible_text(render(pair[0]))
    assert "No change since the end of Q3 2026 can be shown" in text


def test_a_baseline_needs_telemetry_over_its_whole_window() -> None:
    # The window of 2026-09-30 is 2026-09-03 to 2026-09-30: a window that starts before telemetry under-counts.
    assert baseline_is_known(BASELINE, date(2026, 9, 3))
    assert baseline_is_known(BASELINE, date(2025, 1, 1))
    assert not baseline_is_known(BASELINE, date(2026, 9, 4))
    assert not baseline_is_known(BASELINE, date(2026, 11, 1))  # telemetry only after the quarter's end
    assert not baseline_is_known(BASELINE, None)  # no telemetry at all


def test_changes_are_those_of_the_figures_shown_with_one_minus_sign() -> None:
    now = replace(assess(facts(AS_OF, 0.7849, 0.3, crm_waste=1000.4, erp_waste=5000.4)), roadmap=ITEMS)
    before = replace(assess(facts(BASELINE, 0.7851, 0.3, crm_waste=1000.6, erp_waste=5000.4)), roadmap=ITEMS)
    page = Page(render(now, before))
    crm = next(r for r in page.tables["change-investments"] if r[0] == "CRM rollout")
    assert crm[1:4] == ["79%", "78%", f"{MINUS}1 pp"]  # not "0 pp": the change of the figures shown
    assert crm[6:8] == ["EUR 1,001", "EUR 1,000"]
    headline = {r[0]: r[1:] for r in page.tables["change-headline"]}
    assert headline["wasted spend (idle seats)"] == ["EUR 6,001", "EUR 6,001", "EUR 0"]  # 6,001.2 and 6,000.8
    assert _money_delta(1000.6, 1000.4, "EUR") == f"{MINUS}EUR 1"
    assert _money_delta(1000.4, 1000.6, "EUR") == "+EUR 1"  # 1,000 -> 1,001, although 0.2 apart
    assert _pp(0.7851, 0.7849) == f"{MINUS}1 pp" and _pp(0.5, 0.8) == "+30 pp" and _pp(0.5, 0.504) == "0 pp"
    assert _level_delta(3.24, 3.16) == "0"  # 3.2 and 3.2
    assert _level_delta(3.26, 3.14) == f"{MINUS}0.2"  # 3.3 and 3.1
    assert _level_delta(2.0, 3.0) == "+1.0"
    assert _count_delta(3, 1) == f"{MINUS}2" and _count_delta(1, 3) == "+2" and _count_delta(2, 2) == "0"
    deltas = [row[-1] for table in ("change-headline", "change-objectives") for row in page.tables[table]]
    deltas += [row[3] for row in page.tables["change-investments"]]
    assert not [d for d in deltas if re.match(r"-\s*\w", d)]  # no hyphen-minus: U+2212 throughout


def test_money_is_in_each_items_currency(pair: tuple[Assessment, Assessment]) -> None:
    now = pair[0]
    s = now.facts.strategy
    usd = replace(s.investments["inv-erp"], currency="USD")
    facts_usd = replace(now.facts, strategy=replace(s, investments={**s.investments, "inv-erp": usd}))
    item = replace(ITEMS[0], currency="USD")
    page = Page(render(replace(now, facts=facts_usd, roadmap=(item, *ITEMS[1:]))))
    decision = page.tables["table0"][0]
    assert decision[3:6] == ["USD 10,000", "USD 5,000", "USD 3,000"]  # annual cost, spend at stake, value at risk
    roadmap = page.tables["roadmap-items"][0]
    assert roadmap[2] == "ERP finance" and roadmap[5:7] == ["USD 5,000", "USD 3,000"]
    assert "idle seats cost USD 5,000 a year" in page.visible  # the ERP card


def test_an_annual_cost_in_two_currencies_is_never_added(pair: tuple[Assessment, Assessment]) -> None:
    now = pair[0]
    s = now.facts.strategy
    usd = replace(s.investments["inv-portal"], currency="USD")
    facts_usd = replace(now.facts, strategy=replace(s, investments={**s.investments, "inv-portal": usd}))
    page = Page(render(replace(now, facts=facts_usd)))
    assert page.tables["table0"][1][3] == "EUR 10,000 + USD 10,000"  # Salesforce and Portal


def test_unscored_items_show_no_confidence_and_no_money(pair: tuple[Assessment, Assessment]) -> None:
    unfunded = Item("initiative", "ini-portal", "Self-service portal", "fund_initiative",
                    "no investment serves this initiative", "ini-portal", owner="Eva Smit",
                    decision="Fund Self-service portal or drop it from the strategy")  # fmt: skip
    assert unfunded.priority is None and unfunded.confidence == 0.0
    page = Page(render(replace(pair[0], roadmap=(*ITEMS, unfunded))))
    row = page.tables["roadmap-items"][-1]
    assert row[1:7] == ["fund the initiative or drop it from the strategy", "Self-service portal", "Eva Smit",
                        "unscored", "-", "-"]  # fmt: skip
    assert not [cell for cell in row if "%" in cell]  # no "confidence 0%"
    decision = page.tables["table0"][-1]
    assert decision[1:6] == ["Fund Self-service portal or drop it from the strategy", "Eva Smit", "-", "-", "-"]


def test_every_adoption_chart_shares_one_time_axis(html: str, pair: tuple[Assessment, Assessment]) -> None:
    charts = re.findall(r'<svg[^>]*class="adoption"[^>]*>.*?</svg>', html, re.S)
    assert len(charts) == 3
    axes = {re.search(r'data-first="([^"]+)" data-last="([^"]+)"', c).groups() for c in charts}  # type: ignore[union-attr]
    assert axes == {("2025-06-02", "2027-06-30")}  # earliest go-live, latest target date
    today = {re.search(r'class="today" x1="([\d.]+)"', c).group(1) for c in charts}  # type: ignore[union-attr]
    assert len(today) == 1
    # The plan is drawn into the future: its last point is at the right end of the axis.
    plan_ends = {re.findall(r'class="plan"[^>]*points="[^"]* ([\d.]+),[\d.]+"', c)[-1] for c in charts}
    assert plan_ends == {"320.0"}  # width 330 - right padding 10


def test_days_without_data_are_gaps_never_zero() -> None:
    first, last = date(2026, 1, 1), date(2026, 1, 20)
    data = [(first + timedelta(days=n), 0.5) for n in range(5)]  # 1-5 January
    data += [(date(2026, 1, 6), None), (date(2026, 1, 7), None)]  # no data: null ratio
    data += [(date(2026, 1, 10) + timedelta(days=n), 0.6) for n in range(4)]  # 8-9 January: no row at all
    data += [(date(2026, 1, 15), 0.7)]  # a lone known day
    assert [len(run) for run in segments(data)] == [5, 4, 1]
    svg = str(adoption_chart("x", data, [], first, last))
    lines = re.findall(r'<polyline class="actual"[^>]*points="([^"]+)"', svg)
    dots = re.findall(r'<circle class="actual" cx="[\d.]+" cy="([\d.]+)"', svg)
    assert len(lines) == 2 and len(dots) == 1
    ys = [float(p.split(",")[1]) for line in lines for p in line.split()] + [float(y) for y in dots]
    assert len(ys) == 10  # one vertex per known day
    zero = 160 - 22  # the 0 % line: height - bottom padding
    assert zero not in ys and max(ys) < zero


def test_no_raw_ids_or_snake_case_in_the_visible_text(html: str) -> None:
    text = visible_text(html)
    s = strategy()
    for raw in [*s.investments, *s.initiatives, *(o.id for o in s.objectives), *RAW]:
        assert raw not in text, raw
    assert not re.findall(r"\b[a-z]+_[a-z_]+\b", text)
    assert "METRICS.md" not in text and "docs/metrics.md" in text
    assert "Grow revenue" in text and "ERP finance" in text


def test_status_reasons_are_shown_in_words_next_to_the_status(html: str) -> None:
    text = visible_text(html)
    assert f"low — {REASON_WORDS['below_plan']}" in text
    assert f"unknown — {REASON_WORDS['low_coverage']} (coverage 20%)" in text
    assert "on track, but at risk" in text  # the CRM forecast is late


def test_low_or_at_risk_count_matches_the_cards(html: str) -> None:
    cards = re.findall(r'<div class="card (\w+)">', html)
    assert sorted(cards) == ["low", "muted", "risk"]
    kpi = re.search(r"<b>(\d+)</b><span>investments? low or at risk</span>", html)
    assert kpi is not None and int(kpi.group(1)) == sum(1 for c in cards if c in ("low", "risk")) == 2
    assert "<b>2</b><span>investments low or at risk</span>" in html  # and "1 investment", singular


def test_the_headline_is_singular_for_one_and_says_since_when_telemetry_runs() -> None:
    base = facts(AS_OF, 0.8, 0.3)
    on_time = {**base.states, "inv-crm": replace(base.states["inv-crm"], at_risk=False)}  # only ERP (low) is left
    one = render(assess(replace(base, states=on_time)))
    assert "<b>1</b><span>investment low or at risk</span>" in one
    assert f"with telemetry since {AS_OF - timedelta(days=60)}" in one  # the reader knows the history is short


def test_catalog_names_are_escaped(html: str) -> None:
    assert "<script" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt; Portal") >= 4  # change table, card, chart, waste bar
    assert EVIL in visible_text(html)


def test_the_template_ships_with_the_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    setuptools = config["tool"]["setuptools"]
    patterns = setuptools["package-data"]["alignment"]
    templates = [p.relative_to(ROOT / "alignment").as_posix() for p in (ROOT / "alignment" / "templates").iterdir()]
    assert templates and all(any(fnmatch.fnmatch(t, p) for p in patterns) for t in templates)
    assert any(d.startswith("jinja2>=3.1") for d in config["project"]["dependencies"])


EFFECTS = (
    InterventionEffect("crm-training", "inv-crm", "training", date(2026, 9, 1), date(2026, 9, 2), date(2026, 9, 30),
                       ("Sales",), "effect", level=0.99, effect=0.2, effect_low=0.083, effect_high=0.35,
                       trends="no_divergence_detected", additional_active_users=12.0, cost=12_000.0, currency="EUR",
                       cost_per_additional_active_user=1_000.0,
                       # 60 treated people: 12,000 / (0.35 x 60) .. 12,000 / (0.083 x 60)
                       cost_per_additional_active_user_low=12_000 / (0.35 * 60),
                       cost_per_additional_active_user_high=12_000 / (0.083 * 60), overlaps=("crm-enable",)),
    InterventionEffect("erp-mail", "inv-erp", "communication", date(2026, 9, 8), date(2026, 9, 8),
                       date(2026, 10, 6), ("Finance",), "no_detectable_effect", effect=0.175, effect_low=-0.075,
                       effect_high=0.417, trends="diverging", cost=500.0, currency="EUR"),
    InterventionEffect("portal-licence", "inv-portal", "licence_change", date(2026, 10, 1), date(2026, 10, 1),
                       date(2026, 10, 29), (), "effect", effect=-0.1, effect_low=-0.2, effect_high=-0.01),
    InterventionEffect("crm-enable", "inv-crm", "enablement", date(2026, 9, 1), date(2026, 9, 1),
                       date(2026, 9, 29), ("Sales",), "not_estimable", reason="no_comparison_group",
                       overlaps=("crm-training", "crm-webinar", "erp-late")),
    InterventionEffect("erp-small", "inv-erp", "training", date(2026, 9, 1), date(2026, 9, 1), date(2026, 9, 29),
                       (), "not_estimable", reason="small_group"),
    InterventionEffect("erp-late", "inv-erp", "other", date(2026, 11, 10), date(2026, 11, 10), date(2026, 12, 8),
                       ("Finance",), "not_estimable", reason="window_not_over"),
)  # fmt: skip


def test_what_worked_gives_each_interventions_verdict_effect_and_cost_in_words() -> None:
    a = assess(replace(facts(AS_OF, 0.8, 0.3), effects=EFFECTS))
    html = render(replace(a, roadmap=ITEMS))
    page = Page(html)
    assert "What worked" in [s["heading"] for s in page.sections]
    rows = page.tables["what-worked"]
    assert rows == [
        ["Training for CRM rollout in Sales, 1 Sep 2026 to 2 Sep 2026 (also in its weeks: the enablement of 1 Sep "
         "2026; where the same people were reached, their effects cannot be told apart)",
         "Worked: adoption rose more than where it was not done",
         "+20.0 pp (99 % interval +8.3 pp to +35.0 pp)",
         "EUR 571 to 2,410 per additional active user (about EUR 1,000: EUR 12,000 for an estimated 12 more active "
         "users)"],
        ["Communication for ERP finance in Finance, 8 Sep 2026",
         "Inconclusive: the data fit an effect anywhere between \u22127.5 and +41.7 points (99 % interval); more "
         "time or a larger group could tell (the groups were already drifting apart before it: read with caution)",
         "+17.5 pp (99 % interval \u22127.5 pp to +41.7 pp)",
         "EUR 500 spent; per additional active user: not known while the effect is inconclusive"],
        [f"Licence change for {EVIL}, 1 Oct 2026", "Adoption fell more than where it was not done",
         "\u221210.0 pp (99 % interval \u221220.0 pp to \u22121.0 pp)", "-"],
        ["Enablement for CRM rollout in Sales, 1 Sep 2026 (also in its weeks: the training of 1 Sep 2026 to 2 Sep "
         "2026, another action, another action of 10 Nov 2026; where the same people were reached, their effects "
         "cannot be told apart)",
         "Cannot tell yet: no department without the action is left to compare with", "-", "-"],
        ["Training for ERP finance, 1 Sep 2026",
         "Cannot tell yet: a group to compare holds fewer than 5 people (privacy)", "-", "-"],
        ["Other for ERP finance in Finance, 10 Nov 2026", "Cannot tell yet: the weeks after it end on 8 Dec 2026; "
         "it is estimated from 16 Dec 2026 on", "-", "-"],
    ]  # fmt: skip
    text = visible_text(html)
    assert not re.findall(r"\b[a-z]+_[a-z_]+\b", text)
    assert "<script>alert(1)" not in html


def test_without_interventions_what_worked_says_how_to_record_them(html: str) -> None:
    text = visible_text(html)
    assert "What worked No intervention is recorded for this day" in text


def worked_rows(*effects: InterventionEffect) -> list[list[str]]:
    """The What worked table of the report on `effects`."""
    a = assess(replace(facts(AS_OF, 0.8, 0.3), effects=effects))
    return Page(render(replace(a, roadmap=ITEMS))).tables["what-worked"]


def test_an_inconclusive_effect_is_never_read_as_no_effect() -> None:
    """An interval that contains 0 cannot tell a rise from none: the report says inconclusive, gives the interval and
    what could tell, and nowhere calls it no effect."""
    mail = replace(EFFECTS[1], trends="no_divergence_detected", effect=0.1, effect_low=-0.05, effect_high=0.25)
    row = worked_rows(mail)[0]
    assert row[1] == (
        "Inconclusive: the data fit an effect anywhere between \u22125.0 and +25.0 points (99 % interval); more time "
        "or a larger group "
        "could tell"
    )
    assert row[3] == "EUR 500 spent; per additional active user: not known while the effect is inconclusive"
    html = render(replace(assess(replace(facts(AS_OF, 0.8, 0.3), effects=(mail,))), roadmap=ITEMS))
    worked = Page(html).visible.split("What worked", 1)[1].split("Attainment by objective", 1)[0]
    assert "inconclusive, not evidence of no effect" in worked  # the section's note says how to read it
    assert not re.search(r"\bno (measurable |detectable )?effect\b", " ".join(row).lower())
    for wrong in ("no measurable effect", "within what chance explains", "no additional active users"):
        assert wrong not in worked.lower(), wrong


def test_the_cost_per_additional_active_user_is_the_range_its_interval_gives() -> None:
    """The point value alone would hide that the interval allows 2.5 times fewer additional users: the range first,
    the point value as 'about'. A file published before the range (none) shows the point value as 'about' only."""
    training = EFFECTS[0]
    assert worked_rows(training)[0][3] == (
        "EUR 571 to 2,410 per additional active user (about EUR 1,000: EUR 12,000 for an estimated 12 more active "
        "users)"
    )
    old_file = replace(training, cost_per_additional_active_user_low=None, cost_per_additional_active_user_high=None)
    assert worked_rows(old_file)[0][3] == (
        "about EUR 1,000 per additional active user (EUR 12,000 for an estimated 12 more active users)"
    )
    fall = replace(EFFECTS[2], cost=800.0, currency="EUR")
    assert worked_rows(fall)[0][3] == "EUR 800 spent; adoption fell, so there are no additional active users"


@pytest.mark.parametrize("verdict", ["effect", "no_detectable_effect"])
def test_a_diverging_pre_trend_is_said_next_to_the_verdict(verdict: str) -> None:
    caution = "(the groups were already drifting apart before it: read with caution)"
    for trends, said in (("diverging", True), ("no_divergence_detected", False), ("not_checked", False)):
        effect = replace(EFFECTS[0], verdict=verdict, trends=trends)
        assert worked_rows(effect)[0][1].endswith(caution) is said, (verdict, trends)


PDFTOTEXT = shutil.which("pdftotext")


@pytest.mark.skipif(
    shutil.which("chromium") is None or PDFTOTEXT is None,
    reason="needs the Debian packages chromium and poppler-utils (scripts/setup.sh installs them)",
)
def test_what_worked_prints_whole_on_its_a4_page(tmp_path: Path) -> None:
    """Printed by headless Chromium on A4, the What worked page holds every cell of its table in full: the words of
    the verdicts and cost ranges wrap inside the page, none runs off its right edge (cropped to the page here)."""
    from tests.alignment.test_alignment_simulated import chromium

    html = render(replace(assess(replace(facts(AS_OF, 0.8, 0.3), effects=EFFECTS)), roadmap=ITEMS))
    page = Page(html)
    (tmp_path / "report.html").write_text(html)
    pdf = tmp_path / "report.pdf"
    chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", (tmp_path / "report.html").as_uri())
    ids = [s["id"] for s in page.sections]
    n = ids.index("worked") + 1
    # -W/-H crop to the A4 page box (595 x 842 pt): text drawn past its edge is left out.
    crop = ["-x", "0", "-y", "0", "-W", "595", "-H", "842"]
    cropped = subprocess.run(["pdftotext", "-raw", "-f", str(n), "-l", str(n), *crop, str(pdf), "-"], check=True,
                             capture_output=True, text=True).stdout  # fmt: skip
    assert cropped.startswith("What worked")
    text = "".join(cropped.split())  # a cell wraps where the page breaks its lines: compare without spaces
    for row in page.tables["what-worked"]:
        for cell in row:
            assert "".join(cell.split()) in text, cell
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    assert f"Pages: {len(ids)}" in " ".join(info.split())  # one page a section: What worked did not spill over
