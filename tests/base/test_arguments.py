"""The shared argument types: one mistake reads the same in every sub-command."""

from __future__ import annotations

import argparse
from datetime import date

import pytest

from base.arguments import day


def test_a_day_is_yyyy_mm_dd() -> None:
    assert day("2026-11-18") == date(2026, 11, 18)


@pytest.mark.parametrize("text", ["20261118", "2026-W47-3", "2026-11-31", "18/11/2026", ""])
def test_anything_else_is_a_usage_error_quoting_it(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=rf"not a day \(YYYY-MM-DD\): {text!r}"):
        day(text)
