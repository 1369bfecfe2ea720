"""Fleet enrolment: a devices CSV in, a tokens CSV out (owner-only, never over another file unless forced).

The devices CSV needs a `device` column (the device id the agent sends: its --device, by default the host name).
Any other columns (a serial number, an MDM id) are copied to the tokens CSV, after `device,token,expires_at`, so a
distribution tool can join the tokens back to its own inventory.
"""

from __future__ import annotations

import csv
import io
import os
import stat
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from base.csvfile import CsvReader, read_text
from base.errors import AlignmonError, InvalidFileError, Issue
from collectors.event import MAX_TEXT
from collectors.gateway.tokens import IssuedToken, NotRotatableError

DEVICE_COLUMN = "device"
OUTPUT_COLUMNS = ("device", "token", "expires_at")
MAX_ISSUES = 50  # a wrong file should not print 10,000 lines


class DeviceRow(NamedTuple):
    line: int
    device: str
    extra: tuple[str, ...]


class DeviceList(NamedTuple):
    """The devices of a CSV, in its order, with the columns to carry through to the tokens CSV."""

    source: str
    extra_columns: tuple[str, ...]
    rows: tuple[DeviceRow, ...]

    @property
    def devices(self) -> list[str]:
        return [row.device for row in self.rows]


def parse_devices(text: str, source: str = "<devices>") -> DeviceList:
    """Parse a devices CSV; raises InvalidFileError naming the file, line and field of every problem."""
    csv_file = CsvReader(text, source, "a header naming 'device'")
    columns = [name.strip() for name in csv_file.header]
    folded = [name.casefold() for name in columns]
    issues: list[Issue] = []
    if DEVICE_COLUMN not in folded:
        found = ", ".join(repr(c) for c in columns) or "nothing"
        issues.append(
            Issue(source, 1, "(header)", f"no 'device' column (found {found}): name the device id column 'device'")
        )
    for name in sorted({c for c in folded if folded.count(c) > 1}):
        issues.append(Issue(source, 1, "(header)", f"column {name!r} appears more than once"))
    for name in OUTPUT_COLUMNS[1:]:
        if name in folded:
            issues.append(
                Issue(source, 1, "(header)", f"column {name!r} is what the tokens file adds: rename or remove it")
            )
    if any(not name for name in columns):
        issues.append(Issue(source, 1, "(header)", "a column has no name"))
    if issues:
        raise InvalidFileError(issues)
    device_col = folded.index(DEVICE_COLUMN)
    extra_cols = [i for i in range(len(columns)) if i != device_col]
    rows: list[DeviceRow] = []
    first_line: dict[str, int] = {}
    for line, row in csv_file.rows(issues):
        if len(row) != len(columns):
            issues.append(Issue(source, line, "(row)", f"{len(row)} field(s), but the header names {len(columns)}"))
            continue
        device = row[device_col].strip()
        if not device:
            issues.append(Issue(source, line, DEVICE_COLUMN, "empty device id"))
        elif len(device) > MAX_TEXT:
            issues.append(Issue(source, line, DEVICE_COLUMN, f"device id longer than {MAX_TEXT} characters"))
        elif device in first_line:
            issues.append(
                Issue(source, line, DEVICE_COLUMN, f"device {device!r} is already on line {first_line[device]}")
            )
        else:
            first_line[device] = line
            rows.append(DeviceRow(line, device, tuple(row[i] for i in extra_cols)))
    if not issues and not rows:
        issues.append(Issue(source, 0, "(file)", "no devices: the file has a header but no rows"))
    if issues:
        raise InvalidFileError(_capped(issues, source))
    return DeviceList(source, tuple(columns[i] for i in extra_cols), tuple(rows))


def _capped(issues: list[Issue], source: str) -> list[Issue]:
    if len(issues) <= MAX_ISSUES:
        return issues
    return [*issues[:MAX_ISSUES], Issue(source, 0, "(file)", f"and {len(issues) - MAX_ISSUES} more problems")]


def load_devices(path: Path) -> DeviceList:
    """Read and parse a devices CSV file (UTF-8, with or without the byte order mark spreadsheets write)."""
    return parse_devices(read_text(path), str(path))


def tokens_csv(devices: DeviceList, issued: Sequence[IssuedToken]) -> str:
    """The tokens CSV: `device,token,expires_at` and the devices CSV's other columns, in the devices' order."""
    by_device = {token.device_id: token for token in issued}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*OUTPUT_COLUMNS, *devices.extra_columns])
    stamps: dict[datetime, str] = {}  # one expiry for all, in practice: format it once
    for row in devices.rows:
        token = by_device[row.device]
        expires = stamps.setdefault(token.expires_at, token.expires_at.isoformat(timespec="seconds"))
        writer.writerow([row.device, token.token, expires, *row.extra])
    return out.getvalue()


class PrivateFile:
    """A file only its owner can read, written beside its place and moved there by `publish()`.

    Without `force` the place is taken first (O_EXCL), so an existing file is never replaced; with it, the old file
    stays whole until the new one replaces it.
    """

    def __init__(self, path: Path, *, force: bool, source: Path | None = None) -> None:
        self.path = Path(path)
        self._reserved = False
        if source is not None and self.path.resolve() == Path(source).resolve():
            raise AlignmonError(f"{self.path} is the devices file itself: write the tokens to another --out")
        try:
            mode = self.path.lstat().st_mode
        except FileNotFoundError:
            mode = None
        except OSError as exc:
            raise AlignmonError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        if mode is not None and not stat.S_ISREG(mode):  # a folder, a link, a device such as /dev/stdout
            raise AlignmonError(f"{self.path} is not a regular file: choose a file path for --out")
        if not force:
            try:
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                raise AlignmonError(
                    f"{self.path} already exists: it may hold tokens still to hand out; choose another --out, or "
                    "pass --force to replace it"
                ) from None
            except OSError as exc:
                raise AlignmonError(f"cannot write {self.path}: {exc.strerror or exc}") from None
            self._reserved = True
        try:
            fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")  # 0600
        except OSError as exc:
            self._unreserve()
            raise AlignmonError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        os.close(fd)
        self._temp = Path(temp)

    def write(self, text: str) -> None:
        """Write the whole content and flush it to disk."""
        try:
            with self._temp.open("w", encoding="utf-8", newline="") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise AlignmonError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def publish(self) -> None:
        try:
            os.replace(self._temp, self.path)
        except OSError as exc:
            raise AlignmonError(
                f"the tokens are in {self._temp} but it could not be moved to {self.path}: {exc.strerror or exc}"
            ) from None

    def discard(self) -> None:
        self._temp.unlink(missing_ok=True)
        self._unreserve()

    def _unreserve(self) -> None:
        if self._reserved:
            self.path.unlink(missing_ok=True)
            self._reserved = False


Issuer = Callable[[list[str], Callable[[list[IssuedToken]], None]], list[IssuedToken]]


def issue_to_file(devices: DeviceList, out: Path, issue: Issuer, *, force: bool = False) -> list[IssuedToken]:
    """Issue (or rotate) tokens for the devices with `issue(devices, before_commit)` and write them to `out`.

    The file is written inside the store's transaction: tokens are committed only once they are on disk, and a file
    is published only with committed tokens. A device a rotation cannot replace is reported at its line.
    """
    target = PrivateFile(out, force=force, source=Path(devices.source))
    try:
        issued = issue(devices.devices, lambda tokens: target.write(tokens_csv(devices, tokens)))
    except NotRotatableError as exc:
        target.discard()
        lines = {row.device: row.line for row in devices.rows}
        problems = sorted(exc.problems.items(), key=lambda item: lines.get(item[0], 0))
        issues = [Issue(devices.source, lines.get(d, 0), DEVICE_COLUMN, f"device {d!r} {why}") for d, why in problems]
        raise InvalidFileError(_capped(issues, devices.source)) from None
    except BaseException:
        target.discard()
        raise
    target.publish()
    return issued
