"""docs/deploy.md, run: every ```sh block of the guide, in order, as an operator would, from empty folders to a report.

Each block runs in its own bash (`set -euo pipefail`), as root's shell would, in a working folder holding the site's
files (a certificate for the gateway from a throwaway CA, HR's export, the devices list, a pilot's osquery log), with
a clean environment: no ALIGNMON_* variable, so every setting a command needs comes from what the guide wrote.
Production-like: TLS at the gateway, the env files of deploy/systemd/, the pseudonym key in gateway.env only, the
midsize catalog with a pseudonymised directory, the shipped thresholds, Prometheus scraping the gateway over https.

The guide's text is mapped to this run before each block runs, and so are the env files it installs in /etc/alignmon:
- /etc/alignmon, /etc/systemd/system, /etc/prometheus, /etc/grafana, /var/lib/alignmon, /var/lib/grafana,
  /var/lib/prometheus, /var/backups/alignmon and /opt/alignmon: the same paths under a temporary root, which starts
  with the folders a Debian machine has (/etc/systemd/system, /var/lib, /var/backups, /opt) and gets those of the
  Prometheus and Grafana packages before step 7; /srv/alignmon (the checkout): a copy of this repository's files
  there (no .git, virtualenv or caches), so pip's build leaves nothing in the repository. Any other absolute path in
  a block (but /dev/null) stops the test before the block runs.
- kafka-N.example.org:9092,...: the session's broker (`kafka_bootstrap`); the topic prefix alignmon.usage: a fresh one.
- gateway.example.org:8700, pipeline.example.org:9708, localhost:9090 (Prometheus), localhost:9093 (Alertmanager):
  127.0.0.1 on free ports (the gateway's certificate names 127.0.0.1); 0.0.0.0 in the env files: 127.0.0.1.
- the owners root, alignmon and prometheus (`install -o/-g`): this test's user; `runuser -u alignmon --`: nothing.
- Prometheus's scrape and evaluation interval 30s: 1s, so the test sees the targets within seconds.
- python3 is the interpreter of this test's virtualenv; PYTHONPATH gives the new /opt/alignmon that virtualenv's
  libraries, so `pip install` builds and installs alignmon itself (fetching only its build tool from PyPI).
- SMTP_PASSWORD, which step 7 expects in the operator's shell, is set.

Stand-ins on PATH: `systemctl` and Kafka's `kafka-topics.sh` ask this test, which does what they would:
- `systemctl enable --now|start|restart UNIT` of an alignmon service starts the unit's ExecStart, parsed from the
  installed unit file (which must equal deploy/systemd/'s), with its EnvironmentFile= and Environment= settings,
  WorkingDirectory=, StateDirectory= (created 0750) and UMask=, and returns once it runs (Type=exec); `stop` sends
  SIGTERM and expects exit status 0. The hardening options are not applied (tests/test_systemd.py checks them).
- `systemctl enable --now alignmon-report.timer` runs alignmon-report.service's ExecStart once, at once, as the
  timer's next run would: REPORT_DAY (`yesterday` on a quarter's first day) is the last quarter's end. TZ is
  ALIGNMON_TIMEZONE, the machine's time zone as step 3 asks.
- prometheus and prometheus-alertmanager are started as Debian's units run them (their default configuration file
  paths), on their free ports; Alertmanager without clustering. Grafana is not installed on the test machines: its
  restart is recorded, and the test checks the provisioning the step wrote (the datasource's URL answers queries, the
  dashboards are in the provider's folder).
- `kafka-topics.sh --create` creates the topic on the session's broker with replication 1 (one broker) and the
  `--config` values given; the requested replication is kept for the assertions.

A block marked `(checked by tests/...py::test_x)` is not run: it creates users, needs Ansible's hosts, builds the agent
file or starts a second broker; the named test runs that command, and must exist. At the end every service is stopped
with SIGTERM and each alignmon service must have exited 0 every time it was stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import trustme
import yaml

from alignment.report import previous_quarter_end
from alignmon.stack.process import free_port
from alignmon.stack.stack import KAFKA_RETENTION_DAYS
from base.settings import Settings
from tests.support.systemd import directives

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "deploy.md"
SYSTEMD = ROOT / "deploy" / "systemd"
MARKER = re.compile(
    r"<!-- step: (?P<name>[a-z0-9-]+)(?: \(checked by (?P<path>tests/[\w/]+\.py)::(?P<test>test_\w+)\))? -->"
)
SHELLS = {"sh", "bash", "shell", "console", "zsh"}  # a command block in any of these must be ```sh, and marked
MAPPED = (
    "/etc/alignmon",
    "/etc/systemd/system",
    "/etc/prometheus",
    "/etc/grafana",
    "/var/lib/alignmon",
    "/var/lib/grafana",
    "/var/lib/prometheus",
    "/var/backups/alignmon",
    "/opt/alignmon",
    "/srv/alignmon",
)
# Left out of the copy of the checkout: history, virtualenvs, build output and caches.
NOT_IN_THE_CHECKOUT = (
    ".git",
    ".venv",
    ".alignmon",
    ".hypothesis",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*cache",
)
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PILOT, PILOT_USER = "laptop-0142", "abecker"


@dataclass(frozen=True)
class Step:
    name: str
    script: str
    line: int
    checked_by: tuple[str, str] | None = None  # (tests/...py, test_...) that runs this block's command instead


class GuideError(ValueError):
    """The guide breaks the rule that every command block is a marked step."""


def steps(text: str, name: str = "docs/deploy.md") -> list[Step]:
    """The guide's ```sh blocks, in order, each with the `<!-- step: NAME -->` marker on the line before it."""
    lines = text.splitlines()
    found: list[Step] = []
    pending: tuple[re.Match[str], int] | None = None
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if marker := MARKER.fullmatch(stripped):
            if pending is not None:
                raise GuideError(f"{name}:{pending[1] + 1}: a step marker without a ```sh block after it")
            pending = (marker, i)
        elif stripped.startswith("<!-- step"):
            raise GuideError(f"{name}:{i + 1}: not a step marker: {stripped}")
        elif stripped.startswith("```"):
            lang = stripped[3:].strip()
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip().startswith("```")), None)
            if end is None:
                raise GuideError(f"{name}:{i + 1}: a block that never ends")
            if lang in SHELLS:
                if lang != "sh":
                    raise GuideError(f"{name}:{i + 1}: a ```{lang} block: commands go in ```sh blocks, with a marker")
                if pending is None or pending[1] != i - 1:
                    raise GuideError(f"{name}:{i + 1}: a ```sh block without a <!-- step: NAME --> marker before it")
                marker, _ = pending
                checked = (marker["path"], marker["test"]) if marker["path"] else None
                found.append(Step(marker["name"], "\n".join(lines[i + 1 : end]) + "\n", i + 2, checked))
                pending = None
            elif pending is not None:
                raise GuideError(f"{name}:{pending[1] + 1}: a step marker before a ```{lang} block")
            i = end + 1
            continue
        i += 1
    if pending is not None:
        raise GuideError(f"{name}:{pending[1] + 1}: a step marker without a ```sh block after it")
    names = [s.name for s in found]
    if len(set(names)) != len(names):
        raise GuideError(f"{name}: step names repeat: {sorted(n for n in names if names.count(n) > 1)}")
    return found


def guide_steps() -> list[Step]:
    return steps(GUIDE.read_text())


# -- what the guide is held to without a broker ---------------------------------------------------------------------


def test_every_command_block_of_the_guide_is_a_marked_step() -> None:
    found = guide_steps()  # raises GuideError on a block without its marker
    assert len(found) >= 15 and sum(s.checked_by is None for s in found) >= 12


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("intro\n\n```sh\nrm -rf /\n```\n", "without a <!-- step: NAME --> marker"),
        ("<!-- step: a -->\n\n```sh\ntrue\n```\n", "without a <!-- step: NAME --> marker"),
        ("<!-- step: a -->\n```bash\ntrue\n```\n", "commands go in ```sh blocks"),
        ("<!-- step: a -->\n```text\nout\n```\n", "a step marker before a ```text block"),
        ("<!-- step: a -->\ntext\n", "without a ```sh block after it"),
        ("<!-- step: Bad Name -->\n```sh\ntrue\n```\n", "not a step marker"),
        ("<!-- step: a -->\n```sh\ntrue\n```\n<!-- step: a -->\n```sh\ntrue\n```\n", "step names repeat"),
    ],
)
def test_an_unmarked_or_misplaced_block_fails_the_guide(text: str, message: str) -> None:
    with pytest.raises(GuideError, match=re.escape(message)):
        steps(text)


def test_the_tests_named_for_the_steps_not_run_here_exist() -> None:
    checked = [s.checked_by for s in guide_steps() if s.checked_by is not None]
    assert checked, "no step names a test"
    for path, name in checked:
        assert re.search(rf"^def {name}\(", (ROOT / path).read_text(), re.M), f"{path}::{name} does not exist"


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    out = set()
    for heading in re.findall(r"^#{1,6} (.+)$", markdown, re.M):
        out.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return out


def test_the_guides_links_reach_their_files_and_sections() -> None:
    text = GUIDE.read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links
    for link in links:
        if link.startswith(("http://", "https://")):
            continue
        target, _, anchor = link.partition("#")
        path = (GUIDE.parent / target).resolve() if target else GUIDE
        assert path.exists(), link
        if anchor:
            assert anchor in _anchors(path.read_text()), f"{link}: no such section"


def test_the_agent_service_files_point_at_the_gateway_port_the_env_example_sets() -> None:
    port = re.search(r"^ALIGNMON_GATEWAY_PORT=(\d+)$", (SYSTEMD / "alignmon.env.example").read_text(), re.M)
    assert port is not None
    for path in sorted((ROOT / "deploy" / "agent").iterdir()):
        urls = re.findall(r"https://gateway\.example\.org:(\d+)", path.read_text())
        assert urls and set(urls) == {port[1]}, (path.name, urls)


# -- the run --------------------------------------------------------------------------------------------------------


@dataclass
class Site:
    """The mapping of the guide's paths, hosts, ports, users and topics to this run (the module docstring)."""

    root: Path
    bootstrap: str
    topic: str
    uid: int = field(default_factory=os.getuid)
    gid: int = field(default_factory=os.getgid)
    gateway_port: int = field(default_factory=free_port)
    exporter_port: int = field(default_factory=free_port)
    prometheus_port: int = field(default_factory=free_port)
    alertmanager_port: int = field(default_factory=free_port)

    def path(self, guide_path: str) -> Path:
        assert guide_path.startswith(MAPPED), guide_path
        return Path(f"{self.root}{guide_path}")

    def _paths(self, text: str) -> str:
        alternatives = "|".join(re.escape(p) for p in MAPPED)
        return re.sub(rf"(?<![\w./-])({alternatives})(?![\w.-])", lambda m: f"{self.root}{m[1]}", text)

    def text(self, text: str) -> str:
        """Hosts, ports, topics and paths, as in commands and in the files the steps install."""
        text = re.sub(r"kafka-\d\.example\.org:9092(?:,kafka-\d\.example\.org:9092)*", self.bootstrap, text)
        for host, port in (
            ("gateway.example.org:8700", self.gateway_port),
            ("pipeline.example.org:9708", self.exporter_port),
            ("localhost:9090", self.prometheus_port),
            ("localhost:9093", self.alertmanager_port),
        ):
            text = text.replace(host, f"127.0.0.1:{port}")
        text = re.sub(r"\balignmon\.usage\b", self.topic, text)
        return self._paths(text)

    def commands(self, script: str) -> str:
        script = self.text(script)
        script = script.replace("runuser -u alignmon -- ", "")
        script = re.sub(r"-o (?:root|alignmon|prometheus) ", f"-o {self.uid} ", script)
        script = re.sub(r"-g (?:root|alignmon|prometheus) ", f"-g {self.gid} ", script)
        script = re.sub(r"^(\s*(?:scrape|evaluation)_interval:) 30s$", r"\1 1s", script, flags=re.M)
        return script

    def env_file(self, text: str) -> str:
        text = self.text(text)
        text = re.sub(r"^ALIGNMON_GATEWAY_PORT=8700$", f"ALIGNMON_GATEWAY_PORT={self.gateway_port}", text, flags=re.M)
        text = re.sub(
            r"^ALIGNMON_EXPORTER_PORT=9708$", f"ALIGNMON_EXPORTER_PORT={self.exporter_port}", text, flags=re.M
        )
        return re.sub(r"^(ALIGNMON_\w+_HOST)=0\.0\.0\.0$", r"\1=127.0.0.1", text, flags=re.M)

    def outside(self, script: str) -> list[str]:
        """Absolute paths in a mapped block that are neither under the temporary root nor /dev/null."""
        paths = re.findall(r"(?:^|(?<=[\s\"'=(<>|,\[]))(/[A-Za-z][^\s\"'|;)<>,\]]*)", script, re.M)
        return [p for p in paths if not p.startswith(f"{self.root}/") and p != "/dev/null"]


def read_env_file(path: Path) -> dict[str, str]:
    """systemd's EnvironmentFile= syntax as the env files use it: NAME=value lines, # and ; comments."""
    pairs = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path}: {raw!r}"
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        pairs[key.strip()] = value
    return pairs


def systemd_unescape(value: str) -> str:
    """ExecStart= as systemd passes it on: %% and $$ become % and $ (the units use no other specifier)."""
    assert not re.search(r"%[^%]", value.replace("%%", "")), f"a specifier the test does not know: {value}"
    return value.replace("%%", "%").replace("$$", "$")


@dataclass
class Unit:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    stop_timeout_s: float


class Machine:
    """systemd's and Kafka's tools' part of the guide, done on this machine as the module docstring says."""

    def __init__(self, site: Site, logs: Path, deps: str) -> None:
        self.site = site
        self.logs = logs
        self.deps = deps
        self.running: dict[str, Unit] = {}
        self.order: list[str] = []
        self.exits: dict[str, list[int]] = {}
        self.topics: list[dict[str, Any]] = []
        self.reports: list[subprocess.CompletedProcess[str]] = []
        self.grafana_restarts = 0

    def handle(self, argv: list[str]) -> tuple[int, str]:
        tool, *args = argv
        try:
            if tool == "systemctl":
                return 0, self.systemctl(args)
            if tool == "kafka-topics.sh":
                return 0, self.kafka_topics(args)
            return 1, f"{tool}: not a tool of the test's machine"
        except (AssertionError, OSError, subprocess.SubprocessError, ValueError) as exc:
            return 1, f"{tool} {' '.join(args)}: {exc}\n"

    # -- systemctl

    def systemctl(self, args: list[str]) -> str:
        verb, *rest = args
        units = [u if "." in u else f"{u}.service" for u in rest if not u.startswith("-")]
        flags = {u for u in rest if u.startswith("-")}
        if verb == "daemon-reload" and not rest:
            return ""
        if verb == "enable" and flags <= {"--now"}:
            if "--now" in flags:
                for unit in units:
                    self.start(unit)
            return ""
        if verb in ("start", "restart", "reload") and not flags:
            for unit in units:
                if verb != "start" and unit in self.running:
                    self.stop(unit)
                self.start(unit)
            return ""
        if verb == "stop" and not flags:
            for unit in units:
                self.stop(unit)
            return ""
        raise ValueError(f"`systemctl {' '.join(args)}` is not something this test does")

    def start(self, unit: str) -> None:
        assert unit not in self.running, f"{unit} is running already"
        if unit in ("alignmon-gateway.service", "alignmon-pipeline.service"):
            argv, env, cwd, umask = self._service(unit)
            timeout = self._stop_timeout(unit)
            self._spawn(unit, argv, env, cwd, umask, timeout)
        elif unit == "alignmon-report.timer":
            self._installed(unit)
            zone = ZoneInfo(read_env_file(self.site.path("/etc/alignmon/alignmon.env"))["ALIGNMON_TIMEZONE"])
            self.run_report(report_day=previous_quarter_end(datetime.now(zone).date()).isoformat())
        elif unit == "alignmon-report.service":
            self.run_report(report_day=None)
        elif unit == "prometheus.service":
            self._spawn(unit, self._prometheus(), None, None, 0o022, 20)
        elif unit == "prometheus-alertmanager.service":
            self._spawn(unit, self._alertmanager(), None, None, 0o022, 20)
        elif unit == "grafana-server.service":
            self.grafana_restarts += 1
        else:
            raise ValueError(f"{unit}: a unit the guide does not install")

    def stop(self, unit: str) -> None:
        if unit == "grafana-server.service":
            return
        running = self.running.pop(unit)
        running.proc.send_signal(signal.SIGTERM)
        try:
            code = running.proc.wait(timeout=running.stop_timeout_s)
        except subprocess.TimeoutExpired:
            running.proc.kill()
            code = running.proc.wait()
        self.exits.setdefault(unit, []).append(code)
        assert code == 0, f"{unit} exited {code} after SIGTERM; its log:\n{_tail(running.log)}"

    def stop_all(self) -> None:
        for unit in reversed(self.order):
            if unit in self.running:
                with contextlib.suppress(AssertionError):  # recorded in self.exits; the test asserts on it
                    self.stop(unit)

    def _installed(self, unit: str) -> Path:
        installed = self.site.path("/etc/systemd/system") / unit
        assert installed.read_bytes() == (SYSTEMD / unit).read_bytes(), f"{installed} is not deploy/systemd's {unit}"
        return installed

    def _service(self, unit: str) -> tuple[list[str], dict[str, str], Path, int]:
        """ExecStart's argv, the environment, working directory and umask the unit gives its process."""
        lines = [(k, v) for section, k, v in directives(self._installed(unit)) if section == "Service"]
        one = {k: v for k, v in lines}
        state = self.site.path(f"/var/lib/{one['StateDirectory']}")
        state.mkdir(parents=True, exist_ok=True)
        state.chmod(int(one["StateDirectoryMode"], 8))
        env = {
            "PATH": SYSTEM_PATH,
            "LANG": "C.UTF-8",
            "HOME": str(state),
            "USER": one["User"],
            "LOGNAME": one["User"],
            "STATE_DIRECTORY": str(state),
            "PYTHONPATH": self.deps,
        }
        for key, value in lines:
            if key == "Environment":
                name, _, val = value.partition("=")
                env[name] = val
        for key, value in lines:
            if key == "EnvironmentFile":
                optional = value.startswith("-")
                path = self.site.path(value.removeprefix("-"))
                if path.exists():
                    env |= read_env_file(path)
                else:
                    assert optional, f"{unit}: {value} is missing, and systemd would not start the unit"
        argv = [self.site.text(word) for word in shlex.split(systemd_unescape(one["ExecStart"]))]
        cwd = self.site.path(one["WorkingDirectory"])
        return argv, env, cwd, int(one["UMask"], 8)

    def _stop_timeout(self, unit: str) -> float:
        value = next(v for s, k, v in directives(self._installed(unit)) if k == "TimeoutStopSec")
        return float(value.removesuffix("s"))

    def _spawn(
        self, unit: str, argv: list[str], env: dict[str, str] | None, cwd: Path | None, umask: int, stop_s: float
    ) -> None:
        log = self.logs / f"{unit}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, umask=umask
            )
        self.running[unit] = Unit(unit, proc, log, stop_s)
        self.order.append(unit)

    def run_report(self, report_day: str | None) -> None:
        argv, env, cwd, umask = self._service("alignmon-report.service")
        if report_day is not None:
            env["REPORT_DAY"] = report_day
        env["TZ"] = read_env_file(self.site.path("/etc/alignmon/alignmon.env"))["ALIGNMON_TIMEZONE"]
        done = subprocess.run(
            argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=300, umask=umask, check=False
        )
        self.reports.append(done)
        assert done.returncode == 0, f"alignmon-report.service failed:\n{done.stdout}{done.stderr}"

    def _prometheus(self) -> list[str]:
        binary = shutil.which("prometheus")
        assert binary, "prometheus is not installed (the Debian package prometheus)"
        return [
            binary,
            f"--config.file={self.site.path('/etc/prometheus/prometheus.yml')}",
            f"--storage.tsdb.path={self.site.path('/var/lib/prometheus/metrics2')}",
            f"--web.listen-address=127.0.0.1:{self.site.prometheus_port}",
        ]

    def _alertmanager(self) -> list[str]:
        binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        assert binary, "alertmanager is not installed (the Debian package prometheus-alertmanager)"
        return [
            binary,
            f"--config.file={self.site.path('/etc/prometheus/alertmanager.yml')}",
            f"--storage.path={self.site.path('/var/lib/prometheus/alertmanager')}",
            f"--web.listen-address=127.0.0.1:{self.site.alertmanager_port}",
            "--cluster.listen-address=",
        ]

    # -- kafka-topics.sh

    def kafka_topics(self, args: list[str]) -> str:
        import argparse

        from kafka import KafkaAdminClient
        from kafka.admin import NewTopic
        from kafka.errors import TopicAlreadyExistsError

        parser = argparse.ArgumentParser(prog="kafka-topics.sh", exit_on_error=False)
        parser.add_argument("--bootstrap-server", required=True)
        parser.add_argument("--create", action="store_true", required=True)
        parser.add_argument("--if-not-exists", action="store_true")
        parser.add_argument("--topic", required=True)
        parser.add_argument("--partitions", type=int, required=True)
        parser.add_argument("--replication-factor", type=int, required=True)
        parser.add_argument("--config", action="append", default=[])
        options = parser.parse_args(args)
        assert options.bootstrap_server in self.site.bootstrap.split(","), options.bootstrap_server
        configs = dict(item.split("=", 1) for item in options.config)
        admin = KafkaAdminClient(bootstrap_servers=self.site.bootstrap, request_timeout_ms=10000)
        try:
            admin.create_topics([NewTopic(options.topic, options.partitions, 1, topic_configs=configs)])
        except TopicAlreadyExistsError:
            if not options.if_not_exists:
                raise ValueError(f"topic {options.topic} exists") from None
        finally:
            admin.close()
        self.topics.append(
            {
                "topic": options.topic,
                "partitions": options.partitions,
                "replication": options.replication_factor,
                "configs": configs,
            }
        )
        return f"Created topic {options.topic}.\n"


SHIM = """#!/usr/bin/env bash
# {name} for tests/test_deploy_guide.py: asks the test to do what it would do, and waits for its answer.
set -euo pipefail
request="{requests}/$(date +%s%N)-$$"
printf '%s\\0' "{name}" "$@" > "$request.tmp"
mv "$request.tmp" "$request.req"
until [ -e "$request.rc" ]; do sleep 0.02; done
cat "$request.out"
exit "$(cat "$request.rc")"
"""


@dataclass
class Operator:
    """Runs the guide's blocks as an operator's root shell would, answering the stand-ins while a block runs."""

    site: Site
    machine: Machine
    work: Path
    env: dict[str, str]
    requests: Path
    logs: Path
    outputs: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def run(self, step: Step, timeout_s: float = 240.0) -> str:
        began = time.monotonic()
        script = self.site.commands(step.script)
        outside = self.site.outside(script)
        assert not outside, f"step {step.name}: paths outside the test's root: {outside}"
        path = self.logs / f"step-{step.name}.sh"
        path.write_text("set -euo pipefail\n" + script)
        log = self.logs / f"step-{step.name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                ["bash", str(path)], cwd=self.work, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
            deadline = time.monotonic() + timeout_s
            while proc.poll() is None:
                self._answer()
                if time.monotonic() > deadline:
                    proc.kill()
                    proc.wait()
                    pytest.fail(f"step {step.name} (docs/deploy.md:{step.line}) timed out; output:\n{_tail(log)}")
                time.sleep(0.02)
            self._answer()
        output = log.read_text(errors="replace")
        assert proc.returncode == 0, f"step {step.name} (docs/deploy.md:{step.line}) failed:\n{output[-4000:]}"
        self._map_installed_env_files()
        self.outputs[step.name] = output
        self.seconds[step.name] = round(time.monotonic() - began, 1)
        return output

    def _answer(self) -> None:
        for request in sorted(self.requests.glob("*.req")):
            argv = [part.decode() for part in request.read_bytes().split(b"\0")[:-1]]
            code, out = self.machine.handle(argv)
            stem = request.with_suffix("")
            Path(f"{stem}.out").write_text(out)
            Path(f"{stem}.rc.tmp").write_text(str(code))
            Path(f"{stem}.rc.tmp").rename(f"{stem}.rc")
            request.unlink()

    def _map_installed_env_files(self) -> None:
        folder = self.site.path("/etc/alignmon")
        for path in sorted(folder.glob("*.env")) if folder.exists() else []:
            text = path.read_text()
            if (mapped := self.site.env_file(text)) != text:
                path.write_text(mapped)


def _tail(path: Path, chars: int = 4000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


def _site_files(work: Path, now: datetime) -> None:
    """What the operator brings: the gateway's certificate from the site's CA, HR's export, devices, a pilot's log."""
    ca = trustme.CA()
    issued = ca.issue_cert("gateway.example.org", "127.0.0.1")
    issued.cert_chain_pems[0].write_to_path(str(work / "gateway.pem"))
    issued.private_key_pem.write_to_path(str(work / "gateway.key"))
    ca.cert_pem.write_to_path(str(work / "ca.pem"))
    shutil.copy(ROOT / "catalog" / "midsize" / "directory.csv", work / "hr-directory.csv")
    (work / "devices.csv").write_text(
        f"device,serial,owner\n{PILOT},C02XK1ABJG5H,{PILOT_USER}\ndesk-0017,5CG1X,aberg\n"
    )
    apps = [
        ("com.microsoft.teams2", "Microsoft Teams.app"),
        ("com.microsoft.Excel", "Microsoft Excel.app"),
        ("com.salesforce.chatter", "Salesforce.app"),
    ]
    lines = []
    for n, (bundle, name) in enumerate(apps):
        opened = now - timedelta(hours=n + 1)
        columns = {
            "bundle_identifier": bundle,
            "last_opened_time": str(int(opened.timestamp())),
            "name": name,
            "path": f"/Applications/{name}",
        }
        lines.append(
            json.dumps(
                {
                    "action": "added",
                    "columns": columns,
                    "name": "apps_last_opened",
                    "hostIdentifier": PILOT,
                    "calendarTime": now.strftime("%a %b %d %H:%M:%S %Y UTC"),
                    "unixTime": str(int(now.timestamp())),
                    "epoch": "0",
                    "counter": str(n + 1),
                }
            )
        )
    (work / f"{PILOT}-osquery.log").write_text("\n".join(lines) + "\n")


@pytest.fixture
def operator(tmp_path: Path, kafka_bootstrap: str) -> Iterator[Operator]:
    site = Site(root=tmp_path / "root", bootstrap=kafka_bootstrap, topic=f"deploy-{uuid.uuid4().hex[:10]}.usage")
    work, home, logs, bin_dir, requests = (tmp_path / d for d in ("work", "home", "logs", "bin", "requests"))
    for folder in (site.root, work, home, logs, bin_dir, requests):
        folder.mkdir(parents=True)
    for system in ("etc/systemd/system", "var/lib", "var/backups", "opt"):  # what any Debian machine has
        (site.root / system).mkdir(parents=True)
    shutil.copytree(ROOT, site.path("/srv/alignmon"), ignore=shutil.ignore_patterns(*NOT_IN_THE_CHECKOUT))
    for tool in ("systemctl", "kafka-topics.sh"):
        (bin_dir / tool).write_text(SHIM.format(name=tool, requests=requests))
        (bin_dir / tool).chmod(0o755)
    (bin_dir / "python3").write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    (bin_dir / "python3").chmod(0o755)
    _site_files(work, datetime.now(UTC))
    paths = sysconfig.get_paths()
    deps = os.pathsep.join(dict.fromkeys([paths["purelib"], paths["platlib"]]))
    env = {
        "PATH": f"{bin_dir}:{SYSTEM_PATH}",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONPATH": deps,
        "PIP_CACHE_DIR": str(Path.home() / ".cache" / "pip"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "SMTP_PASSWORD": "the relay's password",
    }
    machine = Machine(site, logs, deps)
    try:
        yield Operator(site, machine, work, env, requests, logs)
    finally:
        machine.stop_all()


def _metric(url: str, sample: str, **labels: str) -> float | None:
    """The sum of `sample` over the series with these labels at a /metrics URL, None while nothing answers."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        text = httpx.get(url, timeout=2).text
    except httpx.HTTPError:
        return None
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
    )


def _prometheus(site: Site, path: str, **params: str) -> Any:
    answer = httpx.get(f"http://127.0.0.1:{site.prometheus_port}{path}", params=params, timeout=5)
    answer.raise_for_status()
    return answer.json()["data"]


def _targets_up(site: Site) -> dict[str, str] | None:
    targets = _prometheus(site, "/api/v1/targets")["activeTargets"]
    health = {t["labels"]["job"]: t["health"] for t in targets}
    return health if health.get("alignmon-pipeline") == health.get("alignmon-gateway") == "up" else None


@pytest.mark.integration
def test_the_deployment_guide_runs_from_empty_machines_to_a_report(
    operator: Operator, wait_for: Callable[..., Any]
) -> None:
    site, machine = operator.site, operator.machine
    run = [s for s in guide_steps() if s.checked_by is None]
    by_name = {s.name: s for s in run}
    exporter = f"http://127.0.0.1:{site.exporter_port}"

    operator.run(by_name["install"])
    assert "alignmon 0.1.0" in operator.outputs["install"]
    installed = site.path("/opt/alignmon") / "lib"
    assert list(installed.glob("python3*/site-packages/alignmon/cli.py")), "alignmon is not in the new virtualenv"

    operator.run(by_name["kafka-topics"])
    retention = str(min(Settings.model_fields["raw_retention_days"].default, KAFKA_RETENTION_DAYS) * 86_400_000)
    partitions = Settings.model_fields["topic_partitions"].default
    assert machine.topics == [
        {"topic": site.topic, "partitions": partitions, "replication": 3, "configs": {"retention.ms": retention}},
        {"topic": f"{site.topic}.dlq", "partitions": 1, "replication": 3, "configs": {"retention.ms": retention}},
    ]

    for name in ("configuration", "pseudonym-key", "directory-feed", "catalog"):
        operator.run(by_name[name])
    key_file = site.path("/etc/alignmon/gateway.env")
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert re.fullmatch(r"ALIGNMON_PSEUDONYM_SECRET=[0-9a-f]{64}\n", key_file.read_text())
    directory = site.path("/etc/alignmon/directory.csv").read_text().splitlines()
    assert len(directory) == 501 and all(line.split(",")[0].startswith("u_") for line in directory[1:])
    assert "OK (3 files)" in operator.outputs["catalog"]  # `alignmon catalog check` passed

    operator.run(by_name["gateway"])
    assert '"status":"ok"' in operator.outputs["gateway"]  # the guide's curl read /healthz over https
    with pytest.raises(httpx.HTTPError):  # and https only
        httpx.get(f"http://127.0.0.1:{site.gateway_port}/healthz", timeout=5)
    journal = machine.running["alignmon-gateway.service"].log
    wait_for(
        lambda: "alignmon gateway on https://127.0.0.1" in journal.read_text(), 10, "the start line in the journal"
    )
    operator.run(by_name["pipeline"])

    for package in ("etc/prometheus", "var/lib/prometheus", "etc/grafana", "var/lib/grafana"):
        (site.root / package).mkdir(parents=True)  # made by the packages step 7 installs
    operator.run(by_name["prometheus"])
    starting = httpx.HTTPError  # Prometheus answers 503 until its storage is open
    wait_for(lambda: _targets_up(site), 60, "Prometheus to scrape the pipeline and the gateway", ignore=starting)
    groups = wait_for(lambda: _prometheus(site, "/api/v1/rules")["groups"], 30, "the rules", ignore=starting)
    assert {g["file"] for g in groups} == {str(site.path("/etc/prometheus/rules/alignmon.yml"))}

    operator.run(by_name["alertmanager"])
    wait_for(
        lambda: _prometheus(site, "/api/v1/alertmanagers")["activeAlertmanagers"],
        60,
        "Prometheus to find Alertmanager",
        ignore=starting,
    )

    operator.run(by_name["grafana"])
    assert machine.grafana_restarts == 1
    datasource = yaml.safe_load(site.path("/etc/grafana/provisioning/datasources/alignmon.yaml").read_text())
    source = datasource["datasources"][0]
    up = httpx.get(f"{source['url']}/api/v1/query", params={"query": "up"}, timeout=5).json()
    assert up["status"] == "success" and up["data"]["result"]  # the datasource's URL is the guide's Prometheus
    provider = yaml.safe_load(site.path("/etc/grafana/provisioning/dashboards/alignmon.yaml").read_text())
    folder = site.path(provider["providers"][0]["options"]["path"])
    dashboards = sorted(folder.glob("*.json"))
    assert dashboards
    assert all(source["uid"] in path.read_text() for path in dashboards)
    assert not [path.name for path in dashboards if "file://" in path.read_text()]  # runbook links a browser opens

    operator.run(by_name["tokens"])
    assert PILOT in operator.outputs["tokens"]
    tokens_csv = site.path("/var/lib/alignmon/enrolment/tokens.csv")
    assert tokens_csv.stat().st_mode & 0o777 == 0o600

    operator.run(by_name["first-device"])
    wait_for(
        lambda: _metric(f"{exporter}/metrics", "alignmon_events_ingested_total", source="osquery") == 3,
        60,
        "the pipeline to count the pilot's 3 events",
    )
    assert httpx.get(f"{exporter}/readyz", timeout=5).status_code == 200

    operator.run(by_name["report-timer"])
    reports = site.path("/var/lib/alignmon/reports")
    zone = ZoneInfo(read_env_file(site.path("/etc/alignmon/alignmon.env"))["ALIGNMON_TIMEZONE"])
    quarter_end = previous_quarter_end(datetime.now(zone).date())
    assert len(machine.reports) == 1 and (reports / f"steering-{quarter_end}.html").stat().st_size > 10_000
    operator.run(by_name["report-now"])
    assert (reports / "now.html").stat().st_size > 10_000

    operator.run(by_name["upgrade"])
    assert machine.exits == {"alignmon-gateway.service": [0], "alignmon-pipeline.service": [0]}
    assert (site.path("/var/backups/alignmon") / "alignmon.duckdb").exists()

    operator.run(by_name["backups"])
    assert PILOT in operator.outputs["backups"]
    assert re.search(r"\b3\b", operator.outputs["backups"].rsplit("events", 1)[-1])  # the backup holds the events

    assert [s.name for s in run] == list(operator.outputs), "a step of the guide was not run in order"
    assert httpx.get(f"{exporter}/readyz", timeout=5).status_code == 200
    machine.stop_all()
    print("seconds per step:", operator.seconds)
    assert machine.exits["alignmon-gateway.service"] == [0, 0]
    assert machine.exits["alignmon-pipeline.service"] == [0, 0]
