"""The `alignmon` console script: one entry point in front of every stage.

Each stage contributes its sub-commands through a `register(subparsers)` function in its own
`commands` module, so this file only lists the stages and never grows with them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from alignmon import __version__
from base import logs
from base.errors import AlignmonError

# Modules that define register(subparsers), in the order `alignmon --help` lists them.
COMMAND_MODULES = (
    "alignmon.stack.commands",
    "alignmon.demo",
    "collectors.gateway.commands",
    "collectors.agent.commands",
    "collectors.importers.commands",
    "collectors.simulate.commands",
    "alignmon.commands",
    "pipeline.commands",
    "pipeline.catalog.commands",
    "metrics.commands",
    "dashboards.commands",
    "alignment.commands",
    "alignmon.privacy.commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alignmon",
        description="Telemetry-driven strategic alignment monitor: collect software-usage events, map them onto "
        "IT investments and the strategy they serve, and alert when an investment is not being adopted.",
    )
    parser.add_argument("--version", action="version", version=f"alignmon {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="Log debug detail to stderr.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure(args.verbose)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except AlignmonError as exc:
        print(f"alignmon: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        problem = _invalid_settings(exc)
        if problem is None:
            raise
        print(f"alignmon: error: {problem}", file=sys.stderr)
        return 1


def _invalid_settings(exc: Exception) -> str | None:
    """One line naming each ALIGNMON_* variable that does not parse, or None when `exc` is another failure."""
    if "pydantic" not in sys.modules:  # no setting was read: it cannot be one (and --help stays light)
        return None
    from pydantic import ValidationError  # noqa: PLC0415

    if not isinstance(exc, ValidationError) or exc.title != "Settings":
        return None
    return "; ".join(
        f"ALIGNMON_{'_'.join(str(part) for part in e['loc']).upper()}={e.get('input')!r}: {e['msg']}"
        for e in exc.errors()
    )


if __name__ == "__main__":
    sys.exit(main())
