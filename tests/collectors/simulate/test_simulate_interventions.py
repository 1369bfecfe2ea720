"""Simulated interventions: an exact, known number of extra adopters from their day on, and the file recording them."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from alignmon.cli import main
from collectors.simulate import STORIES, Organisation
from collectors.simulate.interventions import SimulatedIntervention, parse_intervention, with_unique_ids
from collectors.simulate.population import DEPARTMENTS

AS_OF = date(2026, 11, 18)
NAMES = [d.name for d in DEPARTMENTS]


def parse(text: str) -> SimulatedIntervention:
    return parse_intervention(text, AS_OF, STORIES, NAMES)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PSEUDONYM_SECRET", "DEV_MODE", "TIMEZONE", "STATE_DIR", "AS_OF", "DIRECTORY_CSV", "CATALOG_DIR"):
        monkeypatch.delenv("ALIGNMON_" + name, raising=False)


def test_the_intervention_argument() -> None:
    item = parse("inv-crm-rollout:Sales+Support:-28:20:enablement:900")
    assert item == SimulatedIntervention(
        "inv-crm-rollout-enablement-sales-support",
        "inv-crm-rollout",
        ("Sales", "Support"),
        date(2026, 10, 21),
        20.0,
        "enablement",
        900.0,
    )
    assert parse("inv-zoom:Sales:2026-10-01:-5pp").day == date(2026, 10, 1)
    assert parse("inv-zoom:Sales:2026-10-01:0").kind == "training"
    for bad, words in [
        ("inv-crm-rollout:Sales:-28", "expected INVESTMENT"),
        ("inv-nope:Sales:-28:20", "no simulated investment 'inv-nope'"),
        ("inv-crm-rollout:Finance:-28:20", "departments must be some of Sales, Support"),
        ("inv-crm-rollout:Sales:yesterday:20", "DAY is YYYY-MM-DD"),
        ("inv-crm-rollout:Sales:-28:lots", "POINTS (and COST) must be numbers"),
        ("inv-crm-rollout:Sales:-28:120", "between -100 and 100"),
        ("inv-crm-rollout:Sales:-28:20:training:-1", "COST must not be negative"),
    ]:
        with pytest.raises(ValueError, match=re.escape(words)):
            parse(bad)
    twice = with_unique_ids([parse("inv-zoom:Sales:-3:1"), parse("inv-zoom:Sales:-9:2")])
    assert [i.id for i in twice] == ["inv-zoom-training-sales", "inv-zoom-training-sales-2"]


def adopters(org: Organisation, investment: str, department: str, day: date) -> int:
    """People of a department who adopt the investment's application on a day, as the day generator decides."""
    s = next(n for n, spec in enumerate(STORIES) if spec.investment == investment)
    ctx = org.day_context(day)
    ratio = ctx.lifted.get((s, department), ctx.ratios[s])
    return sum(1 for u in org.users if u.department == department for n, t in u.stories if n == s and t < ratio)


def test_the_effect_is_an_exact_number_of_extra_adopters_from_its_day_on() -> None:
    plain = Organisation.build(3, 1.0, AS_OF)
    item = parse("inv-crm-rollout:Sales:-28:20")
    treated = Organisation.build(3, 1.0, AS_OF, interventions=[item])
    day = item.day
    for offset in (-30, -1, 0, 1, 14, 28):
        when = day + timedelta(days=offset)
        extra = 12 if offset >= 0 else 0  # round(20 % of Sales' 60 people)
        base = adopters(plain, "inv-crm-rollout", "Sales", when)
        assert adopters(treated, "inv-crm-rollout", "Sales", when) == min(60, base + extra), offset
        # Support is untouched, and so is every other story in Sales.
        assert adopters(treated, "inv-crm-rollout", "Support", when) == adopters(
            plain, "inv-crm-rollout", "Support", when
        )
        assert adopters(treated, "inv-erp-s4", "Sales", when) == adopters(plain, "inv-erp-s4", "Sales", when)
    # A placebo changes no event at all; an effect changes Sales' days from its day on, never before.
    placebo = Organisation.build(3, 1.0, AS_OF, interventions=[parse("inv-crm-rollout:Sales:-28:0")])
    assert list(placebo.dicts_for_day(day + timedelta(days=1))) == list(plain.dicts_for_day(day + timedelta(days=1)))
    assert list(treated.dicts_for_day(day - timedelta(days=1))) == list(plain.dicts_for_day(day - timedelta(days=1)))
    assert list(treated.dicts_for_day(day + timedelta(days=1))) != list(plain.dicts_for_day(day + timedelta(days=1)))
    # A negative effect takes adopters away.
    fewer = Organisation.build(3, 1.0, AS_OF, interventions=[parse("inv-crm-rollout:Sales:-28:-10")])
    base = adopters(plain, "inv-crm-rollout", "Sales", day + timedelta(days=10))
    assert adopters(fewer, "inv-crm-rollout", "Sales", day + timedelta(days=10)) == max(0, base - 6)


def test_simulate_writes_interventions_the_checker_accepts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["simulate", "--days", "0", "--as-of", str(AS_OF), "--out-dir", str(tmp_path)]
    argv += ["--intervention", "inv-erp-s4:Sales:-28:20:training:12000", "--intervention", "inv-tableau:Finance:-28:0"]
    assert main(argv) == 0
    assert f"{tmp_path / 'interventions.yaml'} (as-of {AS_OF})" in capsys.readouterr().err
    doc = yaml.safe_load((tmp_path / "interventions.yaml").read_text())
    first, second = doc["interventions"]
    assert first["date"] == date(2026, 10, 21) and first["cost"] == 12000 and first["target_departments"] == ["Sales"]
    assert first["note"].startswith("simulated: +20 percentage points of Sales")
    assert second["note"] == "simulated placebo: nothing changes"
    check = ["interventions", "check", str(tmp_path), "--directory", str(tmp_path / "directory.csv")]
    assert main(check) == 0
    assert capsys.readouterr().out.endswith("OK: 2 interventions on 2 investments (2 training)\n")
    assert main([*argv[:-2], "--intervention", "inv-erp-s4:Legal:-28:20"]) == 1
    assert "departments must be some of Finance, Sales" in capsys.readouterr().err
