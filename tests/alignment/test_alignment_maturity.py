"""Luftman maturity: proxy values and levels by hand, survey precedence, disagreement, wording."""

from __future__ import annotations

import math
import re
from datetime import date

import pytest

from alignment.criteria import CRITERIA_BY_ID
from alignment.facts import (
    AppInfo,
    Facts,
    InitiativeInfo,
    InvestmentInfo,
    InvestmentState,
    Strategy,
    Usage,
)
from alignment.maturity import (
    PROXIES,
    SURVEY_LABEL,
    TELEMETRY_LABEL,
    Band,
    maturity,
    proxies,
)
from alignment.summary import summarise
from alignment.survey import Answer
from alignment.svg import radar
from alignment.text import maturity_text

AS_OF = date(2026, 6, 30)
GO, TARGET, RENEW = date(2026, 1, 1), date(2027, 1, 1), date(2026, 12, 1)


def users(*ids: int) -> frozenset[str]:
    return frozenset(f"u{i}" for i in ids)


def facts() -> Facts:
    strategy = Strategy(
        initiatives={"A": InitiativeInfo("A", "A", "O1", "business_strategy", "strategy_execution", weight=2)},
        investments={
            "a1": InvestmentInfo(
                "a1", "a1", 1000, GO, 0.8, TARGET, "A", "O1", ("teams",), seats=10, renewal_date=RENEW
            ),
            "a2": InvestmentInfo(
                "a2", "a2", 3000, GO, 0.8, TARGET, "A", "O1", ("skype",), seats=20, renewal_date=RENEW
            ),
            "b1": InvestmentInfo("b1", "b1", 2000, GO, 0.8, TARGET, "A", "O1", ("notion",)),
            "z": InvestmentInfo("z", "z", 500, GO, 0.8, TARGET, None, None, (), renewal_date=RENEW),
        },
        applications={
            "teams": AppInfo("teams", "Teams", "chat"),
            "skype": AppInfo("skype", "Skype", "chat"),
            "notion": AppInfo("notion", "Notion", "notes", sanctioned=False),
        },
    )
    states = {
        "a1": InvestmentState("on_track", 0.4, 0.5, 1.0, population=10, mau=4, wasted_spend=600),
        "a2": InvestmentState("low", 0.1, 0.4, 1.0, population=20, mau=3, wasted_spend=1500),
        "b1": InvestmentState("unknown", None, 0.5, 0.1, population=5, mau=1),
        "z": InvestmentState("on_track", 0.6, 0.5, 1.0, population=4, mau=3),
    }
    usage = Usage(
        focus_s={"teams": 600, "skype": 200, "notion": 150, "uncatalogued:foo": 50},
        active_users={
            "teams": users(1, 2, 3, 4, 5, 6),
            "skype": users(1, 2),
            "notion": users(3, 4, 5, 6, 7),
            "uncatalogued:foo": users(8),
        },
        active_user_days={"teams": 10, "skype": 5, "notion": 20},
        active_focus_s={"teams": 18000, "skype": 3000, "notion": 99999},
    )
    return Facts(AS_OF, strategy, states, summarise(usage, strategy, {}, 5), k=5)


def test_band_levels_at_the_cut_offs() -> None:
    higher = Band((0.5, 0.7, 0.85, 0.95), higher_is_better=True)
    assert [higher.level(v) for v in (0.0, 0.5, 0.69, 0.7, 0.85, 0.95, 1.0)] == [1, 2, 2, 3, 4, 5, 5]
    lower = Band((3.0, 2.0, 1.5, 1.1), higher_is_better=False)
    assert [lower.level(v) for v in (math.inf, 3.01, 3.0, 2.0, 1.5, 1.1, 1.0)] == [1, 1, 2, 3, 4, 5, 5]


def test_every_proxy_by_hand() -> None:
    found = {p.spec.id: p for p in proxies(facts()).values()}
    assert {p.id for p in PROXIES} == set(found)
    expected = {
        # 800 of 1000 focus seconds on sanctioned apps.
        "sanctioned_use_share": (0.8, 3),
        # chat: 1 / (0.75² + 0.25²) = 1.6 over 800 s; notes: 1.0 over 150 s; uncatalogued apps have no capability.
        "effective_tools_per_capability": ((800 * 1.6 + 150 * 1.0) / 950, 3),
        # notion has 5 >= k users (shadow); foo has 1 (not shadow): 5 of 8 active people.
        "shadow_it_user_share": (5 / 8, 1),
        "spend_tied_to_initiative": (6000 / 6500, 4),
        # judged investments: planned users 0.5*10 + 0.4*20 + 0.5*4 = 15; active 4 + 3 + 3 = 10.
        "cost_per_active_user_vs_plan": (1.5, 4),
        # seats known on a1, a2: (600 + 1500) / (1000 + 3000).
        "waste_share": (0.525, 1),
        # owner + target + renewal date: a1, a2, z of 4.
        "governance_completeness": (0.75, 3),
        # funded apps teams, skype, notion: (18000 + 3000 + 99999) s / (10 + 5 + 20) days / 60.
        "depth_minutes": ((18000 + 3000 + 99999) / 35 / 60, 5),
    }
    for proxy_id, (value, level) in expected.items():
        assert found[proxy_id].value == pytest.approx(value), proxy_id
        assert found[proxy_id].level == level, proxy_id


def test_no_evidence_is_not_assessed() -> None:
    empty = Facts(AS_OF, Strategy())
    found = proxies(empty)
    assert all(p.value is None and p.level is None for p in found.values())
    m = maturity(found)
    assert m.overall is None and m.weakest is None
    assert all(c.score is None and c.evidenced == 0 for c in m.criteria)
    assert "overall: not assessed" in maturity_text(m)


def test_telemetry_only_criteria_overall_and_wording() -> None:
    evidence = proxies(facts())
    m = maturity(evidence)
    scope = m.by_id("scope_architecture")
    # scope_of_it 1, standards 3, integration 3 (depth-weighted ENT 1.505 -> 3); flexibility not assessed.
    assert scope.score == pytest.approx(7 / 3)
    assert scope.evidenced == pytest.approx(3 / 4)
    # 3 of 7 attributes evidenced: the mean is kept, but it is no level.
    value = m.by_id("value_measurement")
    assert value.mean == pytest.approx((1 + 4 + 4) / 3)
    assert value.evidenced == pytest.approx(3 / 7)
    assert value.score is None and value.insufficient
    assert m.by_id("skills").mean == 5.0 and m.by_id("skills").score is None  # 1 of 7
    assert m.by_id("governance").score is None  # 1 of 6
    assert m.by_id("communications").score is None and not m.by_id("communications").insufficient
    assert m.by_id("partnership").score is None
    assert m.overall == pytest.approx(7 / 3)
    assert m.weakest is not None and m.weakest.criterion.id == "scope_architecture"
    assert all(c.disagreement is None for c in m.criteria)
    assert m.label == TELEMETRY_LABEL == "telemetry-evidenced indicators"
    text = maturity_text(m)
    assert "telemetry-evidenced indicators" in text
    assert "luftman score" not in text.lower()
    assert "luftman" not in text.lower()


def test_a_level_needs_half_of_the_attributes_evidenced() -> None:
    """docs/metrics.md, Alignment maturity: below half evidenced is "insufficient evidence", never a number."""
    # Governance has 6 attributes: 2 rated (33 %) is insufficient, 3 rated (exactly half) is a level.
    two = [Answer("it", "governance", a, 5) for a in ("strategic_planning", "reporting_structure")]
    three = [*two, Answer("it", "governance", "budgetary_control", 2)]
    short = maturity({}, two).by_id("governance")
    assert short.mean == 5.0 and short.score is None and short.insufficient
    assert short.level_text == "insufficient evidence (33% evidenced)"
    assert not any(ch.isdigit() for ch in short.level_text.split("(")[0])
    half = maturity({}, three).by_id("governance")
    assert half.score == pytest.approx(4.0) and not half.insufficient
    assert half.level_text == "4.0 (improved / managed)"
    assert maturity({}).by_id("governance").level_text == "not assessed"


def test_overall_averages_the_levelled_criteria_and_says_how_many() -> None:
    answers = [Answer("it", "governance", a, 2) for a in CRITERIA_BY_ID["governance"].attributes[:3]]
    answers += [Answer("business", "partnership", a, 4) for a in CRITERIA_BY_ID["partnership"].attributes]
    answers += [Answer("business", "skills", "trust", 5)]  # 1 of 7: insufficient, left out of the overall
    m = maturity({}, answers)
    assert [c.criterion.id for c in m.levelled] == ["governance", "partnership"]
    assert m.overall == pytest.approx(3.0)
    assert m.headline == "3.0 / 5 over 2 of 6 criteria"
    assert m.weakest is not None and m.weakest.criterion.id == "governance"
    only_short = maturity({}, [Answer("business", "skills", "trust", 5)])
    assert only_short.overall is None and only_short.headline == "insufficient evidence for every criterion"
    assert maturity({}).headline == "not assessed (no evidence for any criterion)"


def test_the_radar_plots_only_levelled_criteria_on_a_labelled_1_to_5_scale() -> None:
    answers = [Answer("it", "governance", a, 2) for a in CRITERIA_BY_ID["governance"].attributes[:3]]
    answers += [Answer("business", "skills", "trust", 5)]
    m = maturity({}, answers)
    svg = str(radar([(c.criterion.name, c.score, c.level_text) for c in m.criteria]))
    assert svg.count('class="ring"') == 5
    assert re.findall(r'<text class="scale"[^>]*>(\d)</text>', svg) == ["1", "2", "3", "4", "5"]
    assert svg.count('<circle class="level"') == 1  # governance only
    assert "Governance: 2.0" in svg
    assert "Skills" in svg and "insufficient evidence (14% evidenced)" in svg
    words = " ".join(re.findall(r">([^<]+)<", svg))  # the text shown, not the coordinates
    assert "Skills: 5" not in words and "5.0" not in words
    assert "not assessed" in svg  # communications, partnership, scope & architecture, value measurement


def test_survey_answers_take_precedence_and_show_disagreement() -> None:
    answers = [
        Answer("business", "communications", "knowledge_sharing", 4),
        Answer("business", "communications", "knowledge_sharing", 2),
        Answer("it", "communications", "knowledge_sharing", 2),
        Answer("business", "communications", "liaison_effectiveness", 5),
        Answer("it", "scope_architecture", "standards_articulation", 4),
    ]
    m = maturity(proxies(facts()), answers)
    comms = m.by_id("communications")
    # knowledge_sharing: business mean 3, IT 2 -> 2.5; liaison: business only, 5.
    assert comms.mean == pytest.approx((2.5 + 5) / 2)
    assert comms.score is None  # 2 of 6 attributes: insufficient evidence
    assert comms.disagreement == pytest.approx(1.0)
    assert comms.evidenced == pytest.approx(2 / 6)
    scope = m.by_id("scope_architecture")
    standards = next(a for a in scope.attributes if a.attribute == "standards_articulation")
    assert (standards.score, standards.source) == (4.0, "survey")
    assert standards.proxy is not None and standards.proxy.level == 3  # telemetry kept alongside
    assert scope.score == pytest.approx((1 + 4 + 3) / 3)
    assert m.label == SURVEY_LABEL
    assert "Luftman alignment maturity" in maturity_text(m)
