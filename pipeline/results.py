"""A query's result as text, for people (table, Markdown) and for scripts (CSV, JSON); the file `--output` writes.

Every column and every row the caller hands over is written: nothing is cut to a terminal's width. CSV and JSON
keep each value whole (NULL is an empty CSV field and JSON null, never 0 or ""); the table and Markdown round
numbers for reading (6 significant digits) and leave a NULL cell empty.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import os
import secrets
import stat
import sys
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, NamedTuple, TextIO, get_args

from base.errors import AlignmonError

Format = Literal["table", "csv", "json", "markdown"]
FORMATS: tuple[str, ...] = get_args(Format)
# The format a file's name asks for (--output without --format).
EXTENSIONS: dict[str, Format] = {".csv": "csv", ".json": "json", ".md": "markdown", ".markdown": "markdown",
                                 ".txt": "table"}  # fmt: skip
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
            "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL")  # fmt: skip


class Column(NamedTuple):
    """A result column: its name and its DuckDB type as DuckDB names it (`DOUBLE`, `DATE`, `JSON`, `INTEGER[]`)."""

    name: str
    type: str

    @property
    def numeric(self) -> bool:
        return self.type.split("(")[0] in _NUMERIC


def write(columns: Sequence[Column], rows: Iterable[Sequence[Any]], fmt: Format, out: TextIO) -> int:
    """Write `rows` (DuckDB's Python values) under `columns` to `out` as `fmt`; returns how many rows were written.

    CSV and JSON stream row by row; the table and Markdown read every row first (their widths depend on them all).
    """
    if fmt == "csv":
        return _csv(columns, rows, out)
    if fmt == "json":
        return _json(columns, rows, out)
    kept = [[_cell(v) for v in row] for row in rows]
    out.write(_markdown(columns, kept) if fmt == "markdown" else _table(columns, kept))
    return len(kept)


def plain(value: Any) -> Any:
    """A DuckDB value as JSON data: dates and times in ISO 8601, a non-finite number as null, a map's keys as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return plain(float(value))
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, dict):
        return {k if isinstance(k, str) else json.dumps(plain(k)): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)  # UUID, INTERVAL (timedelta), anything newer


def text(value: Any) -> str:
    """A value as one CSV field: whole numbers, ISO 8601 dates, true/false, a list or struct as JSON, NULL empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back as the same double
    if isinstance(value, dict | list | tuple):
        return json.dumps(plain(value), ensure_ascii=False)
    plain_value = plain(value)
    return plain_value if isinstance(plain_value, str) else str(value)


def _csv(columns: Sequence[Column], rows: Iterable[Sequence[Any]], out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.name for c in columns])
    n = 0
    for row in rows:
        writer.writerow([text(v) for v in row])
        n += 1
    return n


def _json(columns: Sequence[Column], rows: Iterable[Sequence[Any]], out: TextIO) -> int:
    """One JSON array of objects, one object a line, keys in the columns' order; a JSON column's value is embedded
    as JSON data, not as a string of it."""
    names = [c.name for c in columns]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise AlignmonError(
            f"the result has several columns named {', '.join(repeated)}: a JSON object would keep only one; name "
            "each column (... AS name) or use another --format"
        )
    embedded = [c.type == "JSON" for c in columns]
    n = 0
    out.write("[")
    for row in rows:
        record = {
            name: plain(json.loads(v) if is_json and isinstance(v, str) else v)
            for name, v, is_json in zip(names, row, embedded, strict=True)
        }
        out.write(("\n" if n == 0 else ",\n") + json.dumps(record, ensure_ascii=False, allow_nan=False))
        n += 1
    out.write("\n]\n" if n else "]\n")
    return n


def _cell(value: Any) -> str:
    """A value as people read it in a table: numbers rounded, text on one line."""
    if isinstance(value, float):
        return _rounded(value)
    if isinstance(value, Decimal):
        return _rounded(float(value))
    return text(value).replace("\r\n", "\n").replace("\n", "\\n").replace("\t", " ")


def _rounded(x: float) -> str:
    if not math.isfinite(x):
        return repr(x)
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    if abs(x) >= 1e5:
        return f"{x:.2f}"
    return f"{x:.6g}"


def _table(columns: Sequence[Column], rows: list[list[str]]) -> str:
    """Aligned columns under their names (numbers to the right), then how many rows."""
    widths = [max([len(c.name), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(w) if c.numeric else cell.ljust(w) for cell, w, c in zip(cells, widths, columns, strict=True)
        ).rstrip()

    out = [line([c.name for c in columns]), line(["-" * w for w in widths]), *(line(r) for r in rows)]
    out.append(f"({len(rows):,} row{'' if len(rows) == 1 else 's'})")
    return "\n".join(out) + "\n"


def _markdown(columns: Sequence[Column], rows: list[list[str]]) -> str:
    """A GitHub-flavoured Markdown table, numbers aligned right."""

    def line(cells: Iterable[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    rule = "|" + "|".join("---:" if c.numeric else "---" for c in columns) + "|"
    return "\n".join([line(c.name for c in columns), rule, *(line(r) for r in rows)]) + "\n"


def add_output_arguments(parser: argparse.ArgumentParser, formats: str, offered: Sequence[str] = FORMATS) -> None:
    """--format, --output (-o) and --force, as `destination` reads them; `formats` says what each format writes."""
    suffixes = ", ".join(_suffixes(offered))
    parser.add_argument(
        "--format",
        choices=offered,
        help=f"{formats}. Default: table when standard output is a terminal, else csv; with --output, the format "
        f"its extension names ({suffixes}), else csv",
    )
    parser.add_argument(
        "--output",
        "--out",
        "-o",
        type=Path,
        metavar="FILE",
        help="write the result to FILE (created whole once it is complete, never half) instead of standard output "
        "(-: standard output); an existing FILE is replaced only with --force",
    )
    parser.add_argument("--force", action="store_true", help="replace an existing --output file")


def destination(
    fmt: Format | None, output: Path | None, *, force: bool, offered: Sequence[str] = FORMATS
) -> tuple[Format, OutputFile | None]:
    """--format, --output and --force as a command that writes a result takes them: the format, and the file to
    write (None: standard output, as `--output -` is), checked before the work starts.

    The format is --format, else what --output's extension names (an unknown one: CSV), else a table for a terminal
    and CSV for a pipe or a file; an extension naming a format the command does not write (`offered`) is refused.
    """
    if force and output is None:
        raise AlignmonError("--force goes with --output FILE: it lets the result replace an existing file")
    path = None if output is None or str(output) == "-" else output
    if fmt is None and path is not None:
        fmt = EXTENSIONS.get(path.suffix.lower(), "csv")
        if fmt not in offered:
            *others, last = _suffixes(offered)
            raise AlignmonError(
                f"--output {path}: a {path.suffix} file is {fmt}, which this command does not write: name a "
                f"{', '.join(others)} or {last} file, or choose with --format {'|'.join(offered)}"
            )
    if fmt is None:
        fmt = "table" if sys.stdout.isatty() else "csv"
    return fmt, None if path is None else OutputFile(path, force=force)


def _suffixes(offered: Sequence[str]) -> list[str]:
    """The extension that names each of the formats offered (the first, where several do)."""
    first: dict[str, str] = {}
    for suffix, fmt in EXTENSIONS.items():
        first.setdefault(fmt, suffix)
    return [suffix for fmt, suffix in first.items() if fmt in offered]


def reader_gone() -> int:
    """The exit status once standard output's reader stopped early (`| head`): 141, what a program killed by SIGPIPE
    reports, as `cat` would; no error message, and no second failure when Python flushes at exit."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 141


class OutputFile:
    """The file `--output` names, written beside its place and moved there whole once the result is complete.

    Checked before the query runs: a folder, a link or a device is refused, and so is an existing file unless
    `force`; the file is created with the usual mode (0666 less the umask), like a shell's `>` would.
    """

    def __init__(self, path: Path, *, force: bool) -> None:
        self.path, self.force = path, force
        try:
            mode: int | None = path.lstat().st_mode
        except FileNotFoundError:
            mode = None
        except OSError as exc:
            raise AlignmonError(f"cannot write {path}: {exc.strerror or exc}") from None
        if mode is not None and stat.S_ISDIR(mode):
            raise AlignmonError(f"{path} is a folder: --output names the file to write, e.g. {path / 'result.csv'}")
        if mode is not None and not stat.S_ISREG(mode):
            raise AlignmonError(
                f"{path} is not a regular file (a link, a device or a pipe): --output writes a file; to send the "
                "result elsewhere, leave --output out and redirect standard output"
            )
        if mode is not None and not force:
            raise AlignmonError(f"{path} already exists: pass --force to replace it, or choose another --output")
        folder = path.parent
        if not folder.is_dir():
            raise AlignmonError(f"cannot write {path}: the folder {folder} does not exist (create it first)")
        self._temp = folder / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(self._temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as exc:
            raise AlignmonError(f"cannot write {path}: {exc.strerror or exc}") from None
        self.stream: TextIO = os.fdopen(fd, "w", encoding="utf-8", newline="")

    def publish(self) -> None:
        """Move the complete file to its place: over an existing file only with `force`."""
        try:
            self.stream.close()
            if self.force:
                os.replace(self._temp, self.path)
            else:  # a link fails if the name was taken meanwhile: an existing file is never replaced
                os.link(self._temp, self.path)
                self._temp.unlink()
        except FileExistsError:
            self.discard()
            raise AlignmonError(
                f"{self.path} was created while the query ran: pass --force to replace it, or choose another --output"
            ) from None
        except OSError as exc:
            self.discard()
            raise AlignmonError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def discard(self) -> None:
        """Remove what was written (the query failed or was interrupted); the place is left as it was."""
        self.stream.close()
        self._temp.unlink(missing_ok=True)


class Rows:
    """The rows of a DuckDB result, fetched a batch at a time (a long CSV or JSON result is never held whole), at
    most `limit` of them; `more` tells, once they are read, whether the result had more."""

    BATCH = 10_000

    def __init__(self, cursor: Any, limit: int | None = None) -> None:
        self.cursor, self.limit, self.more = cursor, limit, False

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        n = 0
        while True:
            # Never more than one row past the limit: enough to know whether there were more.
            chunk = self.cursor.fetchmany(self.BATCH if self.limit is None else min(self.BATCH, self.limit - n + 1))
            if not chunk:
                return
            for row in chunk:
                if n == self.limit:
                    self.more = True
                    return
                n += 1
                yield row
