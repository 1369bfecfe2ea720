"""`alignmon assess`, `alignmon roadmap` and `alignmon report`: alignment of use with strategy."""

# Handlers import their modules lazily so `alignmon --help` stays fast.
# ruff: noqa: PLC0415

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from base import arguments

if TYPE_CHECKING:
    from alignment.assessment import Assessment


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--database",
        type=Path,
        metavar="FILE",
        help="DuckDB file to read, opened read-only (default: ALIGNMON_SNAPSHOT_PATH, the analysts' database, which "
        "keeps the inputs of the pipeline's as-of day and of quarter ends; the pipeline's own file has every day its "
        "retention keeps).",
    )
    p.add_argument(
        "--catalog", type=Path, metavar="DIR", help="Catalog folder or file (default: ALIGNMON_CATALOG_DIR)."
    )
    p.add_argument(
        "--as-of",
        type=arguments.day,
        metavar="DATE",
        help="Assess as of this day (YYYY-MM-DD, at most the last day the pipeline computed; on the analysts' "
        "database one of the days it keeps; default: the pipeline's last as-of day).",
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    assess = sub.add_parser(
        "assess",
        help="Assess alignment: H&V portfolio, orphan and unfunded strategy, maturity, displacement, emergent tools.",
        description="Step 1 and 3 of the five-step method: spend, attainment and trouble per Henderson & Venkatraman "
        "domain and perspective; spend tied to no objective; initiatives and objectives nobody funds; Luftman "
        "maturity (telemetry-evidenced indicators, or a maturity assessment with --survey); legacy displacement "
        "per department; unsanctioned tools spreading bottom-up. docs/alignment.md explains every number.",
    )
    _common(assess)
    assess.add_argument(
        "--survey",
        type=Path,
        metavar="CSV",
        help="Luftman survey answers: header respondent_role,criterion,attribute,score (optional respondent, "
        "comment); respondent_role is business or it, score 1-5.",
    )
    assess.set_defaults(handler=_assess)

    roadmap = sub.add_parser(
        "roadmap",
        help="Rank what to do next: priority = weight × money × confidence / effort.",
        description="Step 4 of the five-step method: one action per investment that needs one (enable and train the "
        "lagging departments, reclaim licences, improve coverage; revisit the target after training, only with "
        "evidence), consolidation of tools the catalog marks interchangeable, shadow IT to sanction or retire, "
        "unfunded initiatives; ranked by priority and sequenced by initiative dependencies. Spend at stake and "
        "value at risk are shown apart, never added (docs/metrics.md, Money at stake).",
    )
    _common(roadmap)
    roadmap.add_argument("--format", choices=("table", "csv"), default="table", help="Output format (default: table).")
    roadmap.add_argument(
        "--out", "--output", type=Path, metavar="FILE", help="Write to FILE instead of standard output."
    )
    roadmap.set_defaults(handler=_roadmap)

    report = sub.add_parser(
        "report",
        help="Write the quarterly steering committee report: one self-contained HTML file.",
        description="The decisions requested (top roadmap items with owners), the change since the previous "
        "quarter's end, adoption against plan per investment on one time axis, attainment by objective, the H&V "
        "portfolio, the maturity radar, wasted spend and the roadmap, as one HTML file with inline CSS and SVG "
        "(no scripts, no network) that prints on A4.",
    )
    _common(report)
    report.add_argument(
        "--out", "--output", type=Path, required=True, metavar="FILE", help="Where to write the HTML report."
    )
    report.add_argument("--survey", type=Path, metavar="CSV", help="Luftman survey answers (as for assess).")
    report.set_defaults(handler=_report)


def load(args: argparse.Namespace) -> Assessment:
    """Read the database (read-only) and the catalog named by the arguments, and assess."""
    return load_with_baseline(args, baseline=False)[0]


def load_with_baseline(
    args: argparse.Namespace, baseline: bool = True
) -> tuple[Assessment, Assessment | None, str | None]:
    """Assess as of --as-of and, with `baseline`, again as of the previous quarter's end.

    The second assessment is None unless telemetry covers the whole 28-day window ending that day
    (alignment.report.baseline_is_known): figures of a window without data would make up a change.
    """
    import duckdb

    from alignment.assessment import assess
    from alignment.reader import first_telemetry_day, read_facts, strategy_from_catalog
    from alignment.report import baseline_is_known, previous_quarter_end
    from alignment.survey import load_survey
    from base.errors import AlignmonError
    from base.settings import Settings
    from pipeline.catalog import CatalogError, load_catalog

    settings = Settings()
    path: Path = args.database or settings.snapshot_path
    if not path.exists():
        raise AlignmonError(f"{path} does not exist: run the pipeline first, or name a file with --database")
    try:
        catalog = load_catalog(args.catalog or settings.catalog_dir)
    except CatalogError as exc:
        raise AlignmonError(f"the catalog is not valid:\n{exc}") from exc
    answers = load_survey(args.survey) if getattr(args, "survey", None) else []
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise AlignmonError(f"cannot open {path}: {exc}") from exc
    try:
        strategy = strategy_from_catalog(catalog)
        now = assess(read_facts(con, strategy, args.as_of), answers)
        before, missing = None, None
        if baseline:
            day = previous_quarter_end(now.facts.as_of)
            if baseline_is_known(day, first_telemetry_day(con)):
                try:
                    before = assess(read_facts(con, strategy, day), answers)
                except AlignmonError:  # the analysts' database keeps only the quarter ends the pipeline passed
                    missing = (
                        f"{path} does not hold the figures as of {day} (the pipeline keeps each quarter's end it "
                        "computes from then on); the pipeline's own file has them (privacy role, --database)"
                    )
                    print(f"note: no change since {day} in the report: {missing}", file=sys.stderr)
        return now, before, missing
    except duckdb.CatalogException as exc:
        raise AlignmonError(f"{path} is not an alignmon pipeline database: {exc}") from exc
    finally:
        con.close()


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        print(text, end="" if text.endswith("\n") else "\n")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}")


def _assess(args: argparse.Namespace) -> int:
    from alignment.text import assess_text

    print(assess_text(load(args)))
    return 0


def _roadmap(args: argparse.Namespace) -> int:
    from alignment.text import roadmap_csv, roadmap_text

    result = load(args)
    _emit(roadmap_csv(result.roadmap) if args.format == "csv" else roadmap_text(result), args.out)
    return 0


def _report(args: argparse.Namespace) -> int:
    from alignment.report import render

    now, before, missing = load_with_baseline(args)
    _emit(render(now, before, missing=missing), args.out)
    return 0
