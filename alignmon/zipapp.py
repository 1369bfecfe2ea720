"""The single-file agent's entry point: `python3 alignmon-agent.pyz agent ...` (built by scripts/build_agent.py).

The file carries `alignmon agent` and the libraries it imports, nothing else: any other command gets one line that
says where it lives. Its compiled libraries (pydantic-core) fit one OS and one Python minor version, which the build
records next to this module (`zipapp.json`) and which is checked before anything compiled is imported.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

BUILD_INFO = Path(__file__).with_name("zipapp.json")
PROG = "alignmon-agent.pyz"
USAGE = f"""usage: python3 {PROG} agent --gateway URL [--token-file FILE] [--source x11|activitywatch|whatpulse] ...

The alignmon endpoint agent as one file: it runs `alignmon agent` only.
  python3 {PROG} agent --help    every option of the agent
  python3 {PROG} --version       the alignmon version it was built from
Other commands (gateway, tokens, pipeline, ...) are not in this file: run them where alignmon is installed."""


def build_info(path: Path = BUILD_INFO) -> dict[str, Any]:
    """What the build recorded (Python version, platform, libraries); empty when run from a source tree."""
    try:
        info: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return info


def cannot_run(
    info: Mapping[str, Any], python: tuple[int, int] | None = None, platform: str | None = None
) -> str | None:
    """Why the file cannot run on this interpreter (its compiled libraries, the OS), or None when it can."""
    python = python or (sys.version_info.major, sys.version_info.minor)
    platform = platform or sys.platform
    running = f"{python[0]}.{python[1]}"
    built_python, built_platform = info.get("python", running), info.get("platform", platform)
    if (built_python, built_platform) != (running, platform):
        return (
            f"this file was built for Python {built_python} on {built_platform}, and this is Python {running} on "
            f"{platform}: run it with python{built_python} there, or build one with this Python (make agent; "
            "docs/collectors.md, 'Installing the agent')"
        )
    return None


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    problem = cannot_run(build_info())
    if problem is not None:
        print(f"{PROG}: error: {problem}", file=sys.stderr)
        return 2
    command = next((word for word in words if word not in ("-v", "--verbose")), None)
    if command == "agent":
        from alignmon import cli  # noqa: PLC0415

        return cli.main(words)
    if command == "--version":
        from alignmon import __version__  # noqa: PLC0415

        print(f"alignmon {__version__} (single-file agent)")
        return 0
    if command in ("-h", "--help"):
        print(USAGE)
        return 0
    if command is None:
        print(USAGE, file=sys.stderr)
        return 2
    from alignmon.cli import COMMAND_MODULES  # noqa: PLC0415  (a table: imports no command module)

    if any(command in commands for commands in COMMAND_MODULES.values()):
        print(
            f"{PROG}: error: `alignmon {command}` is not in the single-file agent, which runs `agent` only: "
            "run it where alignmon is installed (pip install alignmon)",
            file=sys.stderr,
        )
    else:
        print(f"{PROG}: error: unknown command {command!r}; this file runs `agent` only (see --help)", file=sys.stderr)
    return 2
