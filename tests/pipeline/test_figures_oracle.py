"""The pipeline's SQL figures equal the oracle's (tests/oracle/adoption.py) on random small fleets.

Hypothesis draws a directory (departments of k people or more, and one under k), a catalog of three
applications with their own thresholds (one reported under three raw identifiers, one unsanctioned), one or
two investments with and without target departments (and threshold overrides), and focus/open/launch
events by people in and out of the directory, on catalogued and uncatalogued applications, with starts
near local midnight in zones with a DST change inside the windows. The events take the real path
(JSON -> decode -> Store.write in two batches -> sync_catalog -> refresh); every table and view the
figures come from is compared with the oracle: counts exactly, seconds and ratios to 1e-9, and each
investment's status and reason (the events leave days without telemetry, so windows have gaps).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pytest
import yaml
from hypothesis import event, given, settings
from hypothesis import strategies as st

from base.directory import parse_directory
from base.pseudonym import pseudonymise
from collectors.event import UsageEvent
from pipeline.batch import Record, decode
from pipeline.catalog import load_catalog
from pipeline.domain.rules import K_ANONYMITY, MONTH_DAYS, SHADOW_GROWTH_DAYS
from pipeline.refresh import refresh, sync_catalog
from pipeline.store import Store
from tests.oracle import adoption as oracle

KEY = b"oracle-key"
PRODUCED = int(datetime(2026, 12, 1, tzinfo=UTC).timestamp() * 1000)  # after every drawn start
# Each as-of day has DST changes of the drawn zones inside its 28-day window or just before it.
AS_OF_DAYS = (date(2026, 4, 10), date(2026, 11, 5))
ZONES = ("Europe/Amsterdam", "UTC", "America/New_York", "Pacific/Auckland")
# Raw identifier -> catalog application (names match case-insensitively, `.exe` optional).
CATALOGUED = {"alpha.exe": "alpha", "ALPHA": "alpha", "alpha-web": "alpha", "beta.exe": "beta", "gamma": "gamma"}
ALPHA = ("alpha.exe", "ALPHA", "alpha-web")  # three raw identifiers of one application
UNCATALOGUED = ("shadow.exe", "toolbox")
MATCH_NAMES = {"alpha": ["alpha.exe", "alpha-web"], "beta": ["beta.exe"], "gamma": ["gamma"]}
CAPABILITY = {"alpha": "chat", "beta": "chat", "gamma": "notes"}
# Around the drawn thresholds (1, 2.5, 5, 10 minutes) and the longest span the contract takes.
DURATIONS = (0, 1, 59, 60, 61, 120, 149, 150, 151, 180, 240, 299, 300, 301, 599, 600, 601, 3600, 86_400)
DURATION = st.sampled_from(DURATIONS) | st.sampled_from(DURATIONS) | st.integers(0, 86_400)  # 2/3 near a threshold
TOL = 1e-9


@dataclass(frozen=True)
class Event:
    kind: str
    person: str
    app: str
    start: datetime
    duration_s: int
    utc: bool  # written with a Z offset rather than the local one

    def payload(self, n: int) -> bytes:
        start = self.start.astimezone(UTC) if self.utc else self.start
        user = pseudonymise(self.person, KEY)
        return json.dumps(
            {"event_id": f"e{n}", "kind": self.kind, "device_id": f"d-{self.person}", "user": user, "app": self.app,
             "start": start.isoformat(), "duration_s": float(self.duration_s), "source": "test"}
        ).encode()  # fmt: skip


@dataclass(frozen=True)
class FleetSpec:
    """One drawn organisation, printed by hypothesis when an example fails."""

    tz: str
    as_of: date
    go_live: date
    k: int
    departments: dict[str, int] | None  # department -> people; None: no directory
    apps: tuple[oracle.App, ...]
    investments: tuple[oracle.Investment, ...]
    events: tuple[Event, ...]
    first_batch: int  # events[:first_batch] and the rest are written as two batches


@st.composite
def sessions(draw: st.DrawFn, people: list[str], as_of: date, tz: ZoneInfo) -> list[Event]:
    """A few spans of one person on one local day: they pile up on one (user, application, day)."""
    person = draw(st.sampled_from(people))
    # The window edges (D, D-6/-7, D-27/-28) and the day after D are favoured.
    offset = draw(st.one_of(st.sampled_from([0, -1, -6, -7, -27, -28, 1]), st.integers(-MONTH_DAYS - 8, 2)))
    day = as_of + timedelta(days=offset)
    out = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["focus", "focus", "open", "launch"]))
        hour = draw(st.one_of(st.sampled_from([23, 0, 1, 2, 22]), st.integers(0, 23)))
        local = datetime.combine(
            day, time(hour, draw(st.sampled_from([0, 30, 55, 57, 59])), draw(st.sampled_from([0, 1])))
        )
        out.append(
            Event(
                kind=kind,
                person=person,
                app=draw(st.sampled_from(ALPHA) | st.sampled_from([*CATALOGUED, *UNCATALOGUED])),
                start=local.replace(tzinfo=tz),  # a time in a DST gap or overlap takes its first offset
                duration_s=0 if kind == "launch" else draw(DURATION),
                utc=draw(st.booleans()),
            )
        )
    return out


@st.composite
def fleets(draw: st.DrawFn) -> FleetSpec:
    tz = draw(st.sampled_from(ZONES))
    as_of = draw(st.sampled_from(AS_OF_DAYS))
    k = draw(st.sampled_from([K_ANONYMITY, 1, 3]))
    with_directory = draw(st.integers(0, 4)) > 0
    departments = {
        "Sales": draw(st.integers(5, 7)),
        "Support": draw(st.integers(3, 6)),
        "Legal": draw(st.integers(1, 2)),
    }
    people = [f"{dept.lower()}{i}" for dept, n in departments.items() for i in range(n)] + [
        "contractor0",
        "contractor1",
    ]
    apps = tuple(
        oracle.App(a, CAPABILITY[a], draw(st.sampled_from([5.0, 1.0, 2.5, 10.0])), sanctioned=a != "gamma")
        for a in MATCH_NAMES
    )
    investments = []
    for n in range(draw(st.integers(1, 2))):
        targets = draw(
            st.none() | st.lists(st.sampled_from([*departments, "Board"]), min_size=1, max_size=2, unique=True)
        )
        investments.append(
            oracle.Investment(
                id=f"inv{n}",
                applications=tuple(draw(st.lists(st.sampled_from(sorted(MATCH_NAMES)), min_size=1, unique=True))),
                target_departments=tuple(targets) if targets else None,
                min_minutes=draw(st.none() | st.sampled_from([2.0, 5.0, 10.0])),
                seats=draw(st.none() | st.integers(1, 20)),
            )
        )
    drawn = [e for session in draw(st.lists(sessions(people, as_of, ZoneInfo(tz)), max_size=14)) for e in session]
    # Steady reporting since an enrolment day (none, 3, 8 or 40 days ago) by some people, a few of them on alpha
    # too: coverage reaches min_coverage, so the known-days rules (low, insufficient history) come into play.
    enrolled = draw(st.sampled_from([0, 3, 3, 8, 40]))
    steady = draw(st.just(people) | st.lists(st.sampled_from(people), unique=True)) if enrolled else []
    users_of_alpha = steady[: draw(st.integers(0, len(steady)))]
    drawn += [
        Event("focus", who, app, datetime.combine(as_of - timedelta(days=back), time(10), tzinfo=ZoneInfo(tz)), 600,
              False)
        for back in range(enrolled)
        for who in steady
        for app in (["toolbox", "alpha.exe"] if who in users_of_alpha else ["toolbox"])
    ]  # fmt: skip
    return FleetSpec(
        tz=tz,
        as_of=as_of,
        go_live=as_of - timedelta(days=draw(st.sampled_from([60, 60, 10, 0]))),
        k=k,
        departments=departments if with_directory else None,
        apps=apps,
        investments=tuple(investments),
        events=tuple(drawn),
        first_batch=draw(st.integers(0, len(drawn))),
    )


def catalog_yaml(spec: FleetSpec) -> str:
    """The catalog of `spec` in the shape of tests/pipeline/test_refresh.py's CATALOG."""
    applications = [
        {"id": a.id, "name": a.id.title(), "capability": a.capability, "sanctioned": a.sanctioned,
         "min_minutes": a.min_minutes, "match": {"names": MATCH_NAMES[a.id]}}
        for a in spec.apps
    ]  # fmt: skip
    investments = []
    for inv in spec.investments:
        doc: dict[str, Any] = {
            "id": inv.id, "applications": list(inv.applications), "annual_cost": 1200, "currency": "EUR",
            "owner": {"name": "Owner", "email": "owner@example.org"}, "go_live": spec.go_live,
            "target_ratio": 0.8, "target_date": spec.as_of + timedelta(days=180), "curve": "linear",
        }  # fmt: skip
        if inv.target_departments is not None:
            doc["target_departments"] = list(inv.target_departments)
        if inv.min_minutes is not None:
            doc["min_minutes"] = inv.min_minutes
        if inv.seats is not None:
            doc["seats"] = inv.seats
        investments.append(doc)
    initiative = {"id": "ini", "name": "Ini", "domain": "it_strategy", "perspective": "technology_transformation",
                  "investments": investments}  # fmt: skip
    return yaml.safe_dump(
        {"applications": applications, "objectives": [{"id": "obj", "name": "Obj", "initiatives": [initiative]}]}
    )


def directory_csv(spec: FleetSpec) -> str:
    rows = ["user,department"]
    for dept, n in (spec.departments or {}).items():
        rows += [f"{dept.lower()}{i},{dept}" for i in range(n)]
    return "\n".join(rows)


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def planned(spec: FleetSpec, day: date) -> float:
    """catalog_yaml's linear plan: 0.8 reached 180 days after the as-of day."""
    target_date = spec.as_of + timedelta(days=180)
    return 0.8 * min(1.0, max(0.0, (day - spec.go_live).days / (target_date - spec.go_live).days))


def close(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) <= TOL)


def run_pipeline(spec: FleetSpec, root: Path) -> tuple[duckdb.DuckDBPyConnection, Store, oracle.Fleet]:
    """Write `spec` through decode -> Store -> sync_catalog -> refresh; return the store and the oracle's fleet."""
    directory = parse_directory(directory_csv(spec), KEY) if spec.departments is not None else None
    (root / "catalog.yaml").write_text(catalog_yaml(spec))
    catalog = load_catalog(root / "catalog.yaml", directory)
    payloads = [e.payload(n) for n, e in enumerate(spec.events)]
    store = Store(root / "db.duckdb", timezone=spec.tz)
    for part in (payloads[: spec.first_batch], payloads[spec.first_batch :]):
        batch = decode([Record("usage", 0, n, PRODUCED, p) for n, p in enumerate(part)])
        assert not batch.rejected, batch.rejected
        store.write(batch)
    sync_catalog(store.con, catalog)
    refresh(store.con, catalog, spec.as_of, spec.k)
    now = datetime.fromtimestamp(PRODUCED / 1000, UTC)
    spans = tuple(UsageEvent.model_validate_json(p, context={"now": now}) for p in payloads)
    fleet = oracle.Fleet(
        spans=spans,
        tz=ZoneInfo(spec.tz),
        applications={a.id: a for a in spec.apps},
        identity=CATALOGUED,
        investments={i.id: i for i in spec.investments},
        directory=dict(directory.members) if directory is not None else None,
    )
    return store.con, store, fleet


def check(spec: FleetSpec, con: duckdb.DuckDBPyConnection, fleet: oracle.Fleet) -> None:
    as_of = spec.as_of

    # usage_user_daily: seconds per (day, user, raw identifier), split at local midnight.
    got_usage = {(r["day"], r["user"], r["app"]): r for r in rows(con, "SELECT * FROM usage_user_daily")}
    want_usage = oracle.usage_user_daily(fleet)
    assert set(got_usage) == set(want_usage)
    for key, want in want_usage.items():
        got = got_usage[key]
        assert close(got["focus_s"], want.focus_s), (key, got, want)
        assert close(got["open_s"], want.open_s), (key, got, want)
        assert got["launches"] == want.launches, (key, got, want)

    # adoption_series and adoption_daily: every day from go-live to the as-of day, days before the first telemetry
    # included (no data: coverage 0, no ratio).
    first = spec.go_live
    series = rows(
        con,
        "SELECT s.*, d.adoption_ratio, d.coverage FROM adoption_series s "
        "JOIN adoption_daily d USING (day, investment) ORDER BY investment, day",
    )
    expected_days = list(oracle.days_between(first, as_of))
    for inv in fleet.investments:
        assert [r["day"] for r in series if r["investment"] == inv] == expected_days, inv
    for r in series:
        want_day = oracle.daily_figures(fleet, r["investment"], r["day"], spec.k)
        got_day = (r["dau"], r["wau"], r["mau"], r["mau_target"], r["population"] or 0, r["reporting"])
        assert got_day == (*want_day[:4], want_day.population or 0, want_day.reporting), (r, want_day)
        assert close(r["coverage"], want_day.coverage), (r, want_day)
        assert close(r["adoption_ratio"], want_day.adoption_ratio), (r, want_day)

    # adoption_current: the as-of day's figures per investment.
    current = {r["investment"]: r for r in rows(con, "SELECT * FROM adoption_current")}
    assert set(current) == set(fleet.investments)
    for inv_id, got in current.items():
        want = oracle.daily_figures(fleet, inv_id, as_of, spec.k)
        seats = fleet.investments[inv_id].seats
        # A target population under k people shows nothing about its members: not how many they are, how many use
        # it, nor any figure made from those counts.
        small = oracle.is_small(fleet.population(fleet.investments[inv_id]), spec.k)
        if small:
            hidden = ("dau", "wau", "mau", "active_target", "population", "trend", "gap", "forecast_date",
                      "licence_utilisation", "wasted_spend", "cost_per_active_user", "stickiness")  # fmt: skip
            assert {c: got[c] for c in hidden} == dict.fromkeys(hidden), (inv_id, got)
            event("small population")
        else:
            assert got["population"] == want.population, (inv_id, got, want)
            if want.coverage == 0:  # nobody of the population reports: no use seen, which is not no use
                unseen = ("dau", "wau", "mau", "active_target", "licence_utilisation", "wasted_spend",
                          "cost_per_active_user", "stickiness")  # fmt: skip
                assert {c: got[c] for c in unseen} == dict.fromkeys(unseen), (inv_id, got)
                event("no data: no counts")
            else:
                assert (got["dau"], got["wau"], got["mau"], got["active_target"]) == (
                    want.dau, want.wau, want.mau, want.mau_target), (inv_id, got, want)  # fmt: skip
                assert close(got["licence_utilisation"], want.mau / seats if seats else None), (inv_id, got, want)
                assert close(got["stickiness"], oracle.investment_stickiness(fleet, inv_id, as_of)), (inv_id, got)
        assert close(got["coverage"], want.coverage), (inv_id, got, want)
        assert close(got["adoption_ratio"], want.adoption_ratio), (inv_id, got, want)
        want_status = oracle.status(fleet, inv_id, as_of, spec.go_live, lambda day: planned(spec, day), spec.k)
        assert (got["status"], got["status_reason"]) == want_status, (inv_id, got, want_status)
        event(f"status {want_status}")

    # department_adoption: departments of at least k people only.
    got_depts = {(r["investment"], r["department"]): r for r in rows(con, "SELECT * FROM department_adoption")}
    want_depts = {
        (inv, dept): fig
        for inv in fleet.investments
        for dept, fig in oracle.department_adoption(fleet, inv, as_of, spec.k).items()
    }
    assert set(got_depts) == set(want_depts)
    for key, fig in want_depts.items():
        got = got_depts[key]
        assert (got["population"], got["active_users"]) == (fig.population, fig.active_users), (key, got, fig)
        assert close(got["adoption_ratio"], fig.adoption_ratio), (key, got, fig)
        assert close(got["coverage"], fig.coverage), (key, got, fig)

    # application_activity: 28-day active users of every application, catalogued or not.
    got_apps = {
        r["application"]: oracle.ApplicationFigures(
            r["in_catalog"], r["sanctioned"], r["capability"], r["active_users"]
        )
        for r in rows(con, "SELECT * FROM application_activity")
    }
    assert got_apps == oracle.application_activity(fleet, as_of)

    # shadow_it_growth: today's shadow-IT active users minus those as of the window before, where that day is known.
    got_growth = {
        (r["application"], r["window_days"]): r["growth"] for r in rows(con, "SELECT * FROM shadow_it_growth")
    }
    assert got_growth == oracle.shadow_it_growth(fleet, as_of, SHADOW_GROWTH_DAYS, spec.k)
    event(f"shadow IT growth: {len(got_growth)} rows")

    # usage_daily: per day, application and department of at least k people.
    got_groups = {(r["day"], r["application"], r["department"]): r for r in rows(con, "SELECT * FROM usage_daily")}
    want_groups = oracle.usage_daily(fleet, spec.k)
    assert set(got_groups) == set(want_groups)
    for key, group in want_groups.items():
        got = got_groups[key]
        assert (got["users"], got["launches"]) == (group.users, group.launches), (key, got, group)
        assert got["active_users"] == group.active_users, (key, got, group)
        assert close(got["focus_minutes"], group.focus_minutes), (key, got, group)
        assert close(got["open_minutes"], group.open_minutes), (key, got, group)


@settings(max_examples=60)
@given(fleets())
def test_sql_figures_equal_the_oracle(spec: FleetSpec) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        con, store, fleet = run_pipeline(spec, Path(tmp))
        try:
            check(spec, con, fleet)
        finally:
            store.close()


# --- Where the SQL disagrees with docs/metrics.md: each case is pinned here, the property test steps around it. ---

D = date(2026, 4, 10)
AMS = ZoneInfo("Europe/Amsterdam")


def hand_fleet(*events: Event, go_live: date = D - timedelta(days=60), k: int = K_ANONYMITY) -> FleetSpec:
    """Sales 5, Support 3, Legal 1; one investment in `alpha` targeting the whole directory; Amsterdam time."""
    return FleetSpec(
        tz="Europe/Amsterdam",
        as_of=D,
        go_live=go_live,
        k=k,
        departments={"Sales": 5, "Support": 3, "Legal": 1},
        apps=(oracle.App("alpha", "chat"), oracle.App("beta", "chat"), oracle.App("gamma", "notes", sanctioned=False)),
        investments=(oracle.Investment("inv0", ("alpha",)),),
        events=events,
        first_batch=len(events),
    )


def focus(app: str, day: date, hour: int, seconds: int) -> Event:
    return Event("focus", "sales0", app, datetime.combine(day, time(hour), tzinfo=AMS), seconds, utc=False)


def pipeline_and_oracle(
    spec: FleetSpec, tmp: Path, query: str = "SELECT 1"
) -> tuple[dict[str, Any], Any, oracle.Fleet]:
    """The one investment's adoption_current row, the first value `query` returns, and the oracle's fleet."""
    con, store, fleet = run_pipeline(spec, tmp)
    try:
        [current] = rows(con, "SELECT * FROM adoption_current")
        [(value,)] = con.execute(query).fetchall()
    finally:
        store.close()
    return current, value, fleet


def test_a_day_without_telemetry_has_no_adoption_ratio(tmp_path: Path) -> None:
    query = f"SELECT adoption_ratio FROM adoption_daily WHERE day = DATE '{D}'"
    current, daily, fleet = pipeline_and_oracle(hand_fleet(), tmp_path, query)
    assert oracle.daily_figures(fleet, "inv0", D).adoption_ratio is None
    assert (current["population"], current["coverage"]) == (9, 0.0)
    assert (current["adoption_ratio"], daily) == (None, None)  # no data, not zero use (was 0.0 and 0.0)


def test_without_telemetry_no_seat_is_counted_idle(tmp_path: Path) -> None:
    """Coverage 0: active users, utilisation and idle-seat spend are unknown, not 0, 0 % and the whole cost."""
    spec = hand_fleet()
    spec = replace(spec, investments=(oracle.Investment("inv0", ("alpha",), seats=9),))
    current, _, _ = pipeline_and_oracle(spec, tmp_path)
    assert (current["coverage"], current["population"]) == (0.0, 9)
    # Were 0, 0.0 and the whole annual cost.
    assert (current["mau"], current["licence_utilisation"], current["wasted_spend"]) == (None, None, None)


def test_usage_before_go_live_counts_in_stickiness(tmp_path: Path) -> None:
    spec = hand_fleet(focus("alpha.exe", D - timedelta(days=11), 10, 600), go_live=D - timedelta(days=10))
    current, _, fleet = pipeline_and_oracle(spec, tmp_path)
    assert oracle.investment_stickiness(fleet, "inv0", D) == pytest.approx(1 / 28)
    assert current["mau"] == 1
    assert current["stickiness"] == pytest.approx(1 / 28)  # was 0.0: days before go-live counted as DAU 0


def test_a_refresh_before_any_data_keeps_the_population(tmp_path: Path) -> None:
    current, _, fleet = pipeline_and_oracle(hand_fleet(focus("alpha.exe", D + timedelta(days=1), 10, 600)), tmp_path)
    want = oracle.daily_figures(fleet, "inv0", D)
    assert (want.population, want.coverage) == (9, 0.0)
    assert (current["population"], current["coverage"]) == (9, 0.0)  # was (0, None): no series day computed


def test_usage_daily_adds_up_the_identifiers_of_one_application(tmp_path: Path) -> None:
    spec = hand_fleet(focus("alpha.exe", D, 10, 150), focus("ALPHA", D, 11, 150), k=1)
    query = "SELECT active_users FROM usage_daily WHERE application = 'alpha'"
    current, active, fleet = pipeline_and_oracle(spec, tmp_path, query)
    assert current["dau"] == 1  # the investment figures do add them up
    assert oracle.usage_daily(fleet, 1)[D, "alpha", "Sales"].active_users == 1
    assert active == 1  # the view judged each identifier alone (was 0)


def test_telemetry_since_ten_days_on_a_six_month_old_investment_is_on_track_without_a_forecast(tmp_path: Path) -> None:
    """docs/metrics.md data completeness: the months before telemetry are no data, not a flat line at 0 to fit."""
    people = [f"sales{i}" for i in range(5)] + [f"support{i}" for i in range(3)] + ["legal0"]
    events = [
        Event("focus", who, "alpha.exe", datetime.combine(D - timedelta(days=back), time(10), tzinfo=AMS), 600, False)
        for back in range(10)
        for who in people
    ]
    current, known, _ = pipeline_and_oracle(
        hand_fleet(*events, go_live=D - timedelta(days=180)),
        tmp_path,
        "SELECT count(adoption_ratio) FROM adoption_daily",
    )
    assert known == 10  # the 170 days before telemetry have no ratio
    assert (current["status"], current["status_reason"], current["adoption_ratio"]) == ("on_track", None, 1.0)
    assert (current["forecast"], current["at_risk"]) == ("insufficient_data", None)


def test_a_department_enrolled_three_days_ago_below_plan_is_unknown_not_low(tmp_path: Path) -> None:
    """Below plan on each of its three known days, but `low` needs seven known days: insufficient history."""
    events = [
        Event("focus", who, app, datetime.combine(D - timedelta(days=back), time(10), tzinfo=AMS), 600, False)
        for back in range(3)
        for who, app in [("sales0", "alpha.exe"), *((f"sales{i}", "beta.exe") for i in range(1, 5))]
    ]
    current, _, _ = pipeline_and_oracle(hand_fleet(*events, go_live=D - timedelta(days=180)), tmp_path)
    assert current["coverage"] == pytest.approx(5 / 9)  # known: at least min_coverage
    assert current["adoption_ratio"] == pytest.approx(1 / 9)  # below 0.4 planned x 0.9
    assert (current["status"], current["status_reason"]) == ("unknown", "insufficient_history")
