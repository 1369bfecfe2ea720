"""The 500-person example catalog (catalog/midsize) stays valid, complete, and as docs/catalog.md quotes it.

`alignmon catalog check` runs on it as a user runs it (a subprocess of the real command), with its directory.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from alignmon.privacy.pack import warnings
from base.settings import Settings
from pipeline.catalog.loader import catalog_files, load_catalog
from pipeline.catalog.reference import model_docs
from pipeline.domain.plan import Plan
from pipeline.domain.status import is_low_day

ROOT = Path(__file__).resolve().parents[3]
MIDSIZE = ROOT / "catalog" / "midsize"


def test_the_midsize_example_passes_catalog_check_with_its_directory(
    alignmon: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ALIGNMON_PSEUDONYM_SECRET", "ALIGNMON_DEV_MODE", "ALIGNMON_DIRECTORY_CSV", "ALIGNMON_CATALOG_DIR"):
        monkeypatch.delenv(name, raising=False)
    result = alignmon.run(["catalog", "check", str(MIDSIZE), "--directory", str(MIDSIZE / "directory.csv")], {})
    assert result.returncode == 0, result.stdout + result.stderr
    # No warning either: every target department is one of the directory's, every application has rules.
    assert result.stdout.splitlines() == [
        f"catalog {MIDSIZE} OK (3 files)",
        "  applications: 25 (23 sanctioned)",
        "  objectives:   4",
        "  initiatives:  7",
        "  investments:  11 (1 tied to no initiative)",
        "  directory:    500 users in 13 departments",
    ]


def _at(node: Any, path: str) -> Iterator[dict[str, Any]]:
    """The mappings at a reference path such as `objectives[].initiatives[]` ('' is the file itself)."""
    if not path:
        yield node
        return
    head, _, rest = path.partition(".")
    key, many = head.removesuffix("[]"), head.endswith("[]")
    value = node.get(key) if isinstance(node, dict) else None
    for item in (value or []) if many else ([value] if value is not None else []):
        yield from _at(item, rest)


def test_the_midsize_example_uses_every_catalog_field() -> None:
    files = [yaml.safe_load(path.read_text()) for path in catalog_files(MIDSIZE)]  # not interventions.yaml
    for doc in model_docs():
        used = {key for file in files for path in doc.paths for block in _at(file, path) for key in block}
        assert used == {f.name for f in doc.fields}, (doc.name, sorted({f.name for f in doc.fields} - used))


def test_the_directory_is_500_logins_without_a_domain() -> None:
    rows = (MIDSIZE / "directory.csv").read_text().splitlines()
    assert rows[0] == "user,department" and len(rows) == 501
    users = [row.split(",")[0] for row in rows[1:]]
    assert len(set(users)) == 500 and all(re.fullmatch(r"[a-z]+[0-9]*", user) for user in users)


def test_every_example_excerpt_in_the_catalog_docs_is_verbatim() -> None:
    doc = (ROOT / "docs" / "catalog.md").read_text()
    excerpts = re.findall(r"```(?:yaml|csv)\n# (catalog/midsize/[\w.]+)(?: \(excerpt\))?\n(.*?)```", doc, re.S)
    assert len(excerpts) >= 3
    for name, body in excerpts:
        text = (ROOT / name).read_text()
        for chunk in body.split("# ...\n"):
            assert chunk.strip() and chunk in text, (name, chunk)


def test_the_catalog_which_example_in_the_docs_is_what_the_command_prints(alignmon: Any) -> None:
    doc = (ROOT / "docs" / "catalog.md").read_text()
    block = doc.split("<!-- catalog-which-example -->\n```text\n", 1)[1].split("```", 1)[0]
    command, *output = block.splitlines()
    words = shlex.split(command.removeprefix("$ "))
    assert words[:4] == ["alignmon", "catalog", "which", "--catalog"]
    result = alignmon.run(words[1:], {}, cwd=ROOT)
    assert result.returncode == 1, result.stderr  # the last identifier matches no rule
    assert result.stdout.splitlines() == output


def test_the_plan_example_in_the_docs_is_what_the_rules_compute() -> None:
    # docs/catalog.md, "How the fields enter the figures": erp-sap-b1 on 2027-01-01 and 2027-02-14.
    erp = load_catalog(MIDSIZE).investments["erp-sap-b1"].investment
    plan = Plan(erp.go_live, erp.target_ratio, erp.target_date, erp.curve)
    linear = Plan(erp.go_live, erp.target_ratio, erp.target_date, "linear")
    new_year, half_way = date(2027, 1, 1), date(2027, 2, 14)
    assert (erp.curve, erp.tolerance, erp.low_days, erp.min_coverage) == ("s_curve", 0.15, 10, 0.5)
    assert round(plan.progress(new_year), 3) == 0.338 and round(plan.progress(half_way), 3) == 0.5
    assert round(plan.planned_ratio(new_year) or 0, 3) == 0.129
    assert round(linear.planned_ratio(new_year) or 0, 3) == 0.271
    assert round(plan.planned_ratio(half_way) or 0, 3) == round(linear.planned_ratio(half_way) or 0, 3) == 0.4
    planned = plan.planned_ratio(new_year)
    assert is_low_day(0.109, planned, erp.tolerance) and not is_low_day(0.110, planned, erp.tolerance)
    assert plan.planned_ratio(date(2026, 9, 30)) is None  # before go-live: not_started


def test_a_catalog_k_other_than_the_pipelines_is_flagged_by_the_privacy_pack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIGNMON_STATE_DIR", str(tmp_path))
    catalog = load_catalog(MIDSIZE)
    assert catalog.settings.k == 5
    flagged = "The catalog's settings name k = 5, but the pipeline applies ALIGNMON_K_ANONYMITY = 10: align them."
    assert flagged in warnings(Settings(k_anonymity=10), catalog, MIDSIZE)
    assert not [w for w in warnings(Settings(k_anonymity=5), catalog, MIDSIZE) if "settings name k" in w]
