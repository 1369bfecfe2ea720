"""Reference sections of the docs, generated from the code so they cannot drift.

Each docs file keeps its prose; the parts between `<!-- generated:NAME -->` and
`<!-- end:NAME -->` are rewritten by `python -m alignmon.docgen` and checked by the tests
(`--check` exits 1 when a committed doc differs from what the code says).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[1]


def settings_table() -> str:
    from base.settings import Settings  # noqa: PLC0415

    rows = ["| variable | default | meaning |", "|---|---|---|"]
    variables = {name: PurePosixPath(f"$ALIGNMON_{name.upper()}") for name in Settings.model_fields}
    for name, field in Settings.model_fields.items():
        # A derived default is shown as its formula over the variables it derives from.
        default = field.default if field.default_factory is None else field.default_factory(variables)  # type: ignore[call-arg]
        shown = "(none)" if default is None else f"`{default}`"
        rows.append(f"| `ALIGNMON_{name.upper()}` | {shown} | {field.description} |")
    return "\n".join(rows)


def cli_reference() -> str:
    import os  # noqa: PLC0415

    from alignmon.cli import build_parser  # noqa: PLC0415

    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: fix the width so the output is stable
    parser = build_parser()
    out: list[str] = []

    def walk(p: argparse.ArgumentParser, path: list[str]) -> None:
        subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if path:
            out.append(f"### `alignmon {' '.join(path)}`\n")
            out.append("```text\n" + p.format_help().replace("usage: ", "usage: ", 1).rstrip() + "\n```\n")
        for action in subs:
            for name, child in action.choices.items():
                walk(child, [*path, name])

    walk(parser, [])
    return "\n".join(out).rstrip()


def metrics_table() -> str:
    from metrics.definitions import METRICS  # noqa: PLC0415

    rows = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    for m in METRICS:
        labels = ", ".join(f"`{label}`" for label in m.labels) or "—"
        rows.append(f"| `{m.name}` | {m.kind} | {labels} | {m.help} |")
    return "\n".join(rows)


def catalog_reference() -> str:
    from pipeline.catalog.reference import markdown  # noqa: PLC0415

    return markdown()  # every field of the catalog model, with its Field(description=...)


def interventions_reference() -> str:
    from pipeline.catalog.interventions import InterventionsDocument  # noqa: PLC0415
    from pipeline.catalog.model import Owner  # noqa: PLC0415
    from pipeline.catalog.reference import markdown  # noqa: PLC0415

    # Owner's section is the catalog reference's, on the same page.
    return markdown(InterventionsDocument, documented=(Owner,), top="the top level of interventions.yaml")


SECTIONS: dict[str, tuple[str, Callable[[], str]]] = {
    "settings": ("docs/configuration.md", settings_table),
    "cli": ("docs/cli.md", cli_reference),
    "metrics": ("docs/metrics.md", metrics_table),
    "catalog": ("docs/catalog.md", catalog_reference),
    "interventions": ("docs/catalog.md", interventions_reference),
}


def render(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- generated:{name} -->\n).*?(<!-- end:{name} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"docs: no <!-- generated:{name} --> ... <!-- end:{name} --> markers")
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if a doc is not what the code says")
    args = parser.parse_args(argv)
    stale = []
    for name, (rel, make) in SECTIONS.items():
        path = ROOT / rel
        old = path.read_text()
        new = render(old, name, make())
        if new != old:
            stale.append(rel)
            if not args.check:
                path.write_text(new)
    if args.check and stale:
        print(f"stale generated docs: {', '.join(stale)}; run `python -m alignmon.docgen`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
