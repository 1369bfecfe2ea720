"""The sources alignmon's collectors send are listed once (base/sources.py): help texts are built from that list."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from base.settings import Settings
from base.sources import OTHER_SOURCE, SOURCES
from metrics.definitions import BY_NAME

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("base", "collectors", "pipeline", "metrics", "alignment", "dashboards", "alignmon")


_NAME = "(?:" + "|".join(SOURCES) + ")"
_LIST = re.compile(rf"\b{_NAME}(?:,\s*(?:and\s+|or\s+)?{_NAME}\b){{2,}}")  # three or more, comma-separated


def lists_of_sources(source: str) -> list[str]:
    """The string literals of `source` that list three or more of SOURCES: a copy of the list."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _LIST.search(node.value):
            found.append(node.value)
    return found


def test_the_list_of_sources_is_written_once() -> None:
    copies = [
        f"{path.relative_to(ROOT)}: {text[:60]!r}"
        for stage in STAGES
        for path in sorted((ROOT / stage).rglob("*.py"))
        if path != ROOT / "base" / "sources.py"
        for text in lists_of_sources(path.read_text())
    ]
    assert copies == []


def test_help_texts_name_every_source_from_the_list() -> None:
    assert lists_of_sources('x = "(agent, whatpulse, and osquery)"')
    assert not lists_of_sources('x = "agent or osquery"') and not lists_of_sources('x = "agent x11|activitywatch"')
    listed = ", ".join(SOURCES)
    assert f"({listed})" in BY_NAME["alignmon_events_ingested_total"].help
    assert f"({listed})" in (Settings.model_fields["extra_sources"].description or "")
    assert f"`{OTHER_SOURCE}`" in (Settings.model_fields["extra_sources"].description or "")
