"""Fleet enrolment without Kafka: the devices CSV and its located errors, token states, expiry and rotation with an
injected clock, the tokens file (0600, never over another file), `tokens list`, and the version 1 database."""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alignmon.cli import main
from base.errors import AlignmonError, InvalidFileError
from collectors.gateway import token_commands, tokens
from collectors.gateway.enrolment import MAX_ISSUES, PrivateFile, load_devices, parse_devices, tokens_csv
from collectors.gateway.tokens import (
    NotRotatableError,
    TokenDatabaseError,
    TokenInfo,
    TokenState,
    TokenStore,
)

FIXTURES = Path(__file__).parent / "fixtures"
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[TokenStore]:
    s = TokenStore(tmp_path / "tokens.sqlite", clock=clock)
    yield s
    s.close()


def issues_of(error: InvalidFileError) -> list[tuple[int, str, str]]:
    return [(issue.line, issue.field, issue.message) for issue in error.issues]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- the devices CSV --------------------------------------------------------------------------------------------


def test_a_devices_csv_keeps_its_order_and_other_columns() -> None:
    parsed = parse_devices("Serial,Device,owner\nS1, laptop-1 ,alice\n\nS2,desk-2,bob\n", "devices.csv")
    assert parsed.devices == ["laptop-1", "desk-2"]
    assert parsed.extra_columns == ("Serial", "owner")
    assert [(row.line, row.extra) for row in parsed.rows] == [(2, ("S1", "alice")), (4, ("S2", "bob"))]


def test_a_devices_csv_with_semicolons_is_read_like_one_with_commas() -> None:
    parsed = parse_devices("Serial;Device;owner\nS1; laptop-1 ;alice\nS2;desk-2;bob\n", "devices.csv")
    assert parsed.devices == ["laptop-1", "desk-2"]
    assert parsed.extra_columns == ("Serial", "owner")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", [(1, "(header)", "empty file")]),
        ("devcie\nx\n", [(1, "(header)", "no 'device' column (found 'devcie')")]),
        ("device,Device\nx,y\n", [(1, "(header)", "column 'device' appears more than once")]),
        ("device,token\nx,y\n", [(1, "(header)", "column 'token' is what the tokens file adds")]),
        ("device,\nx,y\n", [(1, "(header)", "a column has no name")]),
        ("device\n", [(0, "(file)", "no devices")]),
        ("device,serial\nx\n", [(2, "(row)", "1 field(s), but the header names 2")]),
        ("device,serial\n ,S1\n", [(2, "device", "empty device id")]),
        ("device\n" + "d" * 129 + "\n", [(2, "device", "longer than 128 characters")]),
        ("device\na\nb\na\n", [(4, "device", "device 'a' is already on line 2")]),
        ('device,note\na,"two\nlines"\nb\n', [(4, "(row)", "1 field(s)")]),  # the line where the row ends
    ],
)
def test_each_problem_of_a_devices_csv_is_located(text: str, expected: list[tuple[int, str, str]]) -> None:
    with pytest.raises(InvalidFileError) as raised:
        parse_devices(text, "devices.csv")
    got = issues_of(raised.value)
    assert [(line, field) for line, field, _ in got] == [(line, field) for line, field, _ in expected]
    for (_, _, message), (_, _, part) in zip(got, expected, strict=True):
        assert part in message
    assert str(raised.value).startswith("devices.csv")


def test_every_bad_line_is_reported_at_once_up_to_a_limit() -> None:
    with pytest.raises(InvalidFileError) as raised:
        parse_devices("device,serial\na,1\n,2\nb,3\na,4\n", "d.csv")
    assert [(line, field) for line, field, _ in issues_of(raised.value)] == [(3, "device"), (5, "device")]
    with pytest.raises(InvalidFileError) as raised:
        parse_devices("device\n" + " \n".join(["x"] * 200) + "\n", "d.csv")  # "x " strips to a duplicate
    found = issues_of(raised.value)
    assert len(found) == MAX_ISSUES + 1
    assert found[-1][2] == f"and {199 - MAX_ISSUES} more problems"


def test_a_devices_file_is_read_as_utf8_with_or_without_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "devices.csv"
    path.write_bytes("\ufeffdevice\nZoë-laptop\n".encode())
    assert load_devices(path).devices == ["Zoë-laptop"]  # spreadsheets write the BOM; the header still reads
    path.write_bytes(b"device\n\xff\xfe\n")
    with pytest.raises(InvalidFileError, match=r"devices.csv: \(file\): not UTF-8"):
        load_devices(path)
    with pytest.raises(InvalidFileError, match=r"missing.csv: \(file\): cannot read: No such file"):
        load_devices(tmp_path / "missing.csv")


def test_the_tokens_csv_puts_device_and_token_first() -> None:
    devices = parse_devices("serial,device\nS1,laptop-1\n")
    issued = [tokens.IssuedToken("laptop-1", "tok-1", T0 + DAY)]
    assert (
        tokens_csv(devices, issued) == "device,token,expires_at,serial\nlaptop-1,tok-1,2026-03-03T12:00:00+00:00,S1\n"
    )


# -- states, expiry and rotation ---------------------------------------------------------------------------------


def info(**changes: Any) -> TokenInfo:
    base = TokenInfo("laptop-1", T0, T0 + 100 * DAY, None, None)
    return base._replace(**changes)


@pytest.mark.parametrize(
    ("token", "now", "state", "valid"),
    [
        (info(), T0, TokenState.ACTIVE, True),
        (info(), T0 + 70 * DAY - timedelta(microseconds=1), TokenState.ACTIVE, True),
        (info(), T0 + 70 * DAY, TokenState.EXPIRING, True),  # 30 days before the expiry
        (info(), T0 + 100 * DAY - timedelta(microseconds=1), TokenState.EXPIRING, True),
        (info(), T0 + 100 * DAY, TokenState.EXPIRED, False),
        (info(expires_at=None), T0 + 9999 * DAY, TokenState.ACTIVE, True),  # from version 1: no expiry
        (info(revoked_at=T0 + DAY), T0 + 2 * DAY, TokenState.REVOKED, False),
        (info(revoked_at=T0 + DAY, expires_at=None), T0 + 2 * DAY, TokenState.REVOKED, False),
        (info(superseded_at=T0, expires_at=T0 + 7 * DAY), T0 + DAY, TokenState.SUPERSEDED, True),  # in its grace
        (info(superseded_at=T0, expires_at=T0 + 7 * DAY), T0 + 7 * DAY, TokenState.REPLACED, False),  # grace over
        (info(superseded_at=T0, expires_at=T0), T0, TokenState.REPLACED, False),  # re-issued: no grace
    ],
)
def test_token_states(token: TokenInfo, now: datetime, state: TokenState, valid: bool) -> None:
    assert token.state(now) == state
    assert token.valid(now) is valid


def test_a_token_expires_after_its_days(store: TokenStore, clock: Clock) -> None:
    default = store.issue("laptop-1")
    short = store.issue("desk-2", expires_in=10 * DAY)
    clock.advance(10 * DAY - timedelta(seconds=1))
    assert store.authenticate(short) == "desk-2"
    clock.advance(timedelta(seconds=1))
    assert store.authenticate(short) is None
    info = store.lookup(short)
    assert info is not None and info.state(clock()) == TokenState.EXPIRED
    assert "expired at 2026-03-12 12:00 UTC" in tokens.refusal(info)
    assert "alignmon tokens rotate --device desk-2" in tokens.refusal(info)
    clock.advance(tokens.DEFAULT_EXPIRES_DAYS * DAY - 10 * DAY - timedelta(seconds=1))
    assert store.authenticate(default) == "laptop-1"
    clock.advance(timedelta(seconds=1))
    assert store.authenticate(default) is None


def test_rotation_keeps_the_old_token_for_the_grace_period(store: TokenStore, clock: Clock) -> None:
    old = store.issue("laptop-1")
    clock.advance(DAY)
    (new,) = store.rotate(["laptop-1"], grace=3 * DAY)
    assert new.expires_at == clock() + tokens.DEFAULT_EXPIRES_DAYS * DAY
    clock.advance(3 * DAY - timedelta(seconds=1))
    assert store.authenticate(old) == store.authenticate(new.token) == "laptop-1"
    clock.advance(timedelta(seconds=1))
    assert store.authenticate(old) is None
    assert store.authenticate(new.token) == "laptop-1"
    refused = store.lookup(old)
    assert refused is not None
    assert "the end of the grace period after a newer token replaced it on 2026-03-03" in tokens.refusal(refused)


def test_a_grace_period_never_outlives_the_old_tokens_expiry(store: TokenStore, clock: Clock) -> None:
    old = store.issue("laptop-1", expires_in=2 * DAY)
    (new,) = store.rotate(["laptop-1"], grace=7 * DAY)
    clock.advance(2 * DAY)
    assert store.authenticate(old) is None
    assert store.authenticate(new.token) == "laptop-1"


def test_an_expired_token_can_be_rotated_but_stays_expired(store: TokenStore, clock: Clock) -> None:
    old = store.issue("laptop-1", expires_in=DAY)
    clock.advance(2 * DAY)
    (new,) = store.rotate(["laptop-1"], grace=7 * DAY)
    assert store.authenticate(old) is None
    assert store.authenticate(new.token) == "laptop-1"
    expired = store.lookup(old)
    assert expired is not None and tokens.refusal(expired).startswith("device token expired at 2026-03-03 12:00 UTC: ")


def test_issue_ends_every_earlier_token_at_once_even_one_in_its_grace_period(store: TokenStore, clock: Clock) -> None:
    first = store.issue("laptop-1")
    (second,) = store.rotate(["laptop-1"], grace=7 * DAY)
    third = store.issue("laptop-1")
    assert store.authenticate(first) is None
    assert store.authenticate(second.token) is None
    assert store.authenticate(third) == "laptop-1"
    replaced = store.lookup(first)
    assert replaced is not None
    assert "replaced by a newer one at 2026-03-02 12:00 UTC (alignmon tokens issue)" in tokens.refusal(replaced)


def test_revoke_ends_the_current_token_and_one_in_its_grace_period(store: TokenStore, clock: Clock) -> None:
    old = store.issue("laptop-1")
    (new,) = store.rotate(["laptop-1"], grace=7 * DAY)
    assert store.revoke("laptop-1") is True
    assert store.authenticate(old) is None and store.authenticate(new.token) is None
    assert store.revoke("laptop-1") is False


def test_only_devices_with_an_unrevoked_token_can_be_rotated(store: TokenStore, clock: Clock) -> None:
    kept = store.issue("laptop-1")
    store.issue("kiosk-3")
    store.revoke("kiosk-3")
    with pytest.raises(NotRotatableError) as raised:
        store.rotate(["laptop-1", "new-9", "kiosk-3"])
    assert set(raised.value.problems) == {"new-9", "kiosk-3"}
    assert "issue its first one" in raised.value.problems["new-9"]
    assert "revoked on 2026-03-02" in raised.value.problems["kiosk-3"]
    assert [(t.device_id, t.superseded_at) for t in store.list()] == [("kiosk-3", None), ("laptop-1", None)]
    assert store.authenticate(kept) == "laptop-1"  # nothing changed


def test_many_devices_are_issued_in_one_transaction_or_not_at_all(store: TokenStore, clock: Clock) -> None:
    old = store.issue("laptop-1")

    def fail(issued: list[tokens.IssuedToken]) -> None:
        assert len(issued) == 3
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        store.issue_many(["laptop-1", "desk-2", "kiosk-3"], before_commit=fail)
    assert [t.device_id for t in store.list(history=True)] == ["laptop-1"]
    assert store.authenticate(old) == "laptop-1"
    with pytest.raises(AlignmonError, match="devices listed more than once: 'a'"):
        store.issue_many(["a", "b", " a "])
    with pytest.raises(AlignmonError, match="must expire in the future"):
        store.issue_many(["a"], expires_in=timedelta(0))


def test_list_shows_current_tokens_and_those_in_a_grace_period(store: TokenStore, clock: Clock) -> None:
    store.issue("a")
    store.issue("a")  # replaces the first at once: history only
    store.issue("b")
    store.rotate(["b"], grace=2 * DAY)
    assert [(t.device_id, t.state(clock())) for t in store.list()] == [
        ("a", TokenState.ACTIVE),
        ("b", TokenState.SUPERSEDED),
        ("b", TokenState.ACTIVE),
    ]
    assert len(store.list(history=True)) == 4
    clock.advance(2 * DAY)
    assert [t.device_id for t in store.list()] == ["a", "b"]


# -- the database from version 1 -------------------------------------------------------------------------------


def version_1_database(path: Path) -> dict[str, str]:
    """A token database as alignmon 0.1.0 left it (fixtures/tokens-v1.sql), and its tokens by device."""
    script = (FIXTURES / "tokens-v1.sql").read_text()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")  # as version 1 opened it
    db.executescript(script)
    db.close()
    path.chmod(0o600)
    known = {}
    for line in script.splitlines():
        parts = line.removeprefix("--").split()
        if line.startswith("--   ") and len(parts) >= 2:
            known[parts[0]] = parts[1]
    assert set(known) == {"laptop-1", "desk-2", "kiosk-3"}
    return known


def test_a_version_1_database_is_migrated_when_opened_and_its_tokens_keep_working(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "tokens.sqlite"
    known = version_1_database(path)
    clock.advance(5000 * DAY)  # version 1 tokens never expire
    store = TokenStore(path, clock=clock)
    assert store.authenticate(known["laptop-1"]) == "laptop-1"
    assert store.authenticate(known["desk-2"]) == "desk-2"
    assert store.authenticate(known["kiosk-3"]) is None  # revoked stays revoked
    listed = {t.device_id: t for t in store.list()}
    assert {d: (t.state(clock()), t.expires_at) for d, t in listed.items()} == {
        "desk-2": (TokenState.ACTIVE, None),
        "kiosk-3": (TokenState.REVOKED, None),
        "laptop-1": (TokenState.ACTIVE, None),
    }
    assert listed["desk-2"].issued_at == datetime(2026, 1, 5, 9, 31, 0, 250000, tzinfo=UTC)
    (new,) = store.rotate(["laptop-1"], grace=DAY)  # a migrated token rotates like any other
    clock.advance(DAY)
    assert store.authenticate(known["laptop-1"]) is None and store.authenticate(new.token) == "laptop-1"
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == tokens.SCHEMA_VERSION
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.close()
    assert tables == {"tokens"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_gateway_workers_opening_a_version_1_database_at_once_migrate_it_once(tmp_path: Path) -> None:
    path = tmp_path / "tokens.sqlite"
    known = version_1_database(path)
    barrier = threading.Barrier(4)
    results: list[str | BaseException | None] = []

    def open_and_check() -> None:
        barrier.wait()
        try:
            store = TokenStore(path)
            results.append(store.authenticate(known["desk-2"]))
            store.close()
        except BaseException as exc:  # collected: the assertion below shows it
            results.append(exc)

    threads = [threading.Thread(target=open_and_check) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["desk-2"] * 4


def test_a_database_from_a_newer_alignmon_or_another_program_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    newer = tmp_path / "newer.sqlite"
    db = sqlite3.connect(newer)
    db.execute(f"PRAGMA user_version = {tokens.SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(TokenDatabaseError, match="written by a newer alignmon"):
        TokenStore(newer)
    code, _, err = cli(capsys, "tokens", "--db", str(newer), "list")
    assert code == 1 and "newer alignmon" in err and err.count("\n") == 1
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE photos (id INTEGER)")
    db.close()
    with pytest.raises(TokenDatabaseError, match=r"not an alignmon token database \(tables: photos\)"):
        TokenStore(other)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(TokenDatabaseError, match="not a usable token database"):
        TokenStore(garbage)


# -- the command line ------------------------------------------------------------------------------------------


@pytest.fixture
def fleet_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A token database path, a devices CSV of three devices and where the tokens go."""
    devices = tmp_path / "devices.csv"
    devices.write_text("device,serial\nlaptop-1,S1\ndesk-2,S2\nkiosk-3,S3\n")
    return tmp_path / "tokens.sqlite", devices, tmp_path / "tokens.csv"


@pytest.fixture
def no_umask() -> Iterator[None]:
    old = os.umask(0)  # the file must be private whatever the umask
    yield
    os.umask(old)


def test_issue_from_writes_every_token_to_a_private_file_and_prints_none(
    fleet_files: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str], no_umask: None
) -> None:
    db, devices, out = fleet_files
    code, stdout, stderr = cli(capsys, "tokens", "--db", str(db), "issue", "--from", str(devices), "--out", str(out))
    assert code == 0, stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = read_csv(out)
    assert list(rows[0]) == ["device", "token", "expires_at", "serial"]
    assert [(r["device"], r["serial"]) for r in rows] == [("laptop-1", "S1"), ("desk-2", "S2"), ("kiosk-3", "S3")]
    for row in rows:
        assert row["token"] not in stdout + stderr
        assert datetime.fromisoformat(row["expires_at"]) > datetime.now(UTC) + 364 * DAY
    assert "3 tokens issued" in stdout
    store = TokenStore(db)
    assert [store.authenticate(r["token"]) for r in rows] == ["laptop-1", "desk-2", "kiosk-3"]
    store.close()
    assert not [p.name for p in out.parent.iterdir() if p.name.endswith(".tmp")]


def test_issue_from_never_replaces_an_existing_file_without_force(
    fleet_files: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db, devices, out = fleet_files
    out.write_text("tokens still to hand out\n")
    out.chmod(0o644)
    code, _, err = cli(capsys, "tokens", "--db", str(db), "issue", "--from", str(devices), "--out", str(out))
    assert code == 1 and "already exists" in err and "--force" in err
    assert out.read_text() == "tokens still to hand out\n"
    store = TokenStore(db)
    assert store.list(history=True) == []  # nothing was issued either
    store.close()
    code, _, err = cli(capsys, "tokens", "--db", str(db), "issue", "--from", str(devices), "--out", str(out), "--force")
    assert code == 0, err
    assert len(read_csv(out)) == 3
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # the replaced file was 0644; this one is not


def test_force_replaces_only_a_regular_file_never_the_devices_file_a_folder_or_a_link(
    fleet_files: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db, devices, out = fleet_files
    folder, link = out.parent / "out-folder", out.parent / "stdout-link"
    folder.mkdir()
    link.symlink_to("/dev/null")  # as /dev/stdout is a link to the terminal
    assert cli(capsys, "tokens", "--db", str(db), "issue", "--from", str(devices), "--out", str(out))[0] == 0
    for target, why in (
        (devices, "is the devices file itself"),
        (folder, "not a regular file"),
        (link, "not a regular file"),
    ):
        code, _, err = cli(
            capsys, "tokens", "--db", str(db), "issue", "--from", str(devices), "--out", str(target), "--force"
        )
        assert code == 1 and why in err, err
    assert devices.read_text().startswith("device,serial\n") and folder.is_dir() and link.is_symlink()
    store = TokenStore(db)  # refused before any token was replaced: the handed-out ones still work
    assert [store.authenticate(r["token"]) for r in read_csv(out)] == ["laptop-1", "desk-2", "kiosk-3"]
    store.close()


def test_issuing_names_the_token_database_and_listing_never_creates_one(
    fleet_files: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db, devices, out = fleet_files
    mistyped = db.parent / "nodir" / "tokens.sqlite"
    for command in (["list"], ["revoke", "laptop-1"]):
        code, _, err = cli(capsys, "tokens", "--db", str(mistyped), *command)
        assert code == 1 and f"no token database at {mistyped}" in err
    assert not mistyped.parent.exists()
    code, stdout, _ = cli(capsys, "tokens", "--db", str(db), "issue", "--from", str(devices), "--out", str(out))
    assert code == 0 and f"the gateway must use the token database {db}" in stdout


def test_a_bad_devices_file_issues_nothing_and_writes_nothing(
    fleet_files: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db, devices, out = fleet_files
    devices.write_text("device\nlaptop-1\n\nlaptop-1\n")
    code, _, err = cli(capsys, "tokens", "--db", str(db), "issue", "--from", str(devices), "--out", str(out))
    assert code == 1
    assert f"{devices}:4: device: device 'laptop-1' is already on line 2" in err
    assert not out.exists()
    assert not db.exists()  # the database is not even opened


def test_rotate_from_names_the_lines_of_devices_without_a_token(
    fleet_files: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db, devices, out = fleet_files
    assert main(["tokens", "--db", str(db), "issue", "laptop-1"]) == 0
    capsys.readouterr()
    code, _, err = cli(capsys, "tokens", "--db", str(db), "rotate", "--from", str(devices), "--out", str(out))
    assert code == 1
    assert f"{devices}:3: device: device 'desk-2' has no token to rotate" in err
    assert f"{devices}:4: device: device 'kiosk-3' has no token to rotate" in err
    assert not out.exists()


def test_rotate_from_writes_new_tokens_and_keeps_the_old_ones(
    fleet_files: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, devices, out = fleet_files
    assert main(["tokens", "--db", str(db), "issue", "--from", str(devices), "--out", str(out)]) == 0
    new = tmp_path / "new.csv"
    argv = ["tokens", "--db", str(db), "rotate", "--from", str(devices), "--out", str(new), "--grace", "2"]
    code, stdout, err = cli(capsys, *argv, "--expires-in", "90")
    assert code == 0, err
    assert "3 tokens rotated (the old ones work 2 days more at most)" in stdout
    store = TokenStore(db)
    for old_row, new_row in zip(read_csv(out), read_csv(new), strict=True):
        assert store.authenticate(old_row["token"]) == store.authenticate(new_row["token"]) == old_row["device"]
        assert datetime.fromisoformat(new_row["expires_at"]) < datetime.now(UTC) + 91 * DAY
    store.close()


def test_rotate_one_device_prints_its_new_token(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "tokens.sqlite"
    assert main(["tokens", "--db", str(db), "issue", "laptop-1"]) == 0
    old = capsys.readouterr().out.strip()
    code, out, err = cli(capsys, "tokens", "--db", str(db), "rotate", "--device", "laptop-1", "--grace", "1")
    assert code == 0, err
    new = out.strip()
    assert len(new) == 43 and new != old
    assert "not shown again" in err and "the old one works until" in err
    store = TokenStore(db)
    assert store.authenticate(old) == store.authenticate(new) == "laptop-1"
    store.close()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["issue"], "give one DEVICE, or --from DEVICES.csv --out TOKENS.csv"),
        (["issue", "laptop-1", "--from", "d.csv", "--out", "t.csv"], "give one DEVICE, or --from"),
        (["issue", "--from", "d.csv"], "--from needs --out TOKENS.csv"),
        (["issue", "laptop-1", "--out", "t.csv"], "--out and --force go with --from"),
        (["rotate", "--device", "laptop-1", "--force"], "--out and --force go with --from"),
    ],
)
def test_wrong_combinations_of_options_say_what_is_expected(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "tokens", "--db", str(tmp_path / "t.sqlite"), *argv)
    assert code == 1 and message in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["issue", "x", "--expires-in", "0"], "0 days is out of range"),
        (["issue", "x", "--expires-in", "3651"], "out of range"),
        (["issue", "x", "--expires-in", "soon"], "'soon' is not a number of days"),
        (["rotate", "--device", "x", "--grace", "-1"], "out of range: give 0 or more"),
        (["rotate", "--out", "t.csv"], "one of the arguments --device --from is required"),
    ],
)
def test_bad_day_counts_are_refused_by_the_parser(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["tokens", "--db", str(tmp_path / "t.sqlite"), *argv])
    assert done.value.code == 2
    assert message in capsys.readouterr().err


def test_list_shows_device_created_expires_and_state_never_a_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "tokens.sqlite"
    past = TokenStore(db, clock=lambda: datetime.now(UTC) - 400 * DAY)
    secrets = [past.issue("old-1")]  # expired 35 days ago
    past.close()
    for argv in (["issue", "soon-2", "--expires-in", "10"], ["issue", "gone-3"], ["issue", "fresh-4"]):
        assert main(["tokens", "--db", str(db), *argv]) == 0
        secrets.append(capsys.readouterr().out.strip())
    assert main(["tokens", "--db", str(db), "revoke", "gone-3"]) == 0
    assert main(["tokens", "--db", str(db), "rotate", "--device", "fresh-4"]) == 0
    secrets.append(capsys.readouterr().out.strip())

    code, out, _ = cli(capsys, "tokens", "--db", str(db), "list", "--format", "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["device", "created", "expires", "state"]
    assert [(r[0], r[3]) for r in rows[1:]] == [
        ("fresh-4", "superseded"),
        ("fresh-4", "active"),
        ("gone-3", "revoked"),
        ("old-1", "expired"),
        ("soon-2", "expiring"),
    ]
    for row in rows[1:]:
        assert datetime.strptime(row[1], "%Y-%m-%dT%H:%M:%SZ") < datetime.strptime(row[2], "%Y-%m-%dT%H:%M:%SZ")

    code, table, _ = cli(capsys, "tokens", "--db", str(db), "list")
    lines = table.splitlines()
    assert lines[0].split() == ["DEVICE", "CREATED", "EXPIRES", "STATE"]
    assert [line.split()[0] for line in lines[1:]] == ["fresh-4", "fresh-4", "gone-3", "old-1", "soon-2"]
    assert [line.split()[-1] for line in lines[1:]] == ["superseded", "active", "revoked", "expired", "expiring"]
    store = TokenStore(db)
    hashes = [tokens.hash_token(s) for s in secrets]
    store.close()
    for text in (out, table):
        assert not any(s in text for s in secrets + hashes)


def test_list_all_shows_replaced_tokens_and_never_for_tokens_without_expiry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "tokens.sqlite"
    version_1_database(db)
    assert main(["tokens", "--db", str(db), "issue", "desk-2"]) == 0  # its version 1 token is replaced at once
    capsys.readouterr()
    _, table, _ = cli(capsys, "tokens", "--db", str(db), "list")
    assert [line.split()[0] for line in table.splitlines()[1:]] == ["desk-2", "kiosk-3", "laptop-1"]
    assert table.splitlines()[3].split()[2:] == ["never", "active"]
    _, out, _ = cli(capsys, "tokens", "--db", str(db), "list", "--all", "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))[1:]
    assert [(r[0], r[3]) for r in rows] == [
        ("desk-2", "replaced"),  # re-issued: it stopped working at once
        ("desk-2", "active"),
        ("kiosk-3", "revoked"),
        ("laptop-1", "active"),
    ]
    assert rows[3][2] == ""  # no expiry: empty in CSV


def test_the_private_file_is_taken_before_anything_is_written(tmp_path: Path) -> None:
    target = tmp_path / "tokens.csv"
    first = PrivateFile(target, force=False)
    assert target.exists() and target.read_text() == ""  # the place is taken: a second writer fails at once
    with pytest.raises(AlignmonError, match="already exists"):
        PrivateFile(target, force=False)
    first.discard()
    assert not target.exists()
    with pytest.raises(AlignmonError, match=r"cannot write .*missing/tokens\.csv: No such file"):
        PrivateFile(tmp_path / "missing" / "tokens.csv", force=False)


def test_the_help_states_the_defaults_and_the_cli_agrees_with_the_store(capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("DEFAULT_EXPIRES_DAYS", "DEFAULT_GRACE_DAYS", "EXPIRING_DAYS", "MAX_DAYS"):
        assert getattr(token_commands, name) == getattr(tokens, name), name
    helps: dict[str, str] = {}
    for action in ("issue", "rotate", "list"):
        with pytest.raises(SystemExit):
            main(["tokens", action, "--help"])
        helps[action] = " ".join(capsys.readouterr().out.split())
    assert f"(default {tokens.DEFAULT_EXPIRES_DAYS}, at most {tokens.MAX_DAYS})" in helps["issue"]
    assert f"(default {tokens.DEFAULT_GRACE_DAYS}; 0 stops it now)" in helps["rotate"]
    assert f"expiring: within {tokens.EXPIRING_DAYS} days" in helps["list"]


def test_the_list_csv_filtered_by_state_feeds_rotate_from(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "tokens.sqlite"
    for argv in (
        ["issue", "soon-1", "--expires-in", "5"],
        ["issue", "soon-2", "--expires-in", "20"],
        ["issue", "ok-3"],
    ):
        assert main(["tokens", "--db", str(db), *argv]) == 0
    capsys.readouterr()
    assert main(["tokens", "--db", str(db), "list", "--format", "csv"]) == 0
    listed = capsys.readouterr().out.splitlines()
    expiring = tmp_path / "expiring.csv"
    expiring.write_text("\n".join([listed[0], *(line for line in listed[1:] if line.endswith(",expiring"))]) + "\n")
    out = tmp_path / "rotated.csv"
    code, _, err = cli(capsys, "tokens", "--db", str(db), "rotate", "--from", str(expiring), "--out", str(out))
    assert code == 0, err
    rows = read_csv(out)
    assert [(r["device"], r["state"]) for r in rows] == [("soon-1", "expiring"), ("soon-2", "expiring")]
    assert list(rows[0]) == ["device", "token", "expires_at", "created", "expires", "state"]
