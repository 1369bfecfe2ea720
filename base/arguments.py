"""Argument types the `alignmon` sub-commands share, so one mistake reads the same everywhere."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def day(text: str) -> date:
    """A YYYY-MM-DD day (argparse `type=`): anything else (20260101, 2026-W01-1 too) is a usage error quoting it."""
    try:
        if _DAY.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"not a day (YYYY-MM-DD): {text!r}")


def environment(name: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """$NAME as pydantic-settings reads it (the name in any case), for commands that must not load the settings."""
    if name in environ:
        return environ[name]
    return next((value for key, value in environ.items() if key.upper() == name), None)


def add_gateway_tls(parser: argparse.ArgumentParser) -> None:
    """--ca-file, --client-cert, --client-key: how a client of the gateway (the agent, an importer) speaks TLS.

    collectors.tls.ClientTLS.from_arguments reads them, with the ALIGNMON_AGENT_* variables as defaults.
    """
    group = parser.add_argument_group("TLS to the gateway (an https:// URL)")
    group.add_argument(
        "--ca-file",
        type=Path,
        metavar="FILE",
        help="trust the gateway's certificate when the CA in FILE (PEM) signed it, instead of the system's roots "
        "(default: $ALIGNMON_AGENT_CA_FILE)",
    )
    group.add_argument(
        "--client-cert",
        type=Path,
        metavar="FILE",
        help="present this certificate (PEM) to a gateway that requires client certificates "
        "(default: $ALIGNMON_AGENT_CLIENT_CERT)",
    )
    group.add_argument(
        "--client-key",
        type=Path,
        metavar="FILE",
        help="the private key (PEM) of --client-cert (default: $ALIGNMON_AGENT_CLIENT_KEY, else the key in the "
        "--client-cert file)",
    )
