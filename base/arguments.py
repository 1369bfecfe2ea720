"""Argument types the `alignmon` sub-commands share, so one mistake reads the same everywhere."""

from __future__ import annotations

import argparse
from datetime import date


def day(text: str) -> date:
    """A YYYY-MM-DD day (argparse `type=`): anything else is a usage error that quotes the input."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day (YYYY-MM-DD): {text!r}") from None
