"""The built dashboards: deterministic, laid out on the grid, wired to the datasource, variables and runbooks."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards import datasource
from dashboards.build import panels, write
from dashboards.layout import Row, place
from dashboards.query import Query, ref_id, target
from metrics.definitions import BY_NAME
from metrics.thresholds import load
from tests.dashboards.conftest import RUNBOOKS

REPO = Path(__file__).parents[2]
UIDS = {
    "alignmon-portfolio",
    "alignmon-investment",
    "alignmon-applications",
    "alignmon-pipeline",
    "alignmon-collectors",
}


def test_rebuild_gives_identical_bytes(tmp_path: Path) -> None:
    first = write(tmp_path / "a", load(), RUNBOOKS)
    second = write(tmp_path / "b", load(), RUNBOOKS)
    assert (
        [p.name for p in first]
        == [p.name for p in second]
        == [
            "alignmon-portfolio.json",
            "alignmon-investment.json",
            "alignmon-applications.json",
            "alignmon-pipeline.json",
            "alignmon-collectors.json",
        ]
    )
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
    text = first[0].read_text()
    assert text.endswith("}\n")
    # No timestamps or versions that would change from one build to the next.
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text)
    for key in ('"version"', '"iteration"', '"created"', '"updated"'):
        assert key not in text


def test_write_leaves_up_to_date_files_alone(tmp_path: Path) -> None:
    [path, *_] = write(tmp_path, load(), RUNBOOKS)
    path.touch()
    before = path.stat().st_mtime_ns
    path.chmod(0o444)  # a rewrite would fail on a read-only file
    try:
        write(tmp_path, load(), RUNBOOKS)
    finally:
        path.chmod(0o644)
    assert path.stat().st_mtime_ns == before
    assert not list(tmp_path.glob("*.tmp"))


def test_uids_titles_and_tags(built: dict[str, dict[str, Any]]) -> None:
    assert {d["uid"] for d in built.values()} == UIDS
    for name, d in built.items():
        assert name == f"{d['uid']}.json"
        assert d["title"].startswith("alignmon / ")
        assert "alignmon" in d["tags"]
        assert "id" not in d


def test_rows_fill_the_grid_and_ids_are_unique(built: dict[str, dict[str, Any]]) -> None:
    for d in built.values():
        ids = [p["id"] for p in d["panels"]]
        assert ids == list(range(1, len(ids) + 1))
        widths: dict[int, int] = defaultdict(int)
        row_y = -1
        for p in d["panels"]:
            if p["type"] == "row":
                row_y = p["gridPos"]["y"]
                assert p["gridPos"] == {"h": 1, "w": 24, "x": 0, "y": row_y}
            else:
                widths[row_y] += p["gridPos"]["w"]
                assert p["gridPos"]["y"] == row_y + 1
        assert widths and set(widths.values()) == {24}, d["uid"]


def test_every_target_has_a_ref_id_and_the_datasource(built: dict[str, dict[str, Any]]) -> None:
    for d in built.values():
        for p in panels(d):
            refs = [t["refId"] for t in p["targets"]]
            assert refs == [chr(ord("A") + i) for i in range(len(refs))], p["title"]
            assert p["datasource"] == {"type": "prometheus", "uid": "alignmon-prometheus"}
            assert all(t["datasource"] == p["datasource"] for t in p["targets"])


def test_every_panel_has_a_unit_thresholds_and_a_description(built: dict[str, dict[str, Any]]) -> None:
    units = set()
    for d in built.values():
        for p in panels(d):
            defaults = p["fieldConfig"]["defaults"]
            units.add(defaults["unit"])
            steps = defaults["thresholds"]["steps"]
            assert steps[0]["value"] is None, p["title"]
            values = [s["value"] for s in steps[1:]]
            assert values == sorted(values), p["title"]
            assert len(p["description"]) > 20, p["title"]
    assert {"percentunit", "short", "s"} <= units


def test_thresholds_follow_the_alert_thresholds(built: dict[str, dict[str, Any]]) -> None:
    t = load()
    health = {p["title"]: p for p in panels(built["alignmon-pipeline.json"])}
    steps = [s["value"] for s in health["Last commit age"]["fieldConfig"]["defaults"]["thresholds"]["steps"]]
    assert steps == [None, 900, 345600]  # PipelineStalled: 15m with lag, 4d regardless
    lag = [s["value"] for s in health["Consumer lag"]["fieldConfig"]["defaults"]["thresholds"]["steps"]]
    assert lag == [None, t.alerts.lag.max_lag_records] == [None, 50000]


def test_variables_are_chained(built: dict[str, dict[str, Any]]) -> None:
    variables = {v["name"]: v for v in built["alignmon-investment.json"]["templating"]["list"]}
    assert list(variables) == ["objective", "initiative", "investment", "department"]
    assert variables["objective"]["query"] == "label_values(alignmon_investment_info, objective)"
    assert '$objective"' in variables["initiative"]["query"]
    assert '$objective"' in variables["investment"]["query"] and '$initiative"' in variables["investment"]["query"]
    assert '$investment"' in variables["department"]["query"]
    assert variables["investment"]["multi"] is False and variables["investment"]["includeAll"] is False
    assert variables["objective"]["allValue"] == ".*"
    for v in variables.values():
        assert v["datasource"]["uid"] == "alignmon-prometheus"


def test_panels_match_variables_with_regex(built: dict[str, dict[str, Any]]) -> None:
    """`All` is `.*`, which only works with =~ matchers."""
    for d in built.values():
        for p in panels(d):
            for t in p["targets"]:
                assert not re.search(r'[^=!]="\$', t["expr"]), t["expr"]


def test_links_reach_runbook_sections_and_other_dashboards(built: dict[str, dict[str, Any]]) -> None:
    runbooks = (REPO / "docs" / "runbooks.md").read_text()
    anchors = {h.strip().lower() for h in re.findall(r"^## (\w+)\s*$", runbooks, re.MULTILINE)}
    base = RUNBOOKS
    linked = set()
    for d in built.values():
        assert [link["title"] for link in d["links"]] == ["alignmon dashboards", "Runbooks"]
        assert d["links"][0]["tags"] == ["alignmon"] and d["links"][1]["url"] == base
        for p in panels(d):
            for link in [*p.get("links", []), *p["fieldConfig"]["defaults"].get("links", [])]:
                url = link["url"]
                if url.startswith(base):
                    anchor = url.removeprefix(base + "#")
                    assert anchor in anchors, url
                    linked.add(anchor)
                else:
                    assert url.startswith("/d/") and url[3:].split("?")[0] in UIDS, url
    # Every alert that a dashboard shows the numbers of is one click from its runbook.
    assert linked == {
        "adoptionlow",
        "adoptionforecastmissestarget",
        "adoptiondeclining",
        "licencewastebeforerenewal",
        "shadowitspreading",
        "pipelinestalled",
        "gatewaykafkaunreachable",
        "gatewayspoolgrowing",
        "collectorssilent",
        "consumerlaghigh",
        "rejectedeventratehigh",
        "exporterdown",
    }


def test_portfolio_tables_drill_into_the_investment(built: dict[str, dict[str, Any]]) -> None:
    tables = [p for p in panels(built["alignmon-portfolio.json"]) if p["type"] == "table"]
    assert [t["title"] for t in tables] == [
        "Low and at-risk investments",
        "All investments",
        "Renewals in the next 180 days",
    ]
    for table in tables:
        [link] = table["fieldConfig"]["defaults"]["links"]
        assert link["url"] == '/d/alignmon-investment?var-investment=${__data.fields["Investment"]}&${__url_time_range}'
        organize = table["transformations"][1]["options"]
        assert organize["renameByName"]["investment"] == "Investment"
        # Every query keeps the same row labels, so the merge joins them into one row per investment.
        for t in table["targets"]:
            assert "max by (investment, name, owner, currency" in t["expr"]
            assert t["format"] == "table" and t["instant"] is True


def test_the_portfolio_table_sorts_by_gap_and_colours_like_the_alerts(built: dict[str, dict[str, Any]]) -> None:
    table = next(p for p in panels(built["alignmon-portfolio.json"]) if p["title"] == "All investments")
    shown = table["transformations"][1]["options"]["renameByName"]
    assert table["options"]["sortBy"] == [{"displayName": "Gap (points)", "desc": True}]
    assert {"Status", "Reason", "Adoption %", "Planned %", "Utilisation %", "Cost per active user"} <= set(
        shown.values()
    )
    assert {"Wasted spend / year", "Renewal", "Renewal in (days)"} <= set(shown.values())
    colours = {
        o["matcher"]["options"]["names"][0]: {p["id"]: p["value"] for p in o["properties"]}
        for o in table["fieldConfig"]["overrides"]
    }
    t = load()
    waste = [s["value"] for s in colours["Wasted spend / year"]["thresholds"]["steps"]]
    assert waste == [None, t.alerts.waste.min_wasted_spend]  # red where LicenceWasteBeforeRenewal would fire
    soon = [s["value"] for s in colours["Renewal in (days)"]["thresholds"]["steps"]]
    assert soon == [None, t.alerts.waste.renewal_within_days]
    assert [s["value"] for s in colours["Gap (points)"]["thresholds"]["steps"]] == [None, 5, 10]
    assert colours["Status"] == {"custom.cellOptions": {"type": "color-text"}}
    [mapping] = table["fieldConfig"]["defaults"]["mappings"]
    assert {k: v["color"] for k, v in mapping["options"].items()} == {
        "low": "red",
        "on_track": "green",
        "unknown": "purple",
        "not_started": "blue",
    }


def test_provisioning_loads_the_build_folder_and_datasource() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert "./dashboards/build:/var/lib/grafana/dashboards:ro" in mounts
    provider = yaml.safe_load((REPO / "deploy/grafana/provisioning/dashboards/alignmon.yaml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    assert provider["providers"][0]["folder"] == "alignmon"
    sources = yaml.safe_load((REPO / "deploy/grafana/provisioning/datasources/prometheus.yaml").read_text())
    [prom] = sources["datasources"]
    wanted = datasource.definition("http://prometheus:9090")
    assert {k: prom[k] for k in wanted} == wanted


def test_ref_ids_follow_grafanas_sequence() -> None:
    assert [ref_id(i) for i in (0, 1, 25, 26, 27, 51, 52)] == ["A", "B", "Z", "AA", "AB", "AZ", "BA"]


def test_table_queries_are_instant_and_others_range() -> None:
    table = target(Query("up", table=True), 0).build()
    series = target(Query("up", "{{job}}"), 1).build()
    assert (table.instant, table.range_val, table.format_val, table.ref_id) == (True, False, "table", "A")
    assert (series.instant, series.range_val, series.legend_format, series.ref_id) == (False, True, "{{job}}", "B")


def test_place_rejects_rows_that_do_not_fill_the_grid() -> None:
    from grafana_foundation_sdk.builders import dashboard as sdk

    from dashboards.panels import stat_panel

    panel = stat_panel("x", "a description", [Query("up")], unit="short")
    with pytest.raises(ValueError, match=r"row 'Short': panel widths \[12, 6\] must be positive and sum to 24"):
        place(sdk.Dashboard("t"), [Row("Short", ((12, panel), (6, panel)))])


def test_current_value_panels_use_instant_queries(built: dict[str, dict[str, Any]]) -> None:
    """A stat over a range would show every status an investment ever had, not the current one."""
    kinds = {"stat": True, "bargauge": True, "table": True, "timeseries": False}
    for d in built.values():
        for p in panels(d):
            assert {t["instant"] for t in p["targets"]} == {kinds[p["type"]]}, p["title"]


def test_the_drill_down_marks_each_intervention_of_the_investment_at_its_first_day(
    built: dict[str, dict[str, Any]],
) -> None:
    """One Prometheus annotation on Investment detail: each intervention of the chosen investment at its first day
    (the series' value in milliseconds, useValueForTime), titled with its id, kind and verdict; no other dashboard has
    one. The fields are the JSON Schema's (test_every_dashboard_validates) and Grafana's AnnotationQuery's."""
    found = {d["uid"]: d.get("annotations", {}).get("list", []) for d in built.values()}
    assert {uid: len(a) for uid, a in found.items() if a} == {"alignmon-investment": 1}
    [marker] = found["alignmon-investment"]
    assert marker["name"] == "Interventions" and marker["enable"] is True
    assert marker["datasource"] == {"type": "prometheus", "uid": datasource.DATASOURCE_UID}
    assert marker["useValueForTime"] is True
    assert marker["expr"] == (
        'alignmon_intervention_start_timestamp_seconds{investment=~"$investment"} * 1000 '
        "* on (intervention) group_left (verdict) (alignmon_intervention_verdict @ end())"
    )
    assert marker["titleFormat"] == "{{intervention}} ({{kind}}): {{verdict}}"
    # Every label the marker shows is one the expression's result carries.
    shown = set(re.findall(r"\{\{(\w+)\}\}", marker["titleFormat"] + marker["textFormat"]))
    shown |= set(marker["tagKeys"].split(","))
    result = {*BY_NAME["alignmon_intervention_start_timestamp_seconds"].labels, "verdict"}
    assert shown <= result and {"intervention", "kind", "verdict"} <= shown
