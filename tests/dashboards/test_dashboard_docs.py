"""docs/dashboards.md documents every dashboard, row, panel and annotation the code builds."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

DOC = Path(__file__).parents[2] / "docs" / "dashboards.md"


def _headings() -> set[str]:
    return {m.strip() for m in re.findall(r"^#{2,4} (.+)$", DOC.read_text(), re.MULTILINE)}


def _annotations(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return dashboard.get("annotations", {}).get("list", [])  # type: ignore[no-any-return]


def test_every_dashboard_row_panel_and_annotation_has_a_section(built: dict[str, dict[str, Any]]) -> None:
    headings = _headings()
    missing = [
        f"{d['title']}: {title}"
        for d in built.values()
        for title in [d["title"], *(p["title"] for p in d["panels"]), *(a["name"] for a in _annotations(d))]
        if title not in headings
    ]
    assert missing == []


def test_every_variable_and_uid_is_documented(built: dict[str, dict[str, Any]]) -> None:
    text = DOC.read_text()
    for d in built.values():
        assert f"`{d['uid']}`" in text
        for variable in d["templating"].get("list", []):
            assert f"`{variable['name']}`" in text


def test_deploy_commands_are_documented() -> None:
    text = DOC.read_text()
    for needle in (
        "alignmon dashboards build",
        "alignmon dashboards push",
        "ALIGNMON_GRAFANA_TOKEN",
        "--no-datasource",
    ):
        assert needle in text


def test_the_adoption_runbooks_send_owners_to_drill_down_panels_that_exist(built: dict[str, dict[str, Any]]) -> None:
    """AdoptionLow and AdoptionDeclining name the Investment detail panels to look at: each one is a real panel."""
    runbooks = (DOC.parent / "runbooks.md").read_text()
    titles = {p["title"] for p in built["alignmon-investment.json"]["panels"]}
    for alert in ("AdoptionLow", "AdoptionDeclining"):
        section = runbooks.split(f"\n## {alert}\n", 1)[1].split("\n## ", 1)[0]
        numbers = " ".join(section.split("**Numbers to look at.**", 1)[1].split("\n\n", 1)[0].split())
        grafana = numbers.split("**Investment detail**", 1)[1]
        named = set(re.findall(r"\*\*(.+?)\*\*", grafana))
        assert named <= titles, f"{alert}: {named - titles}"
        assert {"Stickiness", "Adoption trend", "Status reason"} <= named, alert
