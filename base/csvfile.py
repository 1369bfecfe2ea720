"""Reading the CSV files people hand us (directory, devices): every problem an Issue naming file, line and field."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from base.errors import InvalidFileError, Issue


def read_text(path: Path) -> str:
    """Read a UTF-8 file (with or without the byte order mark spreadsheets write); raises InvalidFileError."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidFileError([Issue(str(path), 0, "(file)", f"cannot read: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError as exc:
        raise InvalidFileError([Issue(str(path), 0, "(file)", f"not UTF-8 text: {exc.reason}")]) from None


def delimiter_of(text: str) -> str:
    """',' unless the header line has none and is split by ';' (what spreadsheets write in locales whose decimal
    mark is a comma) or by tabs."""
    header = text.split("\n", 1)[0]
    if "," not in header:
        for other in (";", "\t"):
            if other in header:
                return other
    return ","


class CsvReader:
    """A CSV text's header, then its rows with their line numbers; raises InvalidFileError without a header."""

    def __init__(self, text: str, source: str, expected: str) -> None:
        """`expected` says what the header should be, for the message about an empty file."""
        self.source = source
        self._reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter_of(text))
        try:
            self.header: list[str] = next(self._reader)
        except StopIteration:
            raise InvalidFileError([Issue(source, 1, "(header)", f"empty file: expected {expected}")]) from None
        except csv.Error as exc:
            raise InvalidFileError([Issue(source, 1, "(header)", f"invalid CSV: {exc}")]) from None

    def rows(self, issues: list[Issue]) -> Iterator[tuple[int, list[str]]]:
        """(line, row) for every row that is not blank; invalid CSV ends the rows with an Issue added to `issues`."""
        line = 1
        try:
            for row in self._reader:
                line = self._reader.line_num
                if any(cell.strip() for cell in row):
                    yield line, row
        except csv.Error as exc:
            issues.append(Issue(self.source, self._reader.line_num or line, "(row)", f"invalid CSV: {exc}"))
