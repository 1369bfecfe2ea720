"""End to end on the simulated fleet: DuckDB built by the real pipeline code, the CLI, views and the HTML report
rendered in headless Chromium."""

from __future__ import annotations

import csv
import io
import json
import shutil
import struct
import subprocess
import zlib
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest
import yaml

from alignment import views
from alignmon.cli import main
from base.directory import load_directory
from collectors.simulate import Organisation
from pipeline.batch import Record, decode
from pipeline.catalog import load_catalog
from pipeline.refresh import refresh, sync_catalog
from pipeline.store import Store

KEY = b"simulated-key"
AS_OF = date(2026, 11, 20)
DAYS = 63


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pipeline database of 63 simulated days at scale 0.3, with its catalog and directory."""
    root = tmp_path_factory.mktemp("fleet")
    org = Organisation.build(42, 0.3, AS_OF)
    org.write_catalog(root / "catalog.yaml")
    org.write_directory(root / "directory.csv")
    catalog = load_catalog(root / "catalog.yaml", load_directory(root / "directory.csv", KEY))
    store = Store(root / "db.duckdb")
    produced = int(datetime(2026, 11, 21, tzinfo=UTC).timestamp() * 1000)
    offset = 0
    for day in org.backfill_days(DAYS):
        records = []
        for event in org.dicts_for_day(day, pseudonymise_with=KEY):
            records.append(Record("t", 0, offset, produced, json.dumps(event).encode()))
            offset += 1
        if records:
            store.write(decode(records))
    sync_catalog(store.con, catalog)
    refresh(store.con, catalog, AS_OF)
    store.close()
    return root


def run(capsys: pytest.CaptureFixture[str], fleet: Path, *args: str) -> str:
    code = main([*args, "--database", str(fleet / "db.duckdb"), "--catalog", str(fleet / "catalog.yaml")])
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def catalog_spend(fleet: Path) -> float:
    doc = yaml.safe_load((fleet / "catalog.yaml").read_text())
    invs = [i for o in doc["objectives"] for ini in o["initiatives"] for i in ini["investments"]] + doc["investments"]
    return float(sum(i["annual_cost"] for i in invs))


def test_assess_tells_the_stories(capsys: pytest.CaptureFixture[str], fleet: Path) -> None:
    out = run(capsys, fleet, "assess")
    assert f"EUR {catalog_spend(fleet):,.0f}" in out
    assert "orphan spend (tied to no objective): " in out and "inv-zoom" in out
    assert "unfunded initiatives: ini-self-service-it" in out
    assert "Alignment maturity: telemetry-evidenced indicators" in out
    assert "luftman score" not in out.lower()
    assert "Microsoft Teams replacing Skype for Business" in out
    assert "Legal" not in out  # 4 people: under k, never broken out
    emergent = out.split("Emergent strategy")[1]
    assert "Notion" in emergent and "Obsidian" not in emergent  # 3 users: under k


def test_assess_with_a_survey(capsys: pytest.CaptureFixture[str], fleet: Path, tmp_path: Path) -> None:
    survey = tmp_path / "answers.csv"
    survey.write_text(
        "respondent_role,criterion,attribute,score\nbusiness,partnership,trust,2\nit,partnership,trust,4\n"
    )
    out = run(capsys, fleet, "assess", "--survey", str(survey))
    assert "Alignment maturity: Luftman alignment maturity" in out
    partnership = next(line for line in out.splitlines() if line.startswith("Partnership"))
    assert partnership.split()[1:5] == ["3.0", "(established,", "focused)", "17%"]  # mean 3; 1 of 6 attributes
    assert partnership.split()[5] == "2.0"  # |2 - 4|


def test_bad_survey_is_a_clean_error(capsys: pytest.CaptureFixture[str], fleet: Path, tmp_path: Path) -> None:
    survey = tmp_path / "answers.csv"
    survey.write_text("respondent_role,criterion,attribute,score\nboard,partnership,trust,2\n")
    code = main(["assess", "--survey", str(survey), "--database", str(fleet / "db.duckdb"),
                 "--catalog", str(fleet / "catalog.yaml")])  # fmt: skip
    assert code == 1
    assert f"{survey}:2: respondent_role: must be 'business' or 'it'" in capsys.readouterr().err


def test_roadmap_csv_actions(capsys: pytest.CaptureFixture[str], fleet: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "roadmap.csv"
    run(capsys, fleet, "roadmap", "--format", "csv", "--out", str(out_file))
    rows = list(csv.DictReader(io.StringIO(out_file.read_text())))
    actions = {r["subject"]: r["action"] for r in rows}
    assert actions["inv-tableau"] == "reclaim_licences"  # 20 % utilisation, renewal in 45 days
    assert actions["inv-erp-s4"] in ("revisit_target", "enable_and_train")  # stalled at 30 % of an 80 % target
    assert actions["notion"] == "sanction_shadow_it"  # unsanctioned and spreading: emergent strategy
    assert actions["unified_communications"] == "consolidate"  # Teams and Skype both in use
    assert actions["ini-self-service-it"] == "fund_initiative"
    assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))
    scored = [float(r["priority"]) for r in rows if r["priority"]]
    assert scored == sorted(scored, reverse=True)  # no dependencies in the simulated catalog
    for r in rows:
        if r["priority"]:
            product = float(r["weight"]) * float(r["gap"]) * (float(r["wasted"]) + float(r["value_at_risk"]))
            expected = product * float(r["confidence"]) / float(r["effort"])
            assert float(r["priority"]) == pytest.approx(expected, rel=1e-3, abs=0.01)


def test_views_match_the_cli(fleet: Path, tmp_path: Path) -> None:
    copy = tmp_path / "writable.duckdb"
    shutil.copy(fleet / "db.duckdb", copy)
    con = duckdb.connect(str(copy))
    try:
        views.install(con)
        views.install(con)  # idempotent
        views.refresh(con, load_catalog(fleet / "catalog.yaml"))
        total = con.execute("SELECT spend, spend_share FROM alignment_portfolio WHERE axis = 'total'").fetchone()
        assert total == (pytest.approx(catalog_spend(fleet)), 1.0)
        domains = con.execute("SELECT count(*), sum(spend) FROM alignment_portfolio WHERE axis = 'domain'").fetchone()
        orphan = con.execute("SELECT spend FROM alignment_portfolio WHERE axis = 'orphan'").fetchone()
        assert domains is not None and orphan is not None
        assert domains[0] == 4 and domains[1] + orphan[0] == pytest.approx(catalog_spend(fleet))
        top = con.execute("SELECT rank, subject FROM roadmap ORDER BY rank LIMIT 1").fetchone()
        assert top is not None and top[0] == 1
        departments = {r[0] for r in con.execute("SELECT department FROM alignment_displacement").fetchall()}
        assert "Legal" not in departments and "(all)" in departments
        shares = [
            r[0]
            for r in con.execute(
                "SELECT new_share FROM alignment_displacement WHERE department = '(all)' ORDER BY week"
            ).fetchall()
        ]
        assert shares[-1] > shares[0]  # Teams displaces Skype week after week
        assert con.execute("SELECT application FROM emergent_strategy").fetchall() == [("notion",)]
        labels = con.execute("SELECT DISTINCT label FROM alignment_maturity").fetchall()
        assert labels == [("telemetry-evidenced indicators",)]
    finally:
        con.close()


def png_pixels(data: bytes) -> list[tuple[int, ...]]:
    """Decode an 8-bit RGB or RGBA PNG (what Chromium writes) into pixels."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6)
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    pixels: list[tuple[int, ...]] = []
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            up_left = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else up_left)) & 0xFF
        pixels += [tuple(line[i : i + 3]) for i in range(0, stride, channels)]
        previous = line
    return pixels


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="needs the Debian package chromium (scripts/setup.sh installs it)")
def test_report_renders_in_headless_chromium(capsys: pytest.CaptureFixture[str], fleet: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    run(capsys, fleet, "report", "--out", str(report), "--as-of", AS_OF.isoformat())
    html = report.read_text()
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html
    assert html.count("<svg") >= 8  # 5 small multiples, attainment, radar, waste
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             f"--user-data-dir={tmp_path / 'profile'}"]  # fmt: skip
    assert CHROMIUM is not None
    shot = tmp_path / "shot.png"
    subprocess.run(
        [CHROMIUM, *flags, f"--screenshot={shot}", "--window-size=1280,2000", report.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    pixels = png_pixels(shot.read_bytes())
    assert len(pixels) == 1280 * 2000
    non_white = sum(1 for p in pixels if p != (255, 255, 255))
    assert non_white / len(pixels) > 0.05
    assert len(set(pixels)) > 50  # text, charts, bars: not a blank or single-colour page
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", report.as_uri()], check=True, capture_output=True, text=True, timeout=120
    ).stdout
    assert f"EUR {catalog_spend(fleet):,.0f}" in dom
    for name in ("Salesforce CRM rollout", "SAP S/4HANA finance and expenses", "Tableau analytics licences"):
        assert name in dom
    assert "Communications: not assessed" in dom  # radar axis without evidence
    assert "telemetry-evidenced indicators" in dom
    assert "reclaim idle licences" in dom
    assert "As of 2026-11-20" in dom
