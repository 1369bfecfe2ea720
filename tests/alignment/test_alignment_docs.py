"""docs/alignment.md names every proxy, action, effort default, criterion attribute, view and command."""

from __future__ import annotations

from pathlib import Path

import pytest

from alignment.criteria import CRITERIA
from alignment.maturity import PROXIES
from alignment.roadmap import ACTIONS, EFFORT
from alignment.views import VIEWS

DOC = (Path(__file__).parents[2] / "docs" / "alignment.md").read_text()


@pytest.mark.parametrize(
    "name",
    [p.id for p in PROXIES]
    + list(ACTIONS)
    + list(EFFORT)
    + [a for c in CRITERIA for a in c.attributes]
    + [c.id for c in CRITERIA]
    + ["alignmon assess", "alignmon roadmap", "alignmon report", "--survey", "--as-of", "--database"],
)
def test_documented(name: str) -> None:
    assert f"`{name}" in DOC or f"{name}`" in DOC


def test_every_view_is_documented() -> None:
    names = [line.split()[4] for line in VIEWS.splitlines() if line.startswith("CREATE OR REPLACE VIEW")]
    assert names == ["alignment_portfolio", "roadmap", "alignment_displacement", "emergent_strategy",
                     "alignment_maturity", "alignment_maturity_levels"]  # fmt: skip
    for name in names:
        assert f"| `{name}` |" in DOC


def test_cut_offs_in_the_doc_are_the_code() -> None:
    for p in PROXIES:
        row = next(line for line in DOC.splitlines() if line.startswith(f"| `{p.id}` |"))
        cuts = row.rsplit("|", 2)[1]
        assert [float(c) for c in cuts.strip().lstrip("≥≤ ").split(" / ")] == list(p.band.cuts), p.id
        assert ("≥" in cuts) == p.band.higher_is_better, p.id
