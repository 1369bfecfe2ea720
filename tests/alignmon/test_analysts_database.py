"""The analysts' database holds no person and no group under k: every table and view in it is scanned.

A simulated organisation with three departments under k = 5 (Finance 3, HR 2, Legal 4 people) and an investment
whose whole target population is Legal is stored, refreshed and published the pipeline's way. Every object of the
published file is checked against the pipeline's own (private) file: no pseudonym or device id in any value, and
each grouped row's people counted there.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from pydantic import TypeAdapter

from alignment import inputs as inputs_store
from alignment import views
from alignment.reader import read_facts, read_inputs, strategy_from_catalog
from alignmon.analysts import ANALYSTS_OBJECTS
from base.directory import load_directory
from base.errors import AlignmonError
from collectors.simulate import Organisation
from collectors.simulate.interventions import parse_intervention, with_unique_ids, write_interventions
from collectors.simulate.population import DEPARTMENTS
from collectors.simulate.stories import STORIES
from pipeline.catalog import load_catalog
from pipeline.catalog.interventions import load_interventions
from pipeline.domain.impact import Options
from pipeline.domain.rules import MONTH_DAYS
from pipeline.impact.published import write_effects
from pipeline.refresh import refresh, sync_catalog
from pipeline.snapshot import publish
from tests.support.fleet import stored_fleet

KEY = b"analysts-database-key"
AS_OF = date(2026, 11, 20)
K = 5
ROOT = Path(__file__).resolve().parents[2]
SMALL_INVESTMENT = "inv-legal-teams"
# Interventions whose windows the 80 days of telemetry hold (the base window excepted), and one for Legal alone.
INTERVENTIONS = ("inv-crm-rollout:Sales:-29:0:training:5000", "inv-teams:Legal:-29:0:training")
QUARTER_END = date(2026, 9, 30)
# What an investment row never shows for a target population under k: how many they are, how many use it, and
# every figure made from those counts.
HIDDEN = (
    "adoption_ratio", "coverage", "active_target", "trend", "gap", "population", "dau", "wau", "mau",
    "licence_utilisation", "wasted_spend", "cost_per_active_user", "stickiness",
)  # fmt: skip

Rows = list[dict[str, Any]]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pipeline.duckdb (the pipeline's own file), analysts.duckdb and catalog/ of the organisation below."""
    tmp = tmp_path_factory.mktemp("analysts")
    org = Organisation.build(7, 0.2, AS_OF)
    store, _ = stored_fleet(tmp, org, 80, KEY, name="pipeline.duckdb")  # from early September: Q3's end is known
    # An investment whose whole target population is the 4 people of Legal (all of them on Teams).
    path = tmp / "catalog" / "catalog.yaml"
    data = yaml.safe_load(path.read_text())
    small = {**data["investments"][0], "id": SMALL_INVESTMENT, "name": "Teams for a small team"}
    data["investments"].append({**small, "applications": ["teams"], "target_departments": ["Legal"]})
    path.write_text(yaml.safe_dump(data))
    catalog = load_catalog(tmp / "catalog", load_directory(tmp / "directory.csv", KEY))
    # Interventions for a department under k, and for one under k beside a large one (none changes anything).
    names = [d.name for d in DEPARTMENTS]
    specs = (*INTERVENTIONS, "inv-teams:Engineering+Legal:-29:0:communication")
    items = with_unique_ids([parse_intervention(s, AS_OF, STORIES, names) for s in specs])
    write_interventions(tmp / "catalog" / "interventions.yaml", items, "# the analysts' database test")
    sync_catalog(store.con, catalog)
    refresh(store.con, catalog, AS_OF)
    found = load_interventions(tmp / "catalog", catalog).items
    write_effects(store.con, found, AS_OF, Options(resamples=200, k=K))
    views.refresh(store.con, catalog, AS_OF)
    publish(store.con, tmp / "analysts.duckdb", ANALYSTS_OBJECTS)
    store.close()
    return tmp


@pytest.fixture(scope="module")
def databases(folder: Path) -> tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyConnection]:
    """(the pipeline's own file, the analysts' database), both open read-only."""
    return (
        duckdb.connect(str(folder / "pipeline.duckdb"), read_only=True),
        duckdb.connect(str(folder / "analysts.duckdb"), read_only=True),
    )


def _rows(con: duckdb.DuckDBPyConnection, name: str) -> Rows:
    cur = con.execute(f'SELECT * FROM "{name}"')
    columns = [d[0] for d in cur.description]
    return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]


def _sizes(private: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(private.execute("SELECT department, count(*) FROM directory GROUP BY ALL").fetchall())


def _app_users(private: duckdb.DuckDBPyConnection, application: str) -> int:
    """People with an active day on `application` in the 28-day window, counted in the private rollup."""
    row = private.execute(
        """
        SELECT count(DISTINCT "user") FROM (
            SELECT u."user", u.day, sum(u.focus_s) AS focus_s, any_value(a.min_s) AS min_s
            FROM usage_user_daily u LEFT JOIN app_map m USING (app)
            LEFT JOIN catalog_applications a ON a.application = coalesce(m.application, u.app)
            WHERE coalesce(m.application, u.app) = ? AND u.day > ? GROUP BY ALL)
        WHERE focus_s >= coalesce(min_s, 300)
        """,
        [application, AS_OF - timedelta(days=MONTH_DAYS)],
    ).fetchone()
    return int(row[0]) if row else 0


def _populations(private: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(
        private.execute(
            "SELECT t.investment, count(*) FROM inv_targets t JOIN directory d USING (department) GROUP BY ALL"
        ).fetchall()
    )


# --- one rule per object: what group of people each row describes, and how it is checked --------------------


def departments_of_k(rows: Rows, private: duckdb.DuckDBPyConnection, column: str = "department") -> None:
    sizes = _sizes(private)
    for row in rows:
        for department in str(row[column] or "").split(", "):
            assert department in ("", "(all)") or sizes[department] >= K, (department, row)


def investments_of_k(rows: Rows, private: duckdb.DuckDBPyConnection) -> None:
    """Adoption figures are over the investment's target population: none for a population under k."""
    populations = _populations(private)
    for row in rows:
        if populations.get(row["investment"], K) < K:
            shown = {c: row[c] for c in HIDDEN if c in row}
            assert set(shown.values()) == {None}, (row["investment"], shown)


def applications_of_k(rows: Rows, private: duckdb.DuckDBPyConnection) -> None:
    for row in rows:
        assert row["active_users"] >= K and _app_users(private, row["application"]) >= K, row


def usage_daily(rows: Rows, private: duckdb.DuckDBPyConnection) -> None:
    departments_of_k(rows, private)
    assert rows and min(r["users"] for r in rows) >= K
    # What the organisation-wide counts minus a day's shown departments would give covers none or >= k people.
    sizes = _sizes(private)
    shown: dict[tuple[Any, str], int] = {}
    for r in rows:
        shown[r["day"], r["application"]] = shown.get((r["day"], r["application"]), 0) + sizes[r["department"]]
    assert all(sum(sizes.values()) - n in (0, *range(K, 10**6)) for n in shown.values())


def displacement(rows: Rows, private: duckdb.DuckDBPyConnection) -> None:
    departments_of_k(rows, private)
    assert all(r["users"] >= K for r in rows)


def roadmap(rows: Rows, private: duckdb.DuckDBPyConnection) -> None:
    departments_of_k(rows, private, "departments")
    assert not [r for r in rows if r["subject"] == SMALL_INVESTMENT]  # no action is drawn from 4 people's use


def intervention_effects(rows: Rows, private: duckdb.DuckDBPyConnection) -> None:
    """Each intervention's effect: groups of k people or more, and no department under k named in a list."""
    assert len(rows) == len(INTERVENTIONS) + 1
    departments_of_k(rows, private, "departments")
    departments_of_k(rows, private, "comparison_departments")
    assert all(r["treated_people"] is None or r["treated_people"] >= K for r in rows)
    assert all(r["comparison_people"] is None or r["comparison_people"] >= K for r in rows)
    legal = next(r for r in rows if r["intervention"] == "inv-teams-training-legal")
    assert (legal["verdict"], legal["reason"], legal["departments"], legal["effect"]) == (
        "not_estimable",
        "small_group",
        "",
        None,
    )


def inputs(rows: Rows, private: duckdb.DuckDBPyConnection) -> None:
    """alignment_inputs: the k-safe summary assess, roadmap and report read (one JSON document per kept day)."""
    sizes = _sizes(private)
    assert rows
    for row in rows:
        doc = json.loads(row["inputs"])
        usage = doc["usage"]
        if row["as_of"] == AS_OF:
            assert all(n >= K and _app_users(private, app) >= K for app, n in usage["active_users"].items())
        assert set(usage["focus_s"]) == set(usage["active_users"]) == set(usage["weekly_active"])
        assert usage["active_people"] >= K or usage["active_people"] == usage["total_focus_s"] == 0  # a day before data
        assert all(sizes[d] == n >= K for d, n in doc["department_sizes"].items())
        assert all(sizes[d] >= K for found in usage["department_adoption"].values() for d, _ in found)
        assert all(sizes[o["department"]] >= K and o["users"] >= K for o in usage["overlaps"])
        assert all(s["users"] >= K for s in doc["switches"])
        departments_of_k(doc["switches"], private)
        small = doc["states"][SMALL_INVESTMENT]
        assert (small["status"], small["status_reason"], small["adoption_ratio"]) == (
            "unknown",
            "small_population",
            None,
        )


def no_group(rows: Rows, private: duckdb.DuckDBPyConnection) -> None:
    """Organisation-wide figures, the catalog's structure, or the pipeline's own state: no group of people."""


RULES: dict[str, Callable[[Rows, duckdb.DuckDBPyConnection], None]] = {
    "adoption_current": investments_of_k,
    "adoption_daily": investments_of_k,
    "usage_daily": usage_daily,
    "shadow_it": applications_of_k,
    "department_adoption": departments_of_k,
    "initiative_attainment": no_group,  # weighted over investment figures, each k-safe (adoption_current)
    "objective_attainment": no_group,
    "rejected_events_summary": no_group,  # counts of rejected records per field; payloads stay private
    "ingest_totals": no_group,
    "refresh_state": no_group,
    "alignment_portfolio": no_group,  # per H&V domain and perspective, over investment figures
    "roadmap": roadmap,
    "alignment_displacement": displacement,
    "emergent_strategy": applications_of_k,
    "alignment_maturity": no_group,
    "alignment_maturity_levels": no_group,
    "alignment_inputs": inputs,
    "intervention_effects": intervention_effects,
}


def test_every_object_is_published_documented_and_has_a_rule(databases: Any) -> None:
    _private, analysts = databases
    found = {
        r[0]
        for r in analysts.execute(
            "SELECT table_name FROM duckdb_tables() UNION SELECT view_name FROM duckdb_views() WHERE NOT internal"
        ).fetchall()
    }
    assert found == set(ANALYSTS_OBJECTS) == set(RULES)
    documented = (ROOT / "docs" / "analysts.md").read_text()
    assert not [name for name in found if f"`{name}`" not in documented]


@pytest.mark.parametrize("name", sorted(RULES))
def test_no_person_and_no_group_under_k(databases: Any, name: str) -> None:
    private, analysts = databases
    people = {
        r[0]
        for r in private.execute('SELECT DISTINCT "user" FROM events UNION SELECT "user" FROM directory').fetchall()
    }
    devices = {r[0] for r in private.execute("SELECT DISTINCT device_id FROM events").fetchall()}
    assert (
        len(people) > 40 and len(devices) > 40 and all(re.fullmatch(r"[ud]_[0-9a-f]{32}", p) for p in people | devices)
    )
    rows = _rows(analysts, name)
    text = " ".join(str(v) for row in rows for v in row.values())
    # No value names a person or a device, and no small department is named at all.
    assert not re.search(r"\b[ud]_[0-9a-f]{32}\b", text), name
    assert not {"Legal", "HR", "Finance"} & set(re.findall(r"\w+", text)), name
    RULES[name](rows, private)


def test_the_small_investment_is_not_shown_but_the_others_are(databases: Any) -> None:
    _private, analysts = databases
    figures = {r["investment"]: r for r in _rows(analysts, "adoption_current")}
    small = figures[SMALL_INVESTMENT]
    assert (small["status"], small["status_reason"], small["adoption_ratio"]) == ("unknown", "small_population", None)
    shown = [r for r in figures.values() if r["adoption_ratio"] is not None]
    assert len(shown) >= 4  # the rest of the portfolio is still measured
    daily = analysts.execute(
        "SELECT count(*) FILTER (WHERE adoption_ratio IS NOT NULL), count(*) FROM adoption_daily WHERE investment = ?",
        [SMALL_INVESTMENT],
    ).fetchone()
    assert daily is not None and daily[0] == 0 < daily[1]


def _rounded(inputs: object) -> object:
    """The inputs as plain data, floats to 9 significant digits (sums of the same doubles in another order differ
    in the last bits)."""

    def walk(value: object) -> object:
        if isinstance(value, float):
            return float(f"{value:.9g}")
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(TypeAdapter(inputs_store.Inputs | None).dump_python(inputs, mode="json"))


def test_assess_and_report_read_the_analysts_database_for_the_days_it_keeps(
    folder: Path, databases: Any, alignmon: Any
) -> None:
    private, analysts = databases
    strategy = strategy_from_catalog(load_catalog(folder / "catalog"))
    # What analysts read is what the pipeline's own file gives, computed afresh from the per-person rows.
    assert _rounded(inputs_store.load(analysts, AS_OF)) == _rounded(read_inputs(private, strategy, AS_OF))
    assert inputs_store.stored_days(analysts) == [QUARTER_END, AS_OF]
    assert read_facts(analysts, strategy, QUARTER_END).as_of == QUARTER_END  # the report's baseline
    with pytest.raises(AlignmonError, match="these days only: 2026-09-30, 2026-11-20; pick one"):
        read_facts(analysts, strategy, AS_OF - timedelta(days=1))
    out = folder / "report.html"
    env = {"ALIGNMON_CATALOG_DIR": str(folder / "catalog"), "ALIGNMON_AS_OF": str(AS_OF)}
    result = alignmon.run(["report", "--database", str(folder / "analysts.duckdb"), "--out", str(out)], env)
    assert result.returncode == 0, result.stderr
    html = out.read_text()
    assert "Salesforce CRM rollout" in html and not re.search(r"\b[ud]_[0-9a-f]{32}\b", html)
    assert "Headline figures: end of Q3 2026 (2026-09-30)" in html  # the change since the kept quarter's end
    # A file that does not keep the baseline day: the report says so instead of failing or inventing a change.
    copy = folder / "without-baseline.duckdb"
    shutil.copy(folder / "analysts.duckdb", copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("DELETE FROM alignment_inputs WHERE as_of = ?", [QUARTER_END])
    result = alignmon.run(["report", "--database", str(copy), "--out", str(out)], env)
    assert result.returncode == 0, result.stderr
    assert "does not hold the figures as of 2026-09-30" in result.stderr
    assert "No change since the end of Q3 2026 can be shown: " in out.read_text()
    refused = alignmon.run(["assess", "--database", str(folder / "analysts.duckdb"), "--as-of", "2026-11-19"], env)
    assert refused.returncode != 0 and "these days only" in refused.stderr


def test_sql_on_the_analysts_database_says_where_per_person_rows_are(folder: Path, alignmon: Any) -> None:
    env = {"ALIGNMON_SNAPSHOT_PATH": str(folder / "analysts.duckdb")}
    shown = alignmon.run(["sql", "SELECT sum(events) AS n FROM ingest_totals"], env)
    assert shown.returncode == 0 and re.search(r"\b[1-9]\d{3,}\b", shown.stdout), shown.stderr
    refused = alignmon.run(["sql", 'SELECT DISTINCT "user" FROM usage_user_daily'], env)
    assert refused.returncode == 1
    assert "usage_user_daily holds per-person rows, which the analysts' database never holds" in refused.stderr
