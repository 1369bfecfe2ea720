"""The DuckDB edge on a small hand-counted database: usage facts, displacement rows, past as-of days, app identity."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from html import escape
from pathlib import Path

import duckdb
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from alignment import inputs as inputs_store
from alignment import views
from alignment.assessment import assess
from alignment.displacement import displacement
from alignment.facts import UsageSummary
from alignment.maturity import shadow_apps
from alignment.reader import read_effects, read_facts, read_inputs, read_usage, strategy_from_catalog
from alignment.report import render
from base.directory import parse_directory
from base.errors import AlignmonError
from metrics.exporter import PipelineCollector
from pipeline.batch import Record, decode
from pipeline.catalog import load_catalog
from pipeline.domain.rules import ACTIVE_MINUTES, UNCATALOGUED, app_key, app_name
from pipeline.refresh import refresh, sync_catalog
from pipeline.store import Store
from tests.support.events import KEY, focus

AS_OF = date(2026, 11, 20)  # a Friday; its week starts on Monday 2026-11-16
WINDOWS, LINUX = r"C:\Tools\foo.exe", "/usr/bin/foo"  # two uncatalogued tools
CATALOG = """
applications:
  - {id: teams, name: Teams, capability: chat, replaces: skype, match: {names: ["teams.exe"]}}
  - {id: skype, name: Skype, capability: chat, match: {names: ["lync.exe"]}}
objectives:
  - id: work
    name: Work
    initiatives:
      - id: comms
        name: Comms
        domain: it_infrastructure
        perspective: service_level
        depends_on: [base]
        investments:
          - id: teams-e3
            applications: [teams]
            seats: 10
            annual_cost: 1000
            currency: EUR
            owner: {name: Owner, email: owner@example.org}
            go_live: 2026-09-01
            target_ratio: 0.8
            target_date: 2027-03-01
            target_departments: [Sales]
      - {id: base, name: Base, domain: it_strategy, perspective: technology_transformation}
"""


@pytest.fixture
def database(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    rows = ["user,department"] + [f"sales{i},Sales" for i in range(6)] + [f"sup{i},Support" for i in range(5)]
    rows += ["legal0,Legal", "legal1,Legal"]
    catalog = load_catalog(tmp_path / "catalog.yaml", parse_directory("\n".join(rows), KEY))
    events = [focus(i, f"sales{i}", "teams.exe", AS_OF, 10) for i in range(5)]
    events.append(focus(10, "sales5", "teams.exe", AS_OF, 3))  # focus, but not an active day
    events.append(focus(11, "sales0", "teams.exe", AS_OF - timedelta(days=1), 10))
    events += [focus(20 + i, f"sup{i}", "lync.exe", AS_OF, 20) for i in range(5)]
    # An uncatalogued tool is its raw identifier (as in usage_daily, shadow_it and the exporter): a full Windows
    # path and a bare name are two applications.
    events += [focus(30, "legal0", r"C:\Tools\Foo.exe", AS_OF, 6), focus(31, "legal1", "foo", AS_OF, 6)]
    store = Store(tmp_path / "db.duckdb")
    produced = int(datetime(2026, 11, 21, tzinfo=UTC).timestamp() * 1000)
    store.write(decode([Record("t", 0, n, produced, e) for n, e in enumerate(events)]))
    sync_catalog(store.con, catalog)
    refresh(store.con, catalog, AS_OF)
    store.close()
    return tmp_path / "db.duckdb", tmp_path / "catalog.yaml"


def test_usage_facts_are_hand_counted(database: tuple[Path, Path]) -> None:
    path, catalog_path = database
    strategy = strategy_from_catalog(load_catalog(catalog_path))
    assert strategy.initiatives["comms"].depends_on == ("base",)
    con = duckdb.connect(str(path), read_only=True)
    facts = read_facts(con, strategy)
    raw = read_usage(con, AS_OF)
    con.close()
    assert (facts.as_of, facts.k) == (AS_OF, 5)
    # The per-person usage of the pipeline's own file, counted by hand ...
    foo_path, foo = "uncatalogued:C:\\Tools\\Foo.exe", "uncatalogued:foo"
    assert raw.focus_s == {"teams": (50 + 3 + 10) * 60, "skype": 100 * 60, foo_path: 6 * 60, foo: 6 * 60}
    assert {app: len(users) for app, users in raw.active_users.items()} == {"teams": 5, "skype": 5, foo_path: 1, foo: 1}
    assert (facts.app_name(foo_path), facts.app_name(foo)) == ("C:\\Tools\\Foo.exe", "foo")
    assert raw.active_user_days["teams"] == 6
    assert raw.active_focus_s["teams"] == 60 * 60
    assert {(a, d) for a, d in raw.active_by_department} == {("teams", "Sales"), ("skype", "Support"),
                                                            (foo_path, "Legal"), (foo, "Legal")}  # fmt: skip
    # ... and what the scores read: the one-person tools and the two-person department only in the totals.
    u = facts.usage
    assert u.focus_s == {"teams": (50 + 3 + 10) * 60, "skype": 100 * 60}
    assert u.total_focus_s == (50 + 3 + 10 + 100 + 6 + 6) * 60
    assert u.active_users == {"teams": 5, "skype": 5}
    assert (u.active_people, u.funded_active_user_days, u.funded_active_focus_s) == (12, 6, 60 * 60)
    assert u.weekly_active["teams"] == (0, 0, 0, 0, 0, 5)
    assert u.first_day == AS_OF - timedelta(days=1)
    assert u.department_adoption == {"teams-e3": (("Sales", 5 / 6),)}
    # Legal (2) is under k, and Support (5) would be the organisation minus Sales minus Legal: both left out.
    assert facts.department_sizes == {"Sales": 6}
    state = facts.states["teams-e3"]
    assert (state.population, state.mau) == (6, 5)
    shares = {(s.department, s.week): s.share for s in displacement(facts)}
    week = date(2026, 11, 16)
    assert shares == {("(all)", week): pytest.approx(3780 / 9780), ("Sales", week): 1.0}


def test_a_past_day_is_recomputed_and_a_future_one_refused(database: tuple[Path, Path]) -> None:
    path, catalog_path = database
    strategy = strategy_from_catalog(load_catalog(catalog_path))
    con = duckdb.connect(str(path), read_only=True)
    try:
        earlier = read_facts(con, strategy, AS_OF - timedelta(days=1))
        assert earlier.states["teams-e3"].mau == 1  # only sales0 was active by then
        assert read_usage(con, AS_OF - timedelta(days=1)).focus_s == {"teams": 600}
        # One person's use is no summary: even the totals would describe fewer than k people.
        assert earlier.usage == UsageSummary(first_day=AS_OF - timedelta(days=1))
        with pytest.raises(AlignmonError, match="computed up to 2026-11-20"):
            read_facts(con, strategy, AS_OF + timedelta(days=1))
    finally:
        con.close()


def test_the_rule_round_trips() -> None:
    assert app_key("teams", WINDOWS) == "teams"
    assert app_key(None, WINDOWS) == UNCATALOGUED + WINDOWS
    assert app_name(app_key(None, WINDOWS)) == WINDOWS
    assert app_name(app_key("teams", WINDOWS)) == "teams"


def test_exporter_views_and_report_name_an_uncatalogued_tool_identically(tmp_path: Path) -> None:
    """One identity rule for uncatalogued applications: a tool is its raw identifier, verbatim, everywhere.

    A Windows path and a Linux path of "the same" executable are two applications in Prometheus, in the
    analysts' views and in the report alike, never one in the report and two in Prometheus.
    """
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    people = [f"p{i}" for i in range(6)]
    catalog = load_catalog(
        tmp_path / "catalog.yaml", parse_directory("\n".join(["user,department"] + [f"{p},Sales" for p in people]), KEY)
    )
    minutes = ACTIVE_MINUTES + 1
    events = [focus(i, p, WINDOWS, AS_OF, minutes) for i, p in enumerate(people)]
    events += [focus(10 + i, p, LINUX, AS_OF, minutes) for i, p in enumerate(people[:5])]
    events += [focus(20 + i, p, "teams.exe", AS_OF, minutes) for i, p in enumerate(people)]
    store = Store(tmp_path / "db.duckdb")
    produced = int(datetime(2026, 11, 21, tzinfo=UTC).timestamp() * 1000)
    store.write(decode([Record("t", 0, n, produced, e) for n, e in enumerate(events)]))
    sync_catalog(store.con, catalog)
    refresh(store.con, catalog, AS_OF)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(PipelineCollector(store.cursor))
    exported = {
        s.labels["application"]: s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        if family.name == "alignmon_shadow_it_active_users"
        for s in family.samples
    }
    assert exported == {WINDOWS: 6, LINUX: 5}
    shadow_view = dict(store.con.execute("SELECT application, active_users FROM shadow_it").fetchall())
    assert shadow_view == exported
    usage_view = {r[0] for r in store.con.execute("SELECT DISTINCT application FROM usage_daily").fetchall()}
    assert {app_name(key) for key in usage_view} == {"teams", WINDOWS, LINUX}
    store.close()

    con = duckdb.connect(str(tmp_path / "db.duckdb"), read_only=True)
    try:
        assessment = assess(read_facts(con, strategy_from_catalog(catalog)))
    finally:
        con.close()
    facts = assessment.facts
    reported = {facts.app_name(app): facts.usage.active_users[app] for app in shadow_apps(facts)}
    assert reported == exported
    shadow_items = {i.name for i in assessment.roadmap if i.kind == "application"}
    assert shadow_items == set(exported)
    html = render(assessment)
    assert all(escape(name) in html for name in exported)


def test_inputs_kept_by_another_version_are_recomputed_not_misread(database: tuple[Path, Path]) -> None:
    path, catalog_path = database
    strategy = strategy_from_catalog(load_catalog(catalog_path))
    con = duckdb.connect(str(path))
    try:
        fresh = read_inputs(con, strategy, AS_OF)
        inputs_store.store(con, fresh, keep=AS_OF)
        assert inputs_store.load(con, AS_OF) == fresh
        con.execute('UPDATE alignment_inputs SET inputs = \'{"usage": {"focus": 1}}\'')  # an older shape
        assert inputs_store.load(con, AS_OF) is None
        assert read_facts(con, strategy).usage == fresh.usage  # recomputed from the pipeline's own rows
    finally:
        con.close()


def test_inputs_kept_under_another_k_are_dropped_when_k_changes(database: tuple[Path, Path]) -> None:
    path, catalog_path = database
    catalog = load_catalog(catalog_path)
    con = duckdb.connect(str(path))
    try:
        refresh(con, catalog, AS_OF, k=2)
        views.refresh(con, catalog, AS_OF)
        kept = con.execute("SELECT as_of, k FROM alignment_inputs ORDER BY as_of").fetchall()
        assert kept == [(date(2026, 9, 30), 2), (AS_OF, 2)]
        legal = inputs_store.load(con, AS_OF)
        assert legal is not None and legal.department_sizes.get("Legal") == 2  # 2 people: shown under k = 2
        refresh(con, catalog, AS_OF, k=5)
        views.refresh(con, catalog, AS_OF)
        kept = con.execute("SELECT as_of, k FROM alignment_inputs ORDER BY as_of").fetchall()
        assert kept == [(date(2026, 9, 30), 5), (AS_OF, 5)]  # nothing computed under k = 2 is left to publish
        assert all("Legal" not in (i.department_sizes if (i := inputs_store.load(con, d)) else {}) for d, _ in kept)
    finally:
        con.close()


def test_the_baseline_follows_a_catalog_edit_on_the_same_day(database: tuple[Path, Path]) -> None:
    path, catalog_path = database
    con = duckdb.connect(str(path))
    try:
        views.refresh(con, load_catalog(catalog_path), AS_OF)
        baseline = date(2026, 9, 30)
        assert set(inputs_store.load(con, baseline).states) == {"teams-e3"}  # type: ignore[union-attr]
        edited = CATALOG.replace(
            "      - {id: base,",
            """          - id: skype-legacy
            applications: [skype]
            annual_cost: 500
            currency: EUR
            owner: {name: Owner, email: owner@example.org}
            go_live: 2026-01-01
            target_ratio: 0.1
            target_date: 2026-06-01
      - {id: base,""",
        )
        catalog_path.write_text(edited)
        catalog = load_catalog(catalog_path)
        sync_catalog(con, catalog)
        refresh(con, catalog, AS_OF)
        views.refresh(con, catalog, AS_OF, catalog_changed=False)  # same day, same catalog as far as it knows
        assert set(inputs_store.load(con, baseline).states) == {"teams-e3"}  # type: ignore[union-attr]
        views.refresh(con, catalog, AS_OF, catalog_changed=True)
        assert set(inputs_store.load(con, baseline).states) == {"teams-e3", "skype-legacy"}  # type: ignore[union-attr]
    finally:
        con.close()


EFFECT_COLUMNS = """
    intervention VARCHAR, investment VARCHAR, kind VARCHAR, first_day DATE, last_day DATE, as_of DATE, post_to DATE,
    departments VARCHAR, verdict VARCHAR, reason VARCHAR, level DOUBLE, effect DOUBLE, effect_low DOUBLE,
    effect_high DOUBLE, trends VARCHAR, additional_active_users DOUBLE, cost DOUBLE, currency VARCHAR,
    cost_per_additional_active_user DOUBLE"""
COST_RANGE = (
    ', cost_per_additional_active_user_low DOUBLE, cost_per_additional_active_user_high DOUBLE, "overlaps" VARCHAR'
)


def effects_table(con: duckdb.DuckDBPyConnection, rows: list[tuple[object, ...]], cost_range: bool = True) -> None:
    """A hand-made intervention_effects (the columns read_effects reads; the cost range only in newer files)."""
    con.execute(f"CREATE TABLE intervention_effects ({EFFECT_COLUMNS}{COST_RANGE if cost_range else ''})")
    width = len(rows[0])
    con.executemany(f"INSERT INTO intervention_effects VALUES ({', '.join('?' * width)})", [list(r) for r in rows])


def effect_row(intervention: str, as_of: date, verdict: str, *more: object) -> tuple[object, ...]:
    """One row: a training of inv-crm on 2026-09-01 in Sales and Finance, estimated as of `as_of`."""
    figures: tuple[object, ...] = (0.2, 0.083, 0.35, "no_divergence_detected", 12.0, 12_000.0, "EUR", 1_000.0)
    if verdict == "not_estimable":
        figures = (None, None, None, "not_checked", None, 12_000.0, "EUR", None)
    return (intervention, "inv-crm", "training", date(2026, 9, 1), date(2026, 9, 1), as_of, date(2026, 9, 29),
            "Sales, Finance", verdict, "window_not_over" if verdict == "not_estimable" else None, 0.99, *figures,
            *more)  # fmt: skip


def test_effects_as_of_a_day_are_each_interventions_latest_estimate_on_or_before_it() -> None:
    """A final estimate keeps the day it was made; a not_estimable one is made again each day: the day's effects are,
    per intervention, the latest row of as_of <= day, one each, with the cost range; one estimated only after the day
    had no estimate then (a past day's report still lists it, never 'no intervention recorded')."""
    con = duckdb.connect()
    effects_table(con, [
        effect_row("final", date(2026, 10, 5), "effect", 571.4, 2_409.6, "later"),  # final since 2026-10-05
        effect_row("waiting", date(2026, 11, 19), "not_estimable", None, None, None),
        effect_row("waiting", date(2026, 11, 20), "not_estimable", None, None, ""),
        effect_row("waiting", date(2026, 11, 21), "effect", 571.4, 2_409.6, ""),  # made after the day: not yet known
        effect_row("later", date(2026, 11, 25), "effect", 571.4, 2_409.6, "final, waiting"),
    ])  # fmt: skip
    found = read_effects(con, AS_OF)
    assert [(e.intervention, e.verdict, e.reason) for e in found] == [
        ("final", "effect", None),
        ("later", "not_estimable", "estimated_later"),  # its windows settled by 2026-10-07, estimated on 11-25
        ("waiting", "not_estimable", "window_not_over"),
    ]
    assert found[1].effect is None and found[1].cost_per_additional_active_user is None
    assert [e.overlaps for e in found] == [("later",), ("final", "waiting"), ()]  # also where not yet estimated
    final = found[0]
    assert final.departments == ("Sales", "Finance") and final.trends == "no_divergence_detected"
    assert (final.cost_per_additional_active_user_low, final.cost_per_additional_active_user_high) == (571.4, 2_409.6)
    assert final.interval == (0.083, 0.35) and final.rose and not final.diverging
    assert [e.verdict for e in read_effects(con, date(2026, 11, 25))] == ["effect", "effect", "effect"]
    assert {e.reason for e in read_effects(con, date(2026, 10, 4))} == {"window_not_over"}  # before 10-07: not over
    assert read_effects(con, date(2026, 8, 31)) == ()  # none had happened


def test_effects_of_an_analysts_file_of_the_previous_schema_are_read() -> None:
    """A file published before the cost range has none (nor `overlaps`) and says `parallel`: read as None and the
    new name."""
    con = duckdb.connect()
    effects_table(con, [effect_row("final", date(2026, 10, 5), "effect")], cost_range=False)
    con.execute("UPDATE intervention_effects SET trends = 'parallel'")
    (effect,) = read_effects(con, AS_OF)
    assert (effect.cost_per_additional_active_user, effect.cost_per_additional_active_user_low) == (1_000.0, None)
    assert effect.cost_per_additional_active_user_high is None and effect.trends == "no_divergence_detected"
    assert effect.overlaps == ()  # no such column: none
