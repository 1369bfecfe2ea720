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
from base import interrupt, logs
from base.errors import AlignmonError

# Modules that define register(subparsers), in the order `alignmon --help` lists them, with the commands each
# registers: `alignmon COMMAND` imports only its own module, so a command run on an endpoint (the agent) does not
# carry every stage's imports (tests/collectors/agent/test_agent_imports.py keeps this table true).
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "alignmon.stack.commands": ("stack",),
    "alignmon.demo": ("demo",),
    "collectors.gateway.commands": ("gateway", "tokens"),
    "collectors.directory.commands": ("directory",),
    "collectors.agent.commands": ("agent",),
    "collectors.importers.commands": ("import",),
    "collectors.simulate.commands": ("simulate",),
    "alignmon.commands": ("pipeline", "refresh"),
    "pipeline.commands": ("sql", "export"),
    "pipeline.catalog.commands": ("catalog",),
    "pipeline.impact.commands": ("interventions", "impact"),
    "metrics.commands": ("alerts", "metrics"),
    "dashboards.commands": ("dashboards",),
    "alignment.commands": ("assess", "roadmap", "report"),
    "alignmon.privacy.commands": ("privacy",),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with `command`, one that knows only that command's module (same parse of its lines)."""
    parser = argparse.ArgumentParser(
        prog="alignmon",
        description="Telemetry-driven strategic alignment monitor: collect software-usage events, map them onto "
        "IT investments and the strategy they serve, and alert when an investment is not being adopted.",
    )
    parser.add_argument("--version", action="version", version=f"alignmon {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="Log debug detail to stderr.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, commands in COMMAND_MODULES.items():
        if command is None or command in commands:
            importlib.import_module(name).register(sub)
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    """The command an argument list runs when it names a known one after only -v; else None (full parser)."""
    for word in argv:
        if word in ("-v", "--verbose"):
            continue
        # Anything else first (--help, --version, a typo) is the whole parser's to answer.
        return word if any(word in commands for commands in COMMAND_MODULES.values()) else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    command = _command_of(words)
    parser = build_parser(command)
    args = parser.parse_args(words)
    logs.configure(args.verbose)
    if not getattr(args, "handler", None):
        (parser if command is None else build_parser()).print_help()  # the help that lists every command
        return 2
    interrupt.reset()
    interrupt.install()
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # DuckDB reports Ctrl-C or SIGTERM during a query as an error of its own (which `sql` wraps in AlignmonError).
        if interrupt.received():
            return 130
        return _failed(exc, args.verbose)


def _failed(exc: Exception, verbose: bool) -> int:
    """Exit 1 with one line for an error a user can act on; anything else is raised again, with its traceback."""
    if isinstance(exc, AlignmonError):
        print(f"alignmon: error: {exc}", file=sys.stderr)
        return 1
    if isinstance(exc, OSError) and not verbose:  # a path that cannot be read, written or created, a port: one line
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"alignmon: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    problem = None if isinstance(exc, OSError) else _invalid_settings(exc)
    if problem is None:
        raise exc
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
        if e["type"] != "default_factory_not_called"  # a derived default left out because what it derives from failed
    )


if __name__ == "__main__":
    sys.exit(main())
