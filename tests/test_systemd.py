"""The systemd units of deploy/systemd/: `systemd-analyze verify` says nothing about them, their hardening keeps the
exposure low, they stop with SIGTERM within the graceful stop, the report runs quarterly as of the quarter's last
day, and every ALIGNMON_* name they and the env examples use is a setting whose example value parses."""

from __future__ import annotations

import itertools
import re
import shlex
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from base.settings import Settings
from collectors.gateway.workers import STOP_TIMEOUT_S
from tests.support.systemd import directives

ROOT = Path(__file__).resolve().parents[1]
SYSTEMD = ROOT / "deploy" / "systemd"
INSTALLED = "/opt/alignmon/bin/alignmon"  # where the units expect the console script (a venv in /opt/alignmon)
SERVICES = ("alignmon-gateway.service", "alignmon-pipeline.service", "alignmon-report.service")
UNITS = (*SERVICES, "alignmon-report.timer")
ENV_EXAMPLES = ("alignmon.env.example", "gateway.env.example", "pipeline.env.example")
HARDENING = {
    "NoNewPrivileges": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "StateDirectory": "alignmon",
    "CapabilityBoundingSet": "",
    "RestrictNamespaces": "yes",
    "SystemCallArchitectures": "native",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectClock": "yes",
    "StateDirectoryMode": "0750",
    "UMask": "0027",
}


def _tool(name: str) -> str:
    path = shutil.which(name) or f"/usr/bin/{name}"
    if not Path(path).exists():
        pytest.skip(f"{name} is not installed (the systemd package)")
    return path


def values(unit: str, key: str) -> list[str]:
    return [value for _, k, value in directives(SYSTEMD / unit) if k == key]


def value(unit: str, key: str) -> str:
    found = values(unit, key)
    assert len(found) == 1, (unit, key, found)
    return found[0]


def seconds(span: str) -> float:
    """A systemd time span as used here: 60, 60s, 2min, 1min 30s."""
    units = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", span)
    assert parts, span
    return sum(float(n) * units[u] for n, u in parts)


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    """The units copied to a folder, ExecStart pointing at this venv's `alignmon` (verify checks that it exists)."""
    alignmon = Path(sys.executable).parent / "alignmon"
    assert alignmon.exists(), f"{alignmon}: install the package (pip install -e .)"
    for unit in UNITS:
        text = (SYSTEMD / unit).read_text()
        (tmp_path / unit).write_text(text.replace(INSTALLED, str(alignmon)))
    return tmp_path


def verify(folder: Path, *units: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_tool("systemd-analyze"), "verify", *(f"./{u}" for u in units)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_systemd_analyze_verify_says_nothing_about_the_units(installed: Path) -> None:
    result = verify(installed, *UNITS)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_systemd_analyze_verify_speaks_up_about_a_broken_unit(installed: Path) -> None:
    """The test above can fail: verify reports a misspelt option (with exit status 0) and a missing ExecStart."""
    unit = installed / "alignmon-gateway.service"
    unit.write_text(unit.read_text().replace("KillMode=mixed", "KillMode=mixd"))
    assert "Failed to parse kill mode" in verify(installed, unit.name).stderr
    unit.write_text(unit.read_text().replace(str(Path(sys.executable).parent / "alignmon"), "/nonexistent/alignmon"))
    result = verify(installed, unit.name)
    assert result.returncode != 0 and "/nonexistent/alignmon" in result.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_is_hardened_and_reads_the_shared_settings(service: str) -> None:
    for key, expected in HARDENING.items():
        assert value(service, key) == expected, key
    assert value(service, "User") == value(service, "Group") == "alignmon"
    assert values(service, "SystemCallFilter") == ["@system-service", "~@privileged"]
    assert not set(value(service, "RestrictAddressFamilies").split()) - {"AF_UNIX", "AF_INET", "AF_INET6"}
    if service == "alignmon-report.service":  # it reads and writes files only
        assert (value(service, "RestrictAddressFamilies"), value(service, "PrivateNetwork")) == ("AF_UNIX", "yes")
    assert values(service, "EnvironmentFile")[0] == "/etc/alignmon/alignmon.env"
    assert value(service, "ExecStart").split()[0] in {INSTALLED, "/bin/sh"}


@pytest.mark.parametrize("service", ["alignmon-gateway.service", "alignmon-pipeline.service"])
def test_the_long_running_services_restart_on_failure_and_stop_with_sigterm_in_time(service: str) -> None:
    assert (value(service, "Restart"), value(service, "RestartSec")) == ("on-failure", "5s")
    assert value(service, "KillSignal") == "SIGTERM"
    assert value(service, "KillMode") == "mixed"  # the main process stops its workers itself
    assert value(service, "ExecStart") == f"{INSTALLED} {service.removeprefix('alignmon-').removesuffix('.service')}"
    assert value(service, "WorkingDirectory") == "/var/lib/alignmon"


def test_the_gateway_unit_waits_longer_than_the_gateway_waits_for_its_workers() -> None:
    # A worker gets STOP_TIMEOUT_S to stop before the supervisor kills it and exits 1; systemd's SIGKILL comes later.
    assert seconds(value("alignmon-gateway.service", "TimeoutStopSec")) >= STOP_TIMEOUT_S + 15
    assert seconds(value("alignmon-pipeline.service", "TimeoutStopSec")) >= 60
    assert value("alignmon-gateway.service", "LimitNOFILE") == "65536"  # ALIGNMON_GATEWAY_MAX_CONNECTIONS and more


def test_only_the_gateway_gets_the_pseudonym_key() -> None:
    assert values("alignmon-gateway.service", "EnvironmentFile") == [
        "/etc/alignmon/alignmon.env",
        "/etc/alignmon/gateway.env",
    ]
    assert values("alignmon-pipeline.service", "EnvironmentFile") == [
        "/etc/alignmon/alignmon.env",
        "-/etc/alignmon/pipeline.env",
    ]
    assert values("alignmon-report.service", "EnvironmentFile") == ["/etc/alignmon/alignmon.env"]
    assert "ALIGNMON_PSEUDONYM_SECRET" not in (SYSTEMD / "alignmon.env.example").read_text()
    assert "ALIGNMON_PSEUDONYM_SECRET" not in (SYSTEMD / "pipeline.env.example").read_text()


def test_the_units_exposure_is_low(installed: Path) -> None:
    for service in SERVICES:
        result = subprocess.run(
            [_tool("systemd-analyze"), "security", "--offline=yes", f"./{service}"],
            cwd=installed,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        level = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout)
        assert level is not None, result.stdout + result.stderr
        assert float(level.group(1)) <= 2.0, (service, result.stdout)


def _fires(calendar: str) -> list[date]:
    result = subprocess.run(
        [_tool("systemd-analyze"), "calendar", "--iterations=5", calendar],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [
        date.fromisoformat(d) for d in re.findall(r"(?:Next elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d)", result.stdout)
    ]


def test_the_report_timer_fires_each_quarter_and_its_monthly_example_each_months_last_day() -> None:
    quarterly = _fires(value("alignmon-report.timer", "OnCalendar"))
    assert len(quarterly) == 5
    assert all(d.day == 1 and d.month in (1, 4, 7, 10) for d in quarterly)
    assert [(b.year * 12 + b.month) - (a.year * 12 + a.month) for a, b in itertools.pairwise(quarterly)] == [3] * 4
    assert value("alignmon-report.timer", "Persistent") == "true"
    text = (SYSTEMD / "alignmon-report.timer").read_text()
    monthly = _fires(re.findall(r"^#OnCalendar=(.+)$", text, re.M)[0])
    assert all((d + timedelta(days=1)).day == 1 for d in monthly)


def _report_command(day_spec: str, exec_start: str) -> list[str]:
    """The arguments the report unit's command gives `alignmon`, run by sh with `echo` in its place."""
    # systemd turns %% into % and $$ into $, then splits the line as a shell would (quotes group).
    argv = shlex.split(exec_start.replace("%%", "%").replace("$$", "$").replace(INSTALLED, "echo"))
    result = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env={"REPORT_DAY": day_spec, "PATH": "/usr/bin:/bin"},
    )
    return result.stdout.split()


def test_the_report_is_as_of_the_day_before_the_run_or_today_when_asked() -> None:
    assert value("alignmon-report.service", "Environment") == "REPORT_DAY=yesterday"
    exec_start = value("alignmon-report.service", "ExecStart")
    for spec, back in (("yesterday", 1), ("today", 0)):
        first = date.today()
        args = _report_command(spec, exec_start)
        days = {(d - timedelta(days=back)).isoformat() for d in (first, date.today())}  # midnight may pass meanwhile
        assert args[2] in days, (spec, args)
        assert args == ["report", "--as-of", args[2], "--out", f"/var/lib/alignmon/reports/steering-{args[2]}.html"]


def _names(text: str) -> set[str]:
    return set(re.findall(r"\bALIGNMON_[A-Z0-9_]+", text))


def test_every_alignmon_name_the_units_and_env_examples_use_is_a_setting() -> None:
    known = {f"ALIGNMON_{field.upper()}" for field in Settings.model_fields}
    used = set()
    for path in sorted(SYSTEMD.iterdir()):
        used |= _names(path.read_text())
    assert {"ALIGNMON_STATE_DIR", "ALIGNMON_KAFKA_BOOTSTRAP", "ALIGNMON_PSEUDONYM_SECRET"} <= used
    assert sorted(used - known) == []


def env_file(name: str) -> dict[str, str]:
    """NAME=value lines of an env example (systemd's EnvironmentFile= syntax as the examples use it)."""
    pairs = {}
    for line in (SYSTEMD / name).read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, val = line.partition("=")
            assert sep and re.fullmatch(r"[A-Z][A-Z0-9_]*", key), line
            pairs[key] = val
    return pairs


def test_the_env_examples_values_parse_as_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(Settings.model_fields):
        monkeypatch.delenv(f"ALIGNMON_{name.upper()}", raising=False)
    merged: dict[str, str] = {}
    for name in ENV_EXAMPLES:
        merged |= env_file(name)
    # The commented lines are examples too: uncommented, they parse as well.
    for name in ENV_EXAMPLES:
        for line in (SYSTEMD / name).read_text().splitlines():
            if re.match(r"#ALIGNMON_[A-Z0-9_]+=", line):
                key, _, val = line[1:].partition("=")
                merged.setdefault(key, val)
    for key, val in merged.items():
        monkeypatch.setenv(key, val)
    settings = Settings()
    assert settings.state_dir == Path("/var/lib/alignmon")
    assert settings.token_db == Path("/var/lib/alignmon/tokens.sqlite")  # every state path under the state directory
    assert settings.duckdb_path.parent == settings.spool_dir.parent == Path("/var/lib/alignmon")
    assert (settings.gateway_port, settings.exporter_port) == (8700, 9708)


def test_the_sysusers_entry_creates_the_units_user(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    result = subprocess.run(
        [_tool("systemd-sysusers"), f"--root={tmp_path}", "--dry-run", str(SYSTEMD / "alignmon.sysusers")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Creating user 'alignmon'" in result.stdout + result.stderr
