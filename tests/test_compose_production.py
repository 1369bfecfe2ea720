"""docker-compose.prod.yml: the production containers read the settings the systemd units read (the same env files,
the same ALIGNMON_* names), stop with SIGTERM within the units' graceful stop, check the pipeline with /healthz, and
`docker compose config` accepts the file (where the compose plugin is installed)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from base.settings import Settings
from tests.support.compose import compose_services, require_compose

ROOT = Path(__file__).resolve().parents[1]
PROD = ROOT / "docker-compose.prod.yml"
SYSTEMD = ROOT / "deploy" / "systemd"
ETC = "${ETC_ALIGNMON:-/etc/alignmon}"
UNIT_OF = {"gateway": "alignmon-gateway.service", "pipeline": "alignmon-pipeline.service"}


def _service(name: str) -> dict[str, Any]:
    return compose_services(PROD)[name]


def _env_files(service: str) -> list[dict[str, Any]]:
    return [{"path": e} if isinstance(e, str) else e for e in _service(service).get("env_file") or []]


def _unit(unit: str, key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in (SYSTEMD / unit).read_text().splitlines() if line.startswith(f"{key}=")]


def _example_names(example: str) -> set[str]:
    return set(re.findall(r"^#?(ALIGNMON_[A-Z0-9_]+)=", (SYSTEMD / example).read_text(), re.M))


def test_the_containers_read_the_env_files_the_units_read() -> None:
    for service, unit in UNIT_OF.items():
        units = [path.lstrip("-").removeprefix("/etc/alignmon/") for path in _unit(unit, "EnvironmentFile")]
        composed = [entry["path"].removeprefix(f"{ETC}/") for entry in _env_files(service)]
        assert composed == units, service
        optional = [e["path"].removeprefix(f"{ETC}/") for e in _env_files(service) if e.get("required") is False]
        assert optional == [
            p.lstrip("-").removeprefix("/etc/alignmon/") for p in _unit(unit, "EnvironmentFile") if p.startswith("-")
        ]
    assert [e["path"] for e in _env_files("report")] == [f"{ETC}/alignmon.env"]


def test_the_settings_come_from_the_env_files_alone() -> None:
    """No container sets an alignmon setting of its own: the env files are the one place, as for the units."""
    for name, service in compose_services(PROD).items():
        assert not [key for key in service.get("environment") or {} if key.startswith("ALIGNMON_")], name


def test_every_alignmon_name_in_the_file_is_a_setting_of_the_systemd_env_example() -> None:
    known = {f"ALIGNMON_{field.upper()}" for field in Settings.model_fields}
    used = set(re.findall(r"\bALIGNMON_[A-Z0-9_]+", PROD.read_text()))
    assert "ALIGNMON_STATE_DIR" in used
    assert sorted(used - known) == []
    assert sorted(used - _example_names("alignmon.env.example")) == []


def test_the_pipeline_never_gets_the_pseudonym_key() -> None:
    assert not [e for e in _env_files("pipeline") if "gateway.env" in e["path"]]
    assert not [e for e in _env_files("report") if "gateway.env" in e["path"]]
    assert [e for e in _env_files("gateway") if e["path"] == f"{ETC}/gateway.env"]


@pytest.mark.parametrize("service", ["gateway", "pipeline"])
def test_the_services_stop_with_sigterm_as_long_as_their_units_wait(service: str) -> None:
    compose = _service(service)
    assert compose["stop_signal"] == "SIGTERM" and compose["init"] is True
    assert _unit(UNIT_OF[service], "KillSignal") == ["SIGTERM"]
    assert [compose["stop_grace_period"]] == _unit(UNIT_OF[service], "TimeoutStopSec")


@pytest.mark.parametrize(("service", "setting"), [("gateway", "GATEWAY_PORT"), ("pipeline", "EXPORTER_PORT")])
def test_the_healthchecks_ask_healthz_on_the_port_the_settings_name(service: str, setting: str) -> None:
    check = " ".join(_service(service)["healthcheck"]["test"])
    assert "/healthz" in check and f"os.environ.get('ALIGNMON_{setting}'" in check
    default = Settings.model_fields[setting.lower()].default
    assert f"'ALIGNMON_{setting}', '{default}')" in check  # unset: the setting's own default
    published = f"${{ALIGNMON_{setting}:-"
    assert any(published in str(port) for port in _service(service)["ports"])


@pytest.mark.parametrize("service", ["gateway", "pipeline", "report"])
def test_the_state_lives_on_a_volume_at_the_state_directory(service: str) -> None:
    targets = [spec.split(":", 1)[1] for spec in _service(service)["volumes"] if not spec.startswith(("$", "/"))]
    assert any(t.startswith("${ALIGNMON_STATE_DIR:-/var/lib/alignmon}") for t in targets), targets
    assert _unit(UNIT_OF.get(service, "alignmon-report.service"), "StateDirectory") == ["alignmon"]


def test_the_report_runs_only_when_asked_and_without_network() -> None:
    report = _service("report")
    assert report["profiles"] == ["report"] and report["restart"] == "no" and report["network_mode"] == "none"
    assert "alignmon report --as-of" in report["command"][0]


@pytest.mark.parametrize("profile", [[], ["--profile", "report"]], ids=["services", "with-report"])
def test_docker_compose_accepts_the_file_with_the_systemd_env_examples(tmp_path: Path, profile: list[str]) -> None:
    require_compose()
    for example in ("alignmon.env", "gateway.env", "pipeline.env"):
        shutil.copy(SYSTEMD / f"{example}.example", tmp_path / example)
    env = {**os.environ, "ETC_ALIGNMON": str(tmp_path)}
    args = ["docker", "compose", "-f", str(PROD), "--env-file", str(tmp_path / "alignmon.env"), *profile, "config"]
    result = subprocess.run(
        [*args, "--format", "json"], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    example = {
        key: val
        for key, _, val in (line.partition("=") for line in (tmp_path / "alignmon.env").read_text().splitlines())
        if key.startswith("ALIGNMON_")
    }
    for name in ("gateway", "pipeline"):
        assert {k: v for k, v in config["services"][name]["environment"].items() if k in example} == example
    assert "ALIGNMON_PSEUDONYM_SECRET" in config["services"]["gateway"]["environment"]
    assert "ALIGNMON_PSEUDONYM_SECRET" not in config["services"]["pipeline"]["environment"]
    assert [p["published"] for p in config["services"]["gateway"]["ports"]] == [example["ALIGNMON_GATEWAY_PORT"]]
    assert [p["published"] for p in config["services"]["pipeline"]["ports"]] == [example["ALIGNMON_EXPORTER_PORT"]]
    mounts = {m["target"] for m in config["services"]["pipeline"]["volumes"]}
    assert {example["ALIGNMON_STATE_DIR"], example["ALIGNMON_CATALOG_DIR"], example["ALIGNMON_DIRECTORY_CSV"]} <= mounts


@pytest.mark.parametrize("service", ["gateway", "pipeline"])
def test_docker_compose_yml_gives_the_services_their_units_stop_time(service: str) -> None:
    demo = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"][service]
    assert [demo["stop_grace_period"]] == _unit(UNIT_OF[service], "TimeoutStopSec")
