"""`alignmon privacy pack`: the works-council pack follows the running configuration, lists the whole event contract
and the catalog's objectives, escapes catalog text, never holds the key, and renders in headless Chromium."""

from __future__ import annotations

import os
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from alignmon.cli import main
from alignmon.privacy import contract, flows, inventory, pack, render
from base.settings import EXAMPLE_CATALOG, Settings
from collectors.agent.commands import SOURCES
from collectors.event import json_schema
from metrics import thresholds
from pipeline.catalog.loader import load_catalog

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SECRET = "s3cret-key-that-must-never-leave-the-gateway"
HEADINGS = (
    "Attention",
    "1. The running configuration",
    "2. What is collected",
    "3. What is never collected",
    "4. Collectors",
    "5. Purposes",
    "6. Recipients per role",
    "7. Retention",
    "8. Pseudonymisation and key custody",
    "9. Data flows",
    "10. Rights of the people concerned",
    "11. DPIA outline",
    "12. Employee notice",
)
# Two configurations that differ in every value the pack reports.
STRICT = {
    "ALIGNMON_K_ANONYMITY": "10",
    "ALIGNMON_RAW_RETENTION_DAYS": "30",
    "ALIGNMON_DAILY_RETENTION_DAYS": "120",
    "ALIGNMON_TITLES_ENABLED": "0",
    "ALIGNMON_TIME_GRANULARITY": "day",
    "ALIGNMON_PSEUDONYM_SECRET": SECRET,
    "ALIGNMON_DEV_MODE": "0",
}
LAX = {
    "ALIGNMON_K_ANONYMITY": "3",
    "ALIGNMON_RAW_RETENTION_DAYS": "90",
    "ALIGNMON_DAILY_RETENTION_DAYS": "400",
    "ALIGNMON_TITLES_ENABLED": "1",
    "ALIGNMON_TIME_GRANULARITY": "exact",
    "ALIGNMON_DEV_MODE": "1",
}


def write_catalog(folder: Path, *objectives: str) -> Path:
    """The example catalog with extra objectives named as given (no initiatives), in its own folder."""
    doc = yaml.safe_load((ROOT / EXAMPLE_CATALOG / "catalog.yaml").read_text())
    doc["objectives"] += [{"id": f"extra-{n}", "name": name} for n, name in enumerate(objectives)]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "catalog.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return folder


def generate(out: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, *extra: str) -> tuple[str, str]:
    """Run `alignmon privacy pack` under exactly `env` (no other ALIGNMON_* variable); (Markdown, HTML)."""
    for name in [n for n in os.environ if n.startswith("ALIGNMON_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["privacy", "pack", "--out", str(out), *extra]) == 0
    return (out / render.MARKDOWN).read_text(), (out / render.HTML).read_text()


def html_text(html: str) -> str:
    """The page's text as a reader sees it: tags out, entities in, whitespace collapsed."""
    from html import unescape

    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def build(catalog_dir: Path = ROOT / EXAMPLE_CATALOG, **settings: object) -> pack.Pack:
    return pack.build(
        Settings(**settings),  # type: ignore[arg-type]
        load_catalog(catalog_dir),
        thresholds.load(),
        now=NOW,
        catalog_dir=catalog_dir,
    )


def test_the_pack_follows_the_running_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = str(write_catalog(tmp_path / "catalog"))
    strict_md, strict_html = generate(tmp_path / "strict", STRICT, monkeypatch, "--catalog", catalog)
    lax_md, lax_html = generate(tmp_path / "lax", LAX, monkeypatch, "--catalog", catalog)
    for md, html in ((strict_md, strict_html), (lax_md, lax_html)):
        assert md.startswith("# alignmon: works-council and DPO pack")
        text = html_text(html)
        for heading in HEADINGS:
            assert f"## {heading}\n" in md and heading in text
    strict, lax = html_text(strict_html), html_text(lax_html)
    # The values: k, both retentions, granularity, titles, in the settings table and in the notice.
    assert "| `ALIGNMON_K_ANONYMITY` | 10 |" in strict_md and "| `ALIGNMON_K_ANONYMITY` | 3 |" in lax_md
    assert "ALIGNMON_RAW_RETENTION_DAYS 30" in strict and "ALIGNMON_RAW_RETENTION_DAYS 90" in lax
    assert "ALIGNMON_DAILY_RETENTION_DAYS 120" in strict and "ALIGNMON_DAILY_RETENTION_DAYS 400" in lax
    for md, text in ((strict_md, strict), (lax_md, lax)):
        assert md.count("groups of at least") == text.count("groups of at least")  # same content, two layouts
    assert "groups of at least 10 people" in strict and "groups of at least 3 people" in lax
    assert "Detailed records are deleted after 30 days, daily totals after 120 days." in strict
    assert "Detailed records are deleted after 90 days, daily totals after 400 days." in lax
    assert "Only the day is recorded, not the time" in strict and "recorded to the second" in lax
    assert "truncated to the day by the gateway" in strict_md and "kept to the second" in lax_md
    assert "It does not record window titles" in strict and "records the titles of your windows" in lax
    assert "dropped by the gateway (ALIGNMON_TITLES_ENABLED is off)" in strict
    assert "KEPT: window titles are stored (ALIGNMON_TITLES_ENABLED is on)" in lax
    # The warnings: none for the strict configuration, each of the lax one's in both files.
    assert "WARNING" not in strict_md and "WARNING" not in strict and "No warnings" in strict
    for warning in ("DEVELOPMENT MODE IS ON", "BUILT-IN key", "WINDOW TITLES ARE KEPT", "kept to the second",
                    "k = 3 (ALIGNMON_K_ANONYMITY) is below 5"):  # fmt: skip
        assert warning in lax_md and warning in lax, warning
    assert lax_md.count("> **WARNING:**") == 4 and lax.count("WARNING:") == 4
    assert "WEAK IN THIS CONFIGURATION" not in strict and lax.count("WEAK IN THIS CONFIGURATION") == 5
    assert "NOTE: this configuration is a trial in development mode" in lax
    # The key is described, never written.
    assert "set (value not shown)" in strict_md and "not set" in lax_md
    for body in (strict_md, strict_html):
        assert SECRET not in body


def test_the_example_catalog_and_a_missing_key_are_warned_about(tmp_path: Path) -> None:
    example = build()
    assert any("alignmon's example" in w for w in example.warnings)
    assert any("ALIGNMON_PSEUDONYM_SECRET is not set" in w for w in example.warnings)
    own = build(write_catalog(tmp_path / "own"), pseudonym_secret=SECRET, time_granularity="hour")
    assert own.warnings == ()
    assert "Times are rounded down to the hour" in " ".join(own.notice)


def test_every_field_of_the_event_contract_is_listed(tmp_path: Path) -> None:
    built = build()
    properties = list(json_schema()["properties"])
    assert [f.name for f in built.fields] == properties
    md, html = render.markdown(built), render.html(built)
    for name in properties:
        assert f"| `{name}` |" in md and f'<td class="name"><code>{name}</code></td>' in html
    required = set(json_schema()["required"])
    assert {f.name for f in built.fields if f.required} == required
    assert built.closed  # additionalProperties: false, so the pack may say nothing else is accepted
    assert "the gateway refuses an event with any other field" in md


def test_the_field_treatments_cannot_drift_from_the_contract() -> None:
    # Every described treatment names a real field; a new field is shown as kept, never as protected.
    assert set(contract._TREATMENT) <= set(json_schema()["properties"])
    schema = json_schema()
    schema["properties"] = {**schema["properties"], "url": {"description": "The page.", "type": "string"}}
    grown = contract.fields(schema, titles_enabled=False, granularity="day", directory=False)
    assert grown[-1] == contract.ContractField("url", False, "The page.", "kept as sent")
    # "never collected" is what no field holds: a url field takes URLs off that list.
    assert "web addresses (URLs) or browsing history" in contract.never_held()
    assert "web addresses (URLs) or browsing history" not in contract.never_held(schema)


def test_the_catalogs_objectives_appear_by_name(tmp_path: Path) -> None:
    folder = write_catalog(tmp_path / "catalog", "Cut travel by half", "Faster month-end close")
    built = build(folder)
    catalog = load_catalog(folder)
    names = [o.name for o in catalog.objectives]
    assert [p.objective for p in built.purposes] == names == [
        "Hybrid work without friction", "Cut travel by half", "Faster month-end close"]  # fmt: skip
    md, text = render.markdown(built), html_text(render.html(built))
    for name in names:
        assert f"- **{name}**" in md and name in text
    assert "One chat and meeting platform" in md and "One chat and meeting platform" in text  # its initiative
    assert "Head of Workplace" in text  # the owner, among the recipients
    assert "The goals are: Hybrid work without friction; Cut travel by half; Faster month-end close." in text


def test_catalog_text_is_escaped_in_both_files(tmp_path: Path) -> None:
    built = build(write_catalog(tmp_path / "catalog", "<script>alert('x')</script> | *bold*"))
    html = render.html(built)
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; | *bold*" in html
    md = render.markdown(built)
    assert re.search(r"(?<!\\)<", md.split("## 9.")[0].split("## 5.")[1]) is None  # no unescaped tag around it
    assert not re.search(r"(?<!\\)<script", md)
    assert r"The goals are: Hybrid work without friction; \<script\>alert('x')\</script\> \| \*bold\*." in md
    assert r"- **\<script\>alert('x')\</script\> \| \*bold\***" in md


def test_collectors_are_every_shipped_one_and_only_declared_ones_are_marked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert set(inventory.AGENT_READS) == set(SOURCES)
    assert set(inventory.TITLES) == set(inventory.names())
    listed = inventory.collectors(frozenset({"agent:x11", "import:osquery"}))
    assert [c.name for c in listed] == inventory.names()
    assert {c.name for c in listed if c.declared} == {"agent:x11", "import:osquery"}
    md, _ = generate(tmp_path / "out", {"ALIGNMON_DEV_MODE": "1"}, monkeypatch, "--collector", "agent:x11")
    assert "| agent:x11 | `alignmon agent --source x11` | **declared in use** |" in md
    assert "| import:osquery | `alignmon import osquery` | not declared |" in md


def test_the_privacy_group_and_its_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["privacy"]) == 2
    assert "pack" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["privacy", "pack", "--out", str(tmp_path), "--collector", "agent:keylogger"])
    assert "invalid choice: 'agent:keylogger'" in capsys.readouterr().err
    code = main(["privacy", "pack", "--out", str(tmp_path / "out"), "--catalog", str(tmp_path / "missing")])
    assert code == 1
    assert "no such catalog folder" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_diagram_arrows_join_the_boxes_they_name() -> None:
    diagram = build(dev_mode=True).diagram
    boxes = {b.id: b for b in diagram.boxes}
    for a, b in ((a, b) for a in diagram.boxes for b in diagram.boxes if a.id < b.id):
        assert a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y, (a.id, b.id)

    def on_edge(box: flows.Box, point: tuple[float, float]) -> bool:
        x, y = point
        inside = box.x <= x <= box.x + box.w and box.y <= y <= box.y + box.h
        return inside and (x in (box.x, box.x + box.w) or y in (box.y, box.y + box.h))

    assert [a.number for a in diagram.arrows] == list(range(1, len(diagram.arrows) + 1))
    for arrow in diagram.arrows:
        assert on_edge(boxes[arrow.source], arrow.points[0]) and on_edge(boxes[arrow.target], arrow.points[-1])
    assert boxes["key"].alert  # dev mode: the key box is drawn in red
    assert not build(pseudonym_secret=SECRET).diagram.boxes[0].alert


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             f"--user-data-dir={profile}"]  # fmt: skip
    return subprocess.run(["chromium", *flags, *args], check=True, capture_output=True, text=True, timeout=120)


def test_the_html_renders_in_headless_chromium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, html = generate(tmp_path / "pack", LAX, monkeypatch)
    page = tmp_path / "pack" / render.HTML
    assert "<script" not in html and "https://" not in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
        "http://localhost:3000", ""
    ).replace("http://127.0.0.1:19095/alerts", "")  # fmt: skip  (the configured URLs)
    # Chromium parses it: the diagram is an SVG element with a box per node and a numbered arrow per flow.
    dom = chromium(tmp_path / "profile", "--dump-dom", page.as_uri()).stdout
    assert dom.count("<rect") == 9 and dom.count("<polyline") == 8 and "DEVELOPMENT MODE IS ON" in dom
    # Printed, every heading is on a page and every page shows something.
    pdf = tmp_path / "pack.pdf"
    chromium(tmp_path / "profile", "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
    text = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True,
                                   text=True).stdout.split())  # fmt: skip
    for heading in HEADINGS:
        assert heading in text, heading
    assert "Key + directory" in text and "Analysts' database" in text  # the SVG's text is real text
    subprocess.run(["pdftoppm", "-r", "20", "-gray", str(pdf), str(tmp_path / "page")], check=True, timeout=120)
    pages = sorted(tmp_path.glob("page-*.pgm"))
    assert len(pages) >= 5
    for pgm in pages:
        data = pgm.read_bytes()
        header = data.split(b"\n", 3)  # P5, width height, maxval, pixels
        assert header[0] == b"P5"
        pixels = header[3]
        assert sum(1 for p in pixels if p < 250) > 0.01 * len(pixels), pgm.name
