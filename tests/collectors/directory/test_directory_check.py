"""`alignmon directory check --events FILE`: which users of a file of usage events match no directory row.

Real files of events: the simulator's NDJSON (logins, or the gateway's pseudonyms with --pseudonymise) and the
directory it writes; run through the real console entry point, in a subprocess where the exit code matters.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alignmon.cli import main
from collectors.event import UsageEvent, deterministic_id

ROOT = Path(__file__).resolve().parents[3]
MIDSIZE_DIRECTORY = ROOT / "catalog" / "midsize" / "directory.csv"
SECRET = "directory-check-secret-0123456789"
AS_OF = "2026-11-30"


@pytest.fixture(autouse=True)
def _no_key_or_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test says which key and directory it uses: none comes from the environment."""
    for name in ("ALIGNMON_PSEUDONYM_SECRET", "ALIGNMON_DEV_MODE", "ALIGNMON_DIRECTORY_CSV", "ALIGNMON_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)


def simulate(alignmon: Any, out: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[Path, Path]:
    """`alignmon simulate` for one day: its events file and its directory."""
    out.mkdir(parents=True, exist_ok=True)
    events = out / "events.ndjson"
    args = ["simulate", "--days", "1", "--as-of", AS_OF, "--out-dir", str(out), "--ndjson", str(events), *extra]
    result = alignmon.run(args, env or {})
    assert result.returncode == 0, result.stderr
    return events, out / "directory.csv"


def users_of(events: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in events.read_text().splitlines():
        user = json.loads(line)["user"]
        counts[user] = counts.get(user, 0) + 1
    return counts


def write_events(path: Path, users: dict[str, int], day: str = AS_OF) -> Path:
    """`n` focus events for each user, in the contract's NDJSON, on one day."""
    start = datetime.fromisoformat(f"{day}T08:00:00+00:00")
    lines = []
    for user, n in users.items():
        for i in range(n):
            event = UsageEvent(
                event_id=deterministic_id("test", user, day, i),
                kind="focus",
                device_id="dev-1",
                user=user,
                app="ms-teams.exe",
                start=start + timedelta(minutes=i),
                duration_s=60.0,
                source="agent",
            )
            lines.append(event.model_dump_json(exclude_none=True))
    path.write_text("\n".join(lines) + "\n")
    return path


# --- a real events file, matched and unmatched ----------------------------------------------------------------


def test_the_simulators_events_match_its_directory_and_a_trimmed_directory_names_who_is_missing(
    alignmon: Any, tmp_path: Path
) -> None:
    events, directory = simulate(alignmon, tmp_path / "sim")
    counts = users_of(events)
    rows = directory.read_text().splitlines()
    result = alignmon.run(["directory", "check", "--events", str(events), "--directory", str(directory)], {})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{events}: {sum(counts.values()):,} events of {len(counts)} users; {directory}: {len(rows) - 1} people in "
        "6 departments",
        f"all {len(counts)} users ({sum(counts.values()):,} events) match a row of {directory}",
    ]

    # HR's export lost three people who use their computers (and has one who sent nothing): exactly those three
    # are listed, most events first.
    missing = [row.split(",")[0] for row in rows[1:] if row.split(",")[0] in counts][:3]
    trimmed = tmp_path / "trimmed.csv"
    trimmed.write_text("\n".join([r for r in rows if r.split(",")[0] not in missing] + ["nobody.here,Sales"]) + "\n")
    result = alignmon.run(["directory", "check", "--events", str(events), "--directory", str(trimmed)], {})
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    expected = sorted(missing, key=lambda user: (-counts[user], user))
    assert lines[1] == "users that match no directory row, most events first:"
    assert [line.split()[0] for line in lines[2:5]] == expected
    assert [int(line.split()[1].replace(",", "")) for line in lines[2:5]] == [counts[u] for u in expected]
    lost = sum(counts[u] for u in missing)
    assert lines[-1] == (
        f"3 of {len(counts)} users ({lost:,} of {sum(counts.values()):,} events) match no row of {trimmed}: their "
        "use counts in no department and no target population"
    )
    assert len(lines) == 6 and "nobody.here" not in result.stdout  # only what is needed: no matched user, no row


def test_pseudonymised_events_are_matched_with_the_gateways_key_on_either_kind_of_directory(
    alignmon: Any, tmp_path: Path
) -> None:
    key = {"ALIGNMON_PSEUDONYM_SECRET": SECRET}
    events, pseudonyms = simulate(alignmon, tmp_path / "p", "--pseudonymise", env=key)
    _, logins = simulate(alignmon, tmp_path / "hr")  # the same people, as HR names them
    assert all(re.fullmatch(r"u_[0-9a-f]{32}", user) for user in users_of(events))

    def check(directory: Path, env: dict[str, str]) -> Any:
        return alignmon.run(["directory", "check", "--events", str(events), "--directory", str(directory)], env)

    # Pseudonyms against pseudonyms need no key; against HR's logins, the gateway's key makes them comparable.
    assert check(pseudonyms, {}).returncode == 0
    with_key = check(logins, key)
    assert with_key.returncode == 0, with_key.stderr
    assert with_key.stdout.splitlines()[-1].startswith("all ")

    without_key = check(logins, {})
    assert without_key.returncode == 1 and without_key.stdout == ""
    assert without_key.stderr.splitlines() == [
        f"alignmon: error: {events} carries pseudonyms and {logins} holds logins: comparing them needs the gateway's "
        "key; set ALIGNMON_PSEUDONYM_SECRET as the gateway has it and run again"
    ]

    wrong_key = check(logins, {"ALIGNMON_PSEUDONYM_SECRET": "another-key-0123456789"})
    assert wrong_key.returncode == 1
    assert "no pseudonym matches: is ALIGNMON_PSEUDONYM_SECRET the key the gateway used?" in wrong_key.stdout


def test_logins_against_a_pseudonymised_directory_need_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hr = tmp_path / "hr.csv"
    hr.write_text("user,department\nann,Sales\nbob,Sales\n")
    pseudonymised = tmp_path / "directory.csv"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ALIGNMON_PSEUDONYM_SECRET", SECRET)
        assert main(["directory", "pseudonymise", str(hr), str(pseudonymised)]) == 0
        events = write_events(tmp_path / "e.ndjson", {"Ann": 2, " bob ": 1})  # case and spaces do not matter
        assert main(["directory", "check", "--events", str(events), "--directory", str(pseudonymised)]) == 0
    capsys.readouterr()
    # The same check without the key cannot compare logins with pseudonyms.
    assert main(["directory", "check", "--events", str(events), "--directory", str(pseudonymised)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"alignmon: error: {events} carries logins and {pseudonymised} holds pseudonyms: comparing them needs the "
        "gateway's key; set ALIGNMON_PSEUDONYM_SECRET as the gateway has it and run again"
    ]


def test_a_login_with_a_domain_gets_a_hint_and_top_limits_the_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "d.csv"
    directory.write_text("user,department\nann,Sales\nbob,Sales\ncarol,Finance\n")
    events = write_events(
        tmp_path / "e.ndjson", {"ann": 5, "CORP\\bob": 4, "carol@example.org": 3, "svc-backup": 2, "dave": 1}
    )
    assert main(["directory", "check", "--events", str(events), "--directory", str(directory), "--top", "3"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{events}: 15 events of 5 users; {directory}: 3 people in 2 departments",
        "users that match no directory row, most events first:",
        "  CORP\\bob           4 events  (matches 'bob': the directory's user ids have no 'CORP\\')",
        "  carol@example.org  3 events  (matches 'carol': the directory's user ids have no '@example.org')",
        "  svc-backup         2 events",
        "  ... and 1 more users (1 events)",
        f"4 of 5 users (10 of 15 events) match no row of {directory}: their use counts in no department and no "
        "target population",
    ]
    assert main(["directory", "check", "--events", str(events), "--directory", str(directory), "--top", "0"]) == 1
    assert len(capsys.readouterr().out.splitlines()) == 2  # the file line and the summary


def test_since_counts_only_recent_events_gzip_and_stdin_are_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "d.csv"
    directory.write_text("user,department\nann,Sales\n")
    old = write_events(tmp_path / "old.ndjson", {"left.long.ago": 3}, day="2026-01-05")
    new = write_events(tmp_path / "new.ndjson", {"ann": 2}, day="2026-11-02")
    both = tmp_path / "both.ndjson.gz"
    both.write_bytes(gzip.compress(old.read_bytes() + new.read_bytes()))
    argv = ["directory", "check", "--events", str(both), "--directory", str(directory)]
    assert main(argv) == 1
    assert main([*argv, "--since", "2026-11-01"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-2:] == [
        f"{both}: 2 events of 1 users (3 earlier events skipped); {directory}: 1 people in 1 departments",
        f"all 1 users (2 events) match a row of {directory}",
    ]

    class Stdin:
        buffer = new.open("rb")

    monkeypatch.setattr("sys.stdin", Stdin)
    assert main(["directory", "check", "--events", "-", "--directory", str(directory)]) == 0
    Stdin.buffer.close()
    assert capsys.readouterr().out.startswith("<stdin>: 2 events of 1 users;")


# --- bad input: one line that names the problem ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("missing.ndjson", None, "cannot read {events}: No such file or directory"),
        ("empty.ndjson", "\n\n", "{events}: holds no events; expected one usage event"),
        ("text.ndjson", "hello\n", "{events}:1: not JSON ("),
        ("directory.ndjson", "user,department\nann,Sales\n", "{events}:1: not JSON ("),
        (
            "columns.ndjson",
            '{"user": "ann", "department": "Sales"}\n',
            "{events}:1: not a usage event: event_id: Field required (1 bad of 1 lines); expected one usage event",
        ),
        ("array.ndjson", '[{"user": "ann"}]\n', "{events}:1: not a usage event: (event): Input should be"),
        ("binary.ndjson", "\x00\x01\x02 not text\n", "{events}:1: not JSON ("),
    ],
)
def test_a_bad_events_file_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str | None, expected: str
) -> None:
    directory = tmp_path / "d.csv"
    directory.write_text("user,department\nann,Sales\n")
    events = tmp_path / name
    if content is not None:
        events.write_text(content)
    assert main(["directory", "check", "--events", str(events), "--directory", str(directory)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith("alignmon: error: " + expected.format(events=events)), line


def test_one_bad_line_among_good_ones_is_named_with_the_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "d.csv"
    directory.write_text("user,department\nann,Sales\n")
    events = write_events(tmp_path / "e.ndjson", {"ann": 3})
    lines = events.read_text().splitlines()
    lines.insert(1, json.dumps({**json.loads(lines[0]), "user": ""}))
    events.write_text("\n".join(lines) + "\n")
    assert main(["directory", "check", "--events", str(events), "--directory", str(directory)]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"alignmon: error: {events}:2: not a usage event: user: String should have at least 1")
    assert "(1 bad of 4 lines)" in line


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "{directory}: (file): cannot read: No such file or directory"),
        ("user,dept\nann,Sales\n", "{directory}:1: (header): missing column 'department'"),
    ],
)
def test_a_bad_directory_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, expected: str
) -> None:
    directory = tmp_path / "d.csv"
    if content is not None:
        directory.write_text(content)
    events = write_events(tmp_path / "e.ndjson", {"ann": 1})
    assert main(["directory", "check", "--events", str(events), "--directory", str(directory)]) == 1
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert captured.out == "" and line.startswith("alignmon: error: " + expected.format(directory=directory)), line


def test_without_a_directory_it_says_how_to_give_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = write_events(tmp_path / "e.ndjson", {"ann": 1})
    assert main(["directory", "check", "--events", str(events)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "alignmon: error: no directory to check against: pass --directory CSV or set ALIGNMON_DIRECTORY_CSV"
    ]


def test_the_directory_setting_is_the_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "d.csv"
    directory.write_text("user,department\nann,Sales\n")
    monkeypatch.setenv("ALIGNMON_DIRECTORY_CSV", str(directory))
    events = write_events(tmp_path / "e.ndjson", {"ann": 1})
    assert main(["directory", "check", "--events", str(events)]) == 0
    assert f"{directory}: 1 people" in capsys.readouterr().out


# --- the example in docs/catalog.md ---------------------------------------------------------------------------


def test_the_directory_check_example_in_the_docs_is_what_the_command_prints(alignmon: Any, tmp_path: Path) -> None:
    shutil.copy(MIDSIZE_DIRECTORY, tmp_path / "directory.csv")
    write_events(
        tmp_path / "events.ndjson",
        {"abecker": 40, "aberg": 25, "CORP\\abouzid": 12, "svc-backup": 30, "Administrator": 3},
    )
    command = "alignmon directory check --events events.ndjson --directory directory.csv"
    result = alignmon.run(command.split()[1:], {}, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    doc = (ROOT / "docs" / "catalog.md").read_text()
    block = doc.split("<!-- directory-check-example -->\n```text\n", 1)[1].split("```", 1)[0]
    assert block == f"$ {command}\n{result.stdout}"


# --- what the collectors send as user --------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "user"), [([], "jdoe"), (["--user", "ann.smith"], "ann.smith")])
def test_the_agent_sends_the_os_login_unless_given_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], user: str
) -> None:
    from alignmon.cli import build_parser
    from collectors.agent.commands import build_agent

    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):  # where the OS login comes from (getpass.getuser)
        monkeypatch.setenv(name, "jdoe")
    line = ["agent", "--gateway", "http://127.0.0.1:9", "--source", "activitywatch", "--device", "pc-1"]
    args = build_parser("agent").parse_args([*line, "--spool", str(tmp_path / "spool"), *argv])
    agent = build_agent(args, "token")
    try:
        assert [getattr(source, "user", None) for source in agent.sources] == [user]
    finally:
        agent.close()
