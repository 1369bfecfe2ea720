"""Argument types the `alignmon` sub-commands share, so one mistake reads the same everywhere."""

from __future__ import annotations

import argparse
import re
from datetime import date

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def day(text: str) -> date:
    """A YYYY-MM-DD day (argparse `type=`): anything else (20260101, 2026-W01-1 too) is a usage error quoting it."""
    try:
        if _DAY.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"not a day (YYYY-MM-DD): {text!r}")
