"""The shipped Prometheus rules: generated from the thresholds, valid, unit-tested, documented, on contract."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from base.errors import AlignmonError
from metrics import rulegen
from metrics.config import rule_files
from metrics.definitions import METRICS
from metrics.thresholds import THRESHOLDS_PATH, load, seconds
from pipeline.domain.status import Status

PROMTOOL = "/usr/bin/promtool"
ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "docs" / "runbooks.md"
PROMTOOL_TESTS = sorted((Path(__file__).parent / "promtool").glob("*.yml"))
# Labels Prometheus adds on scrape, and the one the ExporterDown rule adds itself.
EXTRA_LABELS = {"job", "instance", "reason"}
BUILTIN_SERIES = {"up", "ALERTS", "ALERTS_FOR_STATE"}
EXPECTED_ALERTS = {
    "AdoptionLow",
    "AdoptionForecastMissesTarget",
    "LicenceWasteBeforeRenewal",
    "AdoptionDeclining",
    "ShadowITSpreading",
    "PipelineStalled",
    "ConsumerLagHigh",
    "RejectedEventRateHigh",
    "ExporterDown",
    "GatewayRefusingEvents",
    "GatewaySpoolCommitFailing",
    "CatalogInvalid",
    "LakeBehind",
    "PipelineWriters",
    "GatewayKafkaUnreachable",
    "GatewaySpoolGrowing",
    "CollectorsSilent",
}


def _groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for path in rule_files():
        groups += yaml.safe_load(path.read_text())["groups"]
    return groups


def _rules() -> list[dict[str, Any]]:
    return [rule for group in _groups() for rule in group["rules"]]


def _alerts() -> list[dict[str, Any]]:
    return [rule for rule in _rules() if "alert" in rule]


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert Path(PROMTOOL).exists(), "promtool missing: install the Debian package `prometheus` (make setup)"
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120, check=False)


# --- PromQL reading, just enough to check names against the contract -------------------------

_MATCHER = re.compile(r'([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_IDENT = re.compile(r"(?<![\w:.])([A-Za-z_:][\w:]*)(\s*\()?")
_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool"}
_TEMPLATE_QUERY = re.compile(r"printf `([^`]*)`")


class PromQL:
    """Metric names, label names and matcher values that one expression uses."""

    def __init__(self, expr: str) -> None:
        matchers = [m for braces in re.findall(r"\{([^}]*)\}", expr) for m in _MATCHER.findall(braces)]
        self.matchers = {(name, value) for name, _op, value in matchers}
        bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", _STRING.sub(" ", expr))
        self.labels = {name for name, _op, _value in matchers}
        for _kw, names in _GROUPING.findall(bare):
            self.labels |= {n.strip() for n in names.split(",") if n.strip()}
        bare = _GROUPING.sub(" ", bare)
        self.metrics = {
            name for name, call in _IDENT.findall(bare) if not call and name not in _KEYWORDS and name.lower() != "inf"
        }


def _template_queries(rule: dict[str, Any]) -> list[str]:
    """The PromQL inside annotation templates (`printf \\`...\\` $labels.x | query`)."""
    return [
        q.replace("%q", '"x"') for text in rule.get("annotations", {}).values() for q in _TEMPLATE_QUERY.findall(text)
    ]


def test_promql_reader_finds_metrics_labels_and_matchers() -> None:
    q = PromQL(
        'sum by (job) (rate(foo_total{source="agent"}[5m])) / on (job) group_left(owner) bar:baz:sum '
        'and absent(up{job="a"}) > -0.5 unless label_replace(x == 1, "reason", "no (target)", "", "")'
    )
    assert q.metrics == {"foo_total", "bar:baz:sum", "up", "x"}
    assert q.labels == {"job", "source", "owner"}
    assert q.matchers == {("source", "agent"), ("job", "a")}


# --- generation ---------------------------------------------------------------------------------


def test_committed_rules_equal_a_fresh_rendering_of_the_thresholds() -> None:
    assert rulegen.RULES_PATH.read_text() == rulegen.render(load()), "run `python -m metrics.rulegen`"


def test_rulegen_check_flags_a_stale_file_and_write_fixes_it(tmp_path: Path) -> None:
    out = tmp_path / "alignmon.yml"
    out.write_text("groups: []\n")
    assert rulegen.main(["--output", str(out), "--check"]) == 1
    assert rulegen.main(["--output", str(out)]) == 0
    assert rulegen.main(["--output", str(out), "--check"]) == 0


def test_a_threshold_edit_reaches_the_generated_rules() -> None:
    t = load()
    waste = t.alerts.waste.model_copy(update={"min_wasted_spend": 2500.0, "renewal_within_days": 30.0})
    edited = t.model_copy(update={"alerts": t.alerts.model_copy(update={"waste": waste})})
    rules = {r.get("alert"): r for g in yaml.safe_load(rulegen.render(edited))["groups"] for r in g["rules"]}
    expr = rules["LicenceWasteBeforeRenewal"]["expr"]
    assert "investment:alignmon_investment_wasted_spend:with_owner > 2500\n" in expr
    assert "investment:alignmon_investment_renewal:days_until <= 30\n" in expr


def test_shadow_it_growth_is_the_pipelines_count_over_the_configured_window(tmp_path: Path) -> None:
    """ShadowITSpreading reads the growth the pipeline counts from its own daily history, for the thresholds' window;
    no rule takes a delta() of the shadow-IT gauge over Prometheus's samples (a history loaded at once moves them in
    seconds: tests/metrics/promtool/governance.yml, "shadow IT history loaded at once")."""
    shadow = next(a for a in _alerts() if a["alert"] == "ShadowITSpreading")
    assert 'alignmon_shadow_it_growth_users{window="7d"} >= 5' in shadow["expr"]
    for rule in _rules():
        assert not re.search(r"(delta|increase|rate|deriv)\(alignmon_shadow_it", rule["expr"]), rule
    t = load()
    month = t.alerts.shadow_it.model_copy(update={"growth_window": "4w"})
    edited = t.model_copy(update={"alerts": t.alerts.model_copy(update={"shadow_it": month})})
    rules = {r.get("alert"): r for g in yaml.safe_load(rulegen.render(edited))["groups"] for r in g["rules"]}
    assert 'alignmon_shadow_it_growth_users{window="28d"} >= 5' in rules["ShadowITSpreading"]["expr"]
    # A window the pipeline does not count is refused, naming the file and the field.
    bad = tmp_path / "thresholds.yml"
    bad.write_text(THRESHOLDS_PATH.read_text().replace("growth_window: 7d", "growth_window: 14d", 1))
    with pytest.raises(AlignmonError, match=r"alerts\.ShadowITSpreading\.growth_window.*7d, 28d"):
        load(bad)


def test_invalid_thresholds_name_the_file_and_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "thresholds.yml"
    bad.write_text(THRESHOLDS_PATH.read_text().replace("for: 15m", "for: 15 minutes", 1))
    with pytest.raises(AlignmonError, match=r"thresholds\.yml.*alerts\.AdoptionLow\.for"):
        load(bad)


def test_durations_convert_to_seconds() -> None:
    assert seconds("15m") == 900
    assert seconds("4d") == 345600
    assert seconds("1w") == 604800
    with pytest.raises(ValueError):
        seconds("1h30m")


# --- promtool -----------------------------------------------------------------------------------


def test_the_rule_files_are_found() -> None:
    assert [p.name for p in rule_files()] == ["alignmon.yml"]


@pytest.mark.parametrize("path", rule_files(), ids=lambda p: p.name)
def test_promtool_check_rules(path: Path) -> None:
    result = _promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass() -> None:
    assert PROMTOOL_TESTS, "no promtool tests found"
    result = _promtool("test", "rules", *map(str, PROMTOOL_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(PROMTOOL_TESTS)


def test_promtool_tests_cover_every_alert_firing_and_not_firing() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for path in PROMTOOL_TESTS:
        for group in yaml.safe_load(path.read_text())["tests"]:
            for case in group.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else silent).add(case["alertname"])
    names = {a["alert"] for a in _alerts()}
    assert names - firing == set(), "alerts never tested firing"
    assert names - silent == set(), "alerts never tested not firing"


def test_promtool_tests_evaluate_groups_in_rule_file_order() -> None:
    # promtool otherwise evaluates groups in random order, and an alert may miss a recording rule.
    order = [g["name"] for g in _groups()]
    for path in PROMTOOL_TESTS:
        assert yaml.safe_load(path.read_text())["group_eval_order"] == order, path.name


# --- alert hygiene ------------------------------------------------------------------------------


def _runbook_anchors() -> set[str]:
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", RUNBOOKS.read_text(), flags=re.MULTILINE)
    # GitHub anchors: lower case, punctuation dropped, spaces to hyphens.
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_the_expected_alerts_are_shipped() -> None:
    assert {a["alert"] for a in _alerts()} == EXPECTED_ALERTS


@pytest.mark.parametrize("alert", _alerts(), ids=lambda a: a["alert"])
def test_alert_has_severity_summary_description_and_runbook(alert: dict[str, Any]) -> None:
    name = alert["alert"]
    assert alert["labels"]["severity"] in {"critical", "warning", "info"}
    assert alert["annotations"]["summary"].strip()
    assert alert["annotations"]["description"].strip()
    runbook = alert["annotations"]["runbook"]
    assert runbook == "docs/runbooks.md#" + name.lower()  # a section of the shipped docs, never a made-up URL
    assert runbook.rsplit("#", 1)[1] in _runbook_anchors(), f"docs/runbooks.md has no section `## {name}`"


@pytest.mark.parametrize("alert", _alerts(), ids=lambda a: a["alert"])
def test_alert_is_routable(alert: dict[str, Any]) -> None:
    labels = alert["labels"]
    if labels.get("audience") == "owner":
        # Owner alerts are built on a with_owner recording rule, which brings owner_email for routing.
        assert alert["expr"].startswith("investment:") and ":with_owner" in alert["expr"].split("\n")[0]
        assert "team" not in labels
    else:
        assert labels.get("team") == "itops"


def _section(name: str) -> str:
    return RUNBOOKS.read_text().split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]


def _shown(value: object) -> str:
    """A threshold as thresholds.yml writes it: 10000, -0.005, 15m, [on_track, low]."""
    if isinstance(value, tuple | list):
        return "[" + ", ".join(map(str, value)) + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)


def test_runbooks_state_the_current_thresholds() -> None:
    t = load()
    for name, threshold in t.alerts.model_dump(by_alias=True).items():
        section = " ".join(_section(name).split())
        for field_name, value in threshold.items():
            assert f"{field_name} `{_shown(value)}`" in section, f"runbook {name}: {field_name} is not {_shown(value)}"
    assert f"pipeline_job `{t.pipeline_job}`" in " ".join(_section("ExporterDown").split())


def test_runbooks_list_every_recording_rule() -> None:
    text = RUNBOOKS.read_text()
    for rule in _rules():
        if "record" in rule:
            assert f"`{rule['record']}`" in text, rule["record"]


def test_each_runbook_section_says_what_to_do_and_how_to_silence() -> None:
    for name in EXPECTED_ALERTS:
        section = _section(name)
        for part in ("**What it means.**", "**Numbers to look at.**", "**Likely causes.**", "**What to do"):
            assert part in section, f"{name}: {part}"
        assert "**Silencing legitimately.**" in section, name


# --- the metric contract ------------------------------------------------------------------------


def _gateway_metrics() -> set[str]:
    """The gateway serves its own /metrics: its families are part of the contract too."""
    from collectors.gateway.metrics import GatewayMetrics

    return {s.name for family in GatewayMetrics().registry.collect() for s in family.samples} | {
        family.name for family in GatewayMetrics().registry.collect()
    }


def test_every_metric_and_label_used_is_in_the_contract() -> None:
    known_metrics = (
        {m.name for m in METRICS}
        | {r["record"] for r in _rules() if "record" in r}
        | BUILTIN_SERIES
        | _gateway_metrics()
    )
    known_labels = {label for m in METRICS for label in m.labels} | EXTRA_LABELS
    statuses = {s.value for s in Status}
    for rule in _rules():
        name = rule.get("alert") or rule["record"]
        for expr in [rule["expr"], *_template_queries(rule)]:
            q = PromQL(expr)
            assert q.metrics, f"{name}: no metric found in {expr!r}"
            assert q.metrics <= known_metrics, f"{name}: unknown metrics {q.metrics - known_metrics}"
            assert q.labels <= known_labels, f"{name}: unknown labels {q.labels - known_labels}"
            for label, value in q.matchers:
                if label == "status":
                    assert set(value.split("|")) <= statuses, f"{name}: unknown status in {value!r}"


def test_template_queries_are_read() -> None:
    low = next(a for a in _alerts() if a["alert"] == "AdoptionLow")
    queries = _template_queries(low)
    assert 'alignmon_investment_planned_ratio{investment="x"} * 100' in queries
    assert 'alignmon_investment_status_reason{investment="x"}' in queries
    assert any(q.startswith('sort((alignmon_department_adoption_ratio{investment="x"}') for q in queries)
