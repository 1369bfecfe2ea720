"""The command line's shared spellings: an option naming the file to write takes both --out and --output."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from alignmon.cli import build_parser


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield " ".join((*path, name)), child
                yield from _commands(child, (*path, name))


def test_every_out_or_output_option_takes_both_spellings() -> None:
    writers = {}
    for command, parser in _commands(build_parser()):
        for action in parser._actions:
            spellings = set(action.option_strings) & {"--out", "--output"}
            if spellings:
                writers[command] = spellings
    assert {"sql", "impact", "report", "roadmap", "tokens issue", "dashboards build", "privacy pack"} <= set(writers)
    assert {command: s for command, s in writers.items() if s != {"--out", "--output"}} == {}
