"""Roadmap: action rules, every priority factor by hand, and sequencing by initiative dependencies."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from alignment.facts import AppInfo, Facts, InitiativeInfo, InvestmentInfo, InvestmentState, Strategy, Usage
from alignment.roadmap import (
    Item,
    data_confidence,
    initiative_ranking,
    investment_action,
    order,
    plan_gap,
    roadmap,
)

AS_OF = date(2026, 6, 30)
LONG_AGO = date(2025, 1, 1)
IDLE = InvestmentState("unknown", licence_utilisation=0.3, wasted_spend=700)  # cost 1000: 70 % waste


def inv(
    id: str, cost: float = 1000, initiative: str | None = "A", renewal: date | None = None, go_live: date = LONG_AGO
) -> InvestmentInfo:
    return InvestmentInfo(
        id, id, cost, go_live, 0.8, date(2027, 1, 1), initiative, "O", (f"app-{id}",), seats=10, renewal_date=renewal
    )


def test_plan_gap_and_data_confidence() -> None:
    assert plan_gap(InvestmentState("low", 0.1, 0.4)) == pytest.approx(0.75)
    assert plan_gap(InvestmentState("on_track", 0.5, 0.4)) == 0.0
    assert plan_gap(InvestmentState("unknown", None, 0.4)) is None
    assert data_confidence(AS_OF, AS_OF - timedelta(days=13)) == pytest.approx(14 / 28)
    assert data_confidence(AS_OF, AS_OF - timedelta(days=100)) == 1.0
    assert data_confidence(AS_OF, None) == 0.0


@pytest.mark.parametrize(
    ("state", "renewal", "expected"),
    [
        (InvestmentState("not_started"), None, None),
        # idle seats and renewal within 90 days: reclaim first, whatever the adoption status
        (IDLE, AS_OF + timedelta(days=90), "reclaim_licences"),
        (IDLE, AS_OF + timedelta(days=91), "improve_coverage"),
        (InvestmentState("low", 0.1, 0.4, forecast="not_reached", at_risk=True), None, "revisit_target"),
        (InvestmentState("low", 0.1, 0.4, forecast="reached", at_risk=True), None, "enable_and_train"),
        (InvestmentState("on_track", 0.35, 0.4, forecast="reached", at_risk=True), None, "enable_and_train"),
        # ahead of plan though the forecast is late: no adoption gap, nothing to do
        (InvestmentState("on_track", 0.5, 0.4, forecast="reached", at_risk=True), None, None),
        (InvestmentState("on_track", 0.5, 0.4, licence_utilisation=0.7, wasted_spend=300), None, "reclaim_licences"),
        # utilisation just over the threshold, or waste under 20 % of cost: no reclaim
        (InvestmentState("on_track", 0.5, 0.4, licence_utilisation=0.71, wasted_spend=290), None, None),
        (InvestmentState("on_track", 0.5, 0.4, licence_utilisation=0.5, wasted_spend=199), None, None),
    ],
)  # fmt: skip
def test_action_rules(state: InvestmentState, renewal: date | None, expected: str | None) -> None:
    assert investment_action(inv("x", renewal=renewal), state, AS_OF) == expected


def roadmap_facts() -> Facts:
    strategy = Strategy(
        initiatives={
            "A": InitiativeInfo("A", "A", "O", "business_strategy", "strategy_execution", weight=2),
            "B": InitiativeInfo("B", "B", "O", "it_strategy", "service_level", depends_on=("A",)),
            "C": InitiativeInfo("C", "C", "O", "it_strategy", "service_level"),
        },
        investments={
            "train": inv("train", 3000, "A"),
            "reclaim": inv(
                "reclaim", 1000, "B", renewal=AS_OF + timedelta(days=30), go_live=AS_OF - timedelta(days=13)
            ),
            "cover": inv("cover", 2000, None),
            "orphan-ok": inv("orphan-ok", 100, None),
        },
        applications={
            "app-train": AppInfo("app-train", "Train", "chat"),
            "app-reclaim": AppInfo("app-reclaim", "Reclaim", "chat"),
            "notion": AppInfo("notion", "Notion", "notes", sanctioned=False),
        },
    )
    states = {
        "train": InvestmentState("low", 0.1, 0.4, 0.8, population=20, mau=3, wasted_spend=1500, forecast="reached"),
        "reclaim": InvestmentState(
            "on_track", 0.4, 0.4, 1.0, population=10, mau=3, licence_utilisation=0.3, wasted_spend=700
        ),
        "cover": InvestmentState("unknown", None, 0.4, 0.2, population=10, mau=2),
        "orphan-ok": InvestmentState("on_track", 0.5, 0.4, 1.0, population=5, mau=5),
    }
    sales = frozenset(f"s{i}" for i in range(6))
    usage = Usage(
        focus_s={"app-train": 600, "app-reclaim": 200, "notion": 100},
        active_users={"app-train": sales, "app-reclaim": sales, "notion": sales},
        active_by_department={("app-train", "Sales"): sales, ("app-reclaim", "Sales"): sales},
        weekly_active={"notion": (5, 5, 5, 5, 5, 5)},  # flat: not emergent, so retire
        first_day=date(2025, 1, 1),
    )
    return Facts(AS_OF, strategy, states, usage, k=5)


def test_priorities_by_hand() -> None:
    items = {i.subject: i for i in roadmap(roadmap_facts())}
    train = items["train"]
    # weight 2 × gap 0.75 × (1500 wasted + 3000 × 0.75 at risk) × (coverage 0.8 × data 1) / effort 4
    assert (train.action, train.weight, train.gap, train.wasted, train.value_at_risk) == (
        "enable_and_train", 2, pytest.approx(0.75), 1500, pytest.approx(2250)
    )  # fmt: skip
    assert (train.confidence, train.effort) == (pytest.approx(0.8), 4.0)
    assert train.priority == pytest.approx(2 * 0.75 * 3750 * 0.8 / 4)
    reclaim = items["reclaim"]
    # weight 1 × idle share 0.7 × (700 + 0) × (coverage 1 × 14/28 days) / effort 1 (at renewal)
    assert reclaim.action == "reclaim_licences"
    assert reclaim.priority == pytest.approx(1 * 0.7 * 700 * 0.5 / 1)
    cover = items["cover"]
    # orphan weight 0.5 × unseen 0.8 × (2000 × 0.8) × data 1 / effort 2
    assert cover.action == "improve_coverage"
    assert cover.priority == pytest.approx(0.5 * 0.8 * 1600 * 1 / 2)
    assert "orphan-ok" not in items
    chat = items["chat"]
    # leader app-train has 600 of 800 s: gap 0.25; app-reclaim's investment is duplicate spend (1000);
    # value at risk (3000 + 1000) × 0.25; weight 2 (initiative A); confidence 1; effort 8.
    assert (chat.action, chat.gap, chat.wasted, chat.value_at_risk) == ("consolidate", 0.25, 1000, 1000)
    assert chat.priority == pytest.approx(2 * 0.25 * 2000 * 1 / 8)
    notion = items["notion"]
    # 6 users × reference cost per active user (Σ cost / Σ active over investments with users: 6100 / 13)
    assert notion.action == "retire_shadow_it"
    assert notion.value_at_risk == pytest.approx(6 * 6100 / 13)
    assert notion.priority == pytest.approx(0.5 * 1 * 6 * 6100 / 13 * 1 / 4)
    assert items["C"].action == "fund_initiative" and items["C"].priority is None


def test_roadmap_order_respects_dependencies() -> None:
    ranked = roadmap(roadmap_facts())
    subjects = [i.subject for i in ranked]
    # priorities: train 1125, notion ~703.8, cover 400, reclaim 245, chat 125; unscored C last. reclaim (B)
    # waits for chat, an item of initiative A, because B depends on A.
    assert subjects == ["train", "notion", "cover", "chat", "reclaim", "C"]
    assert ranked[4].after == ("A",)
    ranking = initiative_ranking(roadmap_facts(), ranked)
    assert [(r.initiative, r.items) for r in ranking] == [("A", 2), ("B", 1), ("C", 1)]
    assert ranking[0].priority == pytest.approx(1125 + 125)


def test_dependants_wait_even_with_higher_priority() -> None:
    def item(subject: str, initiative: str | None, money: float) -> Item:
        return Item("investment", subject, subject, "enable_and_train", "", initiative, 1, 1, money, 0, 1, 1)

    items = [item("x", "X", 100), item("y", "Y", 10), item("z", None, 50), item("w", "W", 5)]
    # X depends on W through Y: X waits for Y and W, Y waits for W.
    ordered = order(items, {"X": ["Y"], "Y": ["W"], "W": []})
    assert [i.subject for i in ordered] == ["z", "w", "y", "x"]
    assert ordered[3].after == ("W", "Y")
    # Without dependencies the order is by priority.
    assert [i.subject for i in order(items, {})] == ["x", "z", "y", "w"]
