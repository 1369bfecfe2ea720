"""metrics/demo-thresholds.yml: the shipped thresholds with short `for`s on the owners' alerts, for the demo only."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from alignmon.demo import DEMO_THRESHOLDS, demo_rules
from metrics.rulegen import RULES_PATH, adoption_alerts, governance_alerts
from metrics.thresholds import THRESHOLDS_PATH, load, seconds

PROMTOOL = "/usr/bin/promtool"


def test_the_demo_file_is_labelled_as_such() -> None:
    first = DEMO_THRESHOLDS.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# DEMO THRESHOLDS") and "Never deploy" in first


def test_demo_thresholds_differ_from_the_shipped_ones_only_in_shorter_fors_of_owner_and_governance_alerts() -> None:
    shipped, demo = load(THRESHOLDS_PATH), load(DEMO_THRESHOLDS)
    short = {spec.name for spec in [*adoption_alerts(demo), *governance_alerts(demo)]}
    assert short == {
        "AdoptionLow",
        "AdoptionForecastMissesTarget",
        "LicenceWasteBeforeRenewal",
        "AdoptionDeclining",
        "ShadowITSpreading",
    }
    by_name = {f.alias: name for name, f in type(demo.alerts).model_fields.items()}
    for alias, name in by_name.items():
        ours, theirs = getattr(demo.alerts, name), getattr(shipped.alerts, name)
        if alias in short:
            assert seconds(ours.for_) <= 120 < seconds(theirs.for_), alias
            ours = ours.model_copy(update={"for_": theirs.for_})
        assert ours == theirs, f"{alias}: only `for` may differ from metrics/thresholds.yml"
    assert demo.pipeline_job == shipped.pipeline_job
    assert seconds(demo.alerts.adoption_low.for_) <= 30  # the owner's mail of the two-minute demo


def test_demo_rules_replace_the_shipped_rule_file_and_pass_promtool(tmp_path: Path) -> None:
    files = demo_rules(tmp_path)
    assert RULES_PATH.resolve() not in [f.resolve() for f in files]
    text = files[0].read_text(encoding="utf-8")
    assert text.startswith("# DEMO RULES")
    alerts = {
        rule["alert"]: rule["for"]
        for group in yaml.safe_load(text)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    assert alerts["AdoptionLow"] == "20s"
    assert alerts["PipelineStalled"] == "5m"
    checked = subprocess.run([PROMTOOL, "check", "rules", str(files[0])], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
