"""Reading metric names out of PromQL, and checking every dashboard expression against the metric contract."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from dashboards.promql import (
    Token,
    annotation_queries,
    metric_names,
    panel_queries,
    substitute,
    tokens,
    variable_metric_names,
    variable_queries,
)
from metrics.config import rule_files
from metrics.definitions import METRICS

# Series Prometheus itself makes for every scrape target.
PROMETHEUS_SERIES = {"up"}


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        ('alignmon_up{job="x"} == 0', {"alignmon_up"}),
        ("sum by (status) (alignmon_investment_status)", {"alignmon_investment_status"}),
        ("sum(rate(a_total[5m])) without (instance)", {"a_total"}),
        ("rate(a_total[$__rate_interval]) / rate(b_count[$__rate_interval])", {"a_total", "b_count"}),
        ("a * on (investment) group_left (owner, name) b", {"a", "b"}),
        ("a * on (x) group_right c", {"a", "c"}),
        ("a unless ignoring (job) b or c and d", {"a", "b", "c", "d"}),
        ('a{status=~"low|unknown", name!="x y"} > bool 0.5', {"a"}),
        ("job:alignmon_events_rejected:rate5m > 0.05", {"job:alignmon_events_rejected:rate5m"}),
        ('label_replace(a == 1, "forecast", "at risk", "", "")', {"a"}),
        ("(sum(a) or vector(0)) / time() * 1e3 - 0x1F + Inf", {"a"}),
        ("delta(a[7d] offset 1h) + b @ start()", {"a", "b"}),
        ('{__name__="raw_name", job="x"}', {"raw_name"}),
        ('topk(5, a{x="$investment"}) + count_values("v", b)', {"a", "b"}),
        ("max by (a, b) (m) and on (c) (count by (c) (n) >= 2)", {"m", "n"}),
        ("histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))", {"h_bucket"}),
        ("a  # a comment with not_a_metric\n+ b", {"a", "b"}),
    ],
)
def test_metric_names(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_unreadable_expression_is_an_error() -> None:
    with pytest.raises(ValueError, match="cannot read PromQL"):
        metric_names("a ; b")
    with pytest.raises(ValueError, match="unbalanced"):
        metric_names("a{x='1'")


def test_variable_queries() -> None:
    assert variable_metric_names('label_values(a{x=~"$y"}, objective)') == {"a"}
    assert variable_metric_names("label_values(objective)") == set()
    assert variable_metric_names("query_result(sum by (x) (b))") == {"b"}


def test_substitute() -> None:
    values = {"investment": ".*", "__rate_interval": "5m", "dep": "Sales"}
    assert substitute('a{investment=~"$investment"}[$__rate_interval]', values) == 'a{investment=~".*"}[5m]'
    assert substitute("${dep} ${dep:regex} [[dep]]", values) == "Sales Sales Sales"
    with pytest.raises(KeyError, match="objective"):
        substitute("$objective", values)


def _gateway_names() -> set[str]:
    """The gateway serves its own /metrics (collectors.gateway.metrics): its series are part of the contract too
    (a labelled counter has no sample before its first count: its name is taken from the family)."""
    from collectors.gateway.metrics import GatewayMetrics

    names: set[str] = set()
    for family in GatewayMetrics().registry.collect():
        names |= {s.name for s in family.samples} | {family.name + ("_total" if family.type == "counter" else "")}
    return names


def _known_names() -> set[str]:
    names = set(PROMETHEUS_SERIES) | _gateway_names()
    for m in METRICS:
        names.add(m.name)
        if m.kind == "summary":
            names |= {f"{m.name}_sum", f"{m.name}_count"}
    for path in rule_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            names |= {rule["record"] for rule in group["rules"] if "record" in rule}
    return names


def test_known_names_cover_the_contract() -> None:
    known = _known_names()
    assert "alignmon_pipeline_batch_duration_seconds_count" in known
    assert "investment:alignmon_investment_gap_ratio:with_owner" in known
    assert "currency:alignmon_investment_wasted_spend:sum" in known
    assert "alignmon_investment_gap" not in known
    gateway = {"alignmon_gateway_http_requests_total", "alignmon_gateway_spool_events", "alignmon_gateway_kafka_up"}
    assert gateway <= known


def test_every_expression_uses_exported_metrics_or_recording_rules(built: dict[str, dict[str, Any]]) -> None:
    known = _known_names()
    unknown = []
    used: set[str] = set()
    for dashboard in built.values():
        for q in [*panel_queries(dashboard), *annotation_queries(dashboard)]:
            names = metric_names(q.expr)
            assert names, f"{q.dashboard} / {q.panel} / {q.ref_id} selects no metric: {q.expr}"
            used |= names
            unknown += [f"{q.dashboard} / {q.panel} / {q.ref_id}: {n}" for n in sorted(names - known)]
        for name, query in variable_queries(dashboard):
            names = variable_metric_names(query)
            unknown += [f"{dashboard['uid']} / variable {name}: {n}" for n in sorted(names - known)]
    assert unknown == []
    # The dashboards show the headline figures of the contract.
    assert {
        "alignmon_objective_attainment_ratio",
        "alignmon_initiative_attainment_ratio",
        "alignmon_investment_adoption_ratio",
        "alignmon_investment_planned_ratio",
        "alignmon_intervention_start_timestamp_seconds",  # the drill-down's annotation
        "alignmon_intervention_verdict",
        "alignmon_department_adoption_ratio",
        "alignmon_shadow_it_active_users",
        "alignmon_shadow_it_growth_users",  # the pipeline's own count: never a delta() of Prometheus's samples
        "alignmon_application_active_users",
        "alignmon_consumer_lag_records",
        "alignmon_snapshot_age_seconds",
        "alignmon_collector_devices_reporting",  # its silent twin in source:alignmon_collector_devices_silent:ratio
        "alignmon_collector_fleet_devices_reporting",
        "alignmon_collector_fleet_devices_silent",
        "alignmon_events_ingested_total",
        "alignmon_gateway_http_requests_total",
        "alignmon_gateway_spool_events",
        "alignmon_gateway_kafka_up",
    } <= used


# Counted per source: a device running two collectors is in each source's count, so a sum over the sources counts it
# twice. The fleet's counts (alignmon_collector_fleet_devices_*) count each device once.
PER_SOURCE = {"alignmon_collector_devices_reporting", "alignmon_collector_devices_silent"}
AGGREGATIONS = {"sum", "avg", "min", "max", "count", "group", "topk", "bottomk", "quantile", "stddev", "stdvar"}


def _group_end(toks: list[Token], i: int) -> int:
    """Index after the parenthesised group that opens at toks[i]."""
    depth = 0
    for j in range(i, len(toks)):
        depth += {"(": 1, ")": -1}.get(toks[j].text, 0)
        if depth == 0:
            return j + 1
    raise ValueError("unbalanced parentheses")


def sums_over_sources(expr: str) -> list[str]:
    """The aggregations of `expr` that merge the sources of a per-source device count (keep no `source` label)."""
    toks, found = tokens(expr), []
    for i, tok in enumerate(toks):
        if tok.kind != "ident" or tok.text not in AGGREGATIONS or i + 1 == len(toks):
            continue
        clause, j = None, i + 1
        if toks[j].text in ("by", "without"):
            clause, j = (toks[j].text, toks[j + 1 : _group_end(toks, j + 1)]), _group_end(toks, j + 1)
        if j == len(toks) or toks[j].text != "(":
            continue
        end = _group_end(toks, j)
        if clause is None and end < len(toks) and toks[end].text in ("by", "without"):
            clause = (toks[end].text, toks[end + 1 : _group_end(toks, end + 1)])
        if not PER_SOURCE & {t.text for t in toks[j:end]}:
            continue
        labels = {t.text for t in clause[1]} if clause else set()
        if clause is None or (clause[0] == "by") != ("source" in labels):
            found.append(" ".join(t.text for t in toks[i:end]))
    return found


def test_sums_over_sources_are_found() -> None:
    assert sums_over_sources('sum(alignmon_collector_devices_reporting{window="1d"})') != []
    assert sums_over_sources("max without (source) (alignmon_collector_devices_silent)") != []
    assert sums_over_sources("sum(alignmon_collector_devices_silent) by (job)") != []
    assert sums_over_sources("sum by (job, source) (alignmon_collector_devices_silent) / sum(x)") == []
    assert sums_over_sources("sum without (instance) (alignmon_collector_devices_silent)") == []
    assert sums_over_sources('max(alignmon_collector_fleet_devices_reporting{window="28d"})') == []


def test_no_expression_adds_up_the_sources_device_counts(built: dict[str, dict[str, Any]]) -> None:
    """A device running two collectors is one device: totals come from the fleet's counts, never a sum of sources'."""
    found = [
        f"{q.dashboard} / {q.panel}: {s}"
        for d in built.values()
        for q in [*panel_queries(d), *annotation_queries(d)]
        for s in sums_over_sources(q.expr)
    ]
    for path in rule_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            found += [
                f"{path.name} / {r.get('record') or r['alert']}: {s}"
                for r in group["rules"]
                for s in sums_over_sources(r["expr"])
            ]
    assert found == []
