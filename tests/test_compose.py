"""The production-like container stack: docker-compose.yml, the Dockerfile, deploy/ configs and LICENSE."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from alignmon.cli import build_parser
from base.settings import Settings
from tests.support.compose import compose_services, load_compose, require_compose

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DEPLOY = ROOT / "deploy"
ALERTMANAGER_YML = ROOT / "metrics" / "alertmanager" / "alertmanager.yml"
PROMETHEUS_YML = DEPLOY / "prometheus" / "prometheus.yml"
GRAFANA = DEPLOY / "grafana" / "provisioning"
ALIGNMON_IMAGE = "alignmon:local"
# Values only the tests need for interpolating the compose file's required variables.
COMPOSE_ENV = {"ALIGNMON_PSEUDONYM_SECRET": "test-key-not-secret", "GRAFANA_ADMIN_PASSWORD": "test-password"}


def _env(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in (compose_services(COMPOSE)[service].get("environment") or {}).items()}


def _alignmon_services() -> list[str]:
    return [name for name, svc in compose_services(COMPOSE).items() if svc.get("image") == ALIGNMON_IMAGE]


def _volume_mounts(service: str) -> list[tuple[str, str]]:
    """(source, target) of each short-syntax volume; a named volume's source has no '/'."""
    mounts = []
    for spec in compose_services(COMPOSE)[service].get("volumes") or []:
        source, target = spec.split(":")[:2]
        mounts.append((source, target))
    return mounts


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env, check=False)


# --- docker compose itself ----------------------------------------------------------------------------


@pytest.mark.parametrize("profile", [[], ["--profile", "demo"]], ids=["default", "demo-profile"])
def test_docker_compose_accepts_the_file(profile: list[str]) -> None:
    require_compose()
    env = {**os.environ, **COMPOSE_ENV}
    result = _run(["docker", "compose", "-f", str(COMPOSE), *profile, "config", "--quiet"], env=env)
    assert result.returncode == 0, result.stderr


def test_docker_compose_refuses_to_start_without_a_pseudonym_key() -> None:
    require_compose()
    env = {k: v for k, v in os.environ.items() if k != "ALIGNMON_PSEUDONYM_SECRET"}
    env["GRAFANA_ADMIN_PASSWORD"] = COMPOSE_ENV["GRAFANA_ADMIN_PASSWORD"]
    result = _run(["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"], env=env)
    assert result.returncode != 0
    assert "set a pseudonym key" in result.stderr


# --- the compose model --------------------------------------------------------------------------------


def test_every_service_but_the_one_shot_ones_has_a_healthcheck() -> None:
    services = compose_services(COMPOSE)
    assert set(services) == {
        "kafka", "gateway", "pipeline", "prometheus", "alertmanager", "grafana", "simulator",
        "metrics-history", "prometheus-history",
    }  # fmt: skip
    one_shot = {n for n, s in services.items() if s.get("restart") == "no"}
    assert one_shot == {"simulator", "metrics-history", "prometheus-history"}
    checks = {n: s.get("healthcheck") or {} for n, s in services.items() if n not in one_shot}
    missing = [n for n, check in checks.items() if not check.get("test") or check.get("disable")]
    assert missing == []


def test_simulator_is_optional_behind_the_demo_profile() -> None:
    assert compose_services(COMPOSE)["simulator"]["profiles"] == ["demo"]
    assert [n for n, s in compose_services(COMPOSE).items() if s.get("profiles")] == ["simulator"]


def test_service_healthy_dependencies_point_at_services_with_healthchecks() -> None:
    services = compose_services(COMPOSE)
    for name, svc in services.items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            if cond["condition"] == "service_healthy":
                check = services[dep].get("healthcheck") or {}
                assert check.get("test") and not check.get("disable"), f"{name} waits for {dep}: it has no check"


def test_named_volumes_are_declared_and_all_used() -> None:
    declared = set(load_compose(COMPOSE)["volumes"])
    used = {src for name in compose_services(COMPOSE) for src, _ in _volume_mounts(name) if "/" not in src}
    assert used == declared


def test_repo_config_files_mounted_into_containers_exist() -> None:
    # ./dashboards/build is produced by `alignmon dashboards build`; every other mounted repo path is committed.
    sources = [src for name in compose_services(COMPOSE) for src, _ in _volume_mounts(name) if src.startswith("./")]
    committed = [src for src in sources if src != "./dashboards/build"]
    assert len(committed) == 4
    for src in committed:
        assert (ROOT / src).exists(), src


def test_alignmon_env_names_are_real_settings() -> None:
    known = {"ALIGNMON_" + field.upper() for field in Settings.model_fields}
    used = {k for name in compose_services(COMPOSE) for k in _env(name) if k.startswith("ALIGNMON_")}
    assert "ALIGNMON_PSEUDONYM_SECRET" in used
    assert sorted(used - known) == []


def test_gateway_takes_its_key_from_the_environment_and_never_from_the_file() -> None:
    assert _env("gateway")["ALIGNMON_PSEUDONYM_SECRET"] == "${ALIGNMON_PSEUDONYM_SECRET:?set a pseudonym key}"
    assert "ALIGNMON_DEV_MODE" not in {k for name in compose_services(COMPOSE) for k in _env(name)}


def test_the_pipeline_gets_no_pseudonym_key() -> None:
    """The pipeline reads a pseudonymised directory and never a real name; the key stays with the gateway side."""
    assert "ALIGNMON_PSEUDONYM_SECRET" not in _env("pipeline")
    assert "ALIGNMON_PSEUDONYM_SECRET" in _env("gateway")


@pytest.mark.parametrize(
    ("service", "keys"),
    [
        ("gateway", ["ALIGNMON_STATE_DIR", "ALIGNMON_SPOOL_DIR", "ALIGNMON_TOKEN_DB"]),
        ("pipeline", ["ALIGNMON_STATE_DIR", "ALIGNMON_DUCKDB_PATH", "ALIGNMON_SNAPSHOT_PATH"]),
    ],
)
def test_state_paths_live_on_named_volumes(service: str, keys: list[str]) -> None:
    """A restart must not lose the spool, the tokens or the database."""
    volume_targets = [t for s, t in _volume_mounts(service) if "/" not in s]
    for key in keys:
        path = _env(service)[key]
        assert any(_under(path, t) for t in volume_targets), f"{service} {key}={path} is not on a volume"


def test_named_volume_mount_points_exist_in_the_image_owned_by_its_user() -> None:
    """Docker copies a mount point's owner into a fresh named volume, so the Dockerfile must create them."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    mkdir = dockerfile.split("mkdir -p ", 1)[1].split("\\", 1)[0].split("&&", 1)[0].split()
    targets = {t for name in _alignmon_services() for s, t in _volume_mounts(name) if "/" not in s}
    assert targets == {"/var/lib/alignmon", "/data", "/data/snapshot", "/catalog"}
    for target in targets:
        assert any(_under(made, target) for made in mkdir), target


def test_pipeline_reads_the_catalog_read_only_and_the_simulator_writes_it() -> None:
    assert "catalog:/catalog:ro" in compose_services(COMPOSE)["pipeline"]["volumes"]
    assert "catalog:/catalog" in compose_services(COMPOSE)["simulator"]["volumes"]
    assert _env("pipeline")["ALIGNMON_CATALOG_DIR"] == "/catalog"
    assert _env("pipeline")["ALIGNMON_DIRECTORY_CSV"] == "/catalog/directory.csv"


def test_the_history_reaches_prometheus_after_the_simulator_through_the_pipelines_working_copy() -> None:
    """docs/operations.md, History in Grafana: the backfill asks the running pipeline (same state folder and file) for a
    working copy, writes OpenMetrics into the pipeline's volume, and Prometheus's own image builds the blocks as
    Prometheus's user, reading that volume read-only."""
    services = compose_services(COMPOSE)
    history, blocks = services["metrics-history"], services["prometheus-history"]
    for key in ("ALIGNMON_STATE_DIR", "ALIGNMON_DUCKDB_PATH", "ALIGNMON_CATALOG_DIR", "ALIGNMON_DIRECTORY_CSV"):
        assert _env("metrics-history")[key] == _env("pipeline")[key], key
    assert ("pipeline-data", "/data") in _volume_mounts("metrics-history")
    command = history["command"]
    assert command[command.index("--prometheus-url") + 1] == "http://prometheus:9090"
    folder = command[command.index("--openmetrics") + 1]
    assert history["depends_on"]["simulator"] == {"condition": "service_completed_successfully", "required": False}
    assert history["depends_on"]["pipeline"]["condition"] == "service_healthy"
    assert blocks["image"] == services["prometheus"]["image"], "promtool of the Prometheus that loads the blocks"
    assert "pipeline-data:/history:ro" in blocks["volumes"] and "prometheus-data:/prometheus" in blocks["volumes"]
    script = folder.replace("/data", "/history", 1) + "/create-blocks.sh"
    assert f"sh {script} /prometheus" in blocks["command"][0]
    assert blocks["depends_on"] == {"metrics-history": {"condition": "service_completed_successfully"}}


def test_ports_agree_across_compose_healthchecks_and_prometheus() -> None:
    gateway_port = _env("gateway")["ALIGNMON_GATEWAY_PORT"]
    exporter_port = _env("pipeline")["ALIGNMON_EXPORTER_PORT"]
    assert (gateway_port, exporter_port) == ("8700", "9708")
    services = compose_services(COMPOSE)
    assert f"127.0.0.1:{gateway_port}/healthz" in " ".join(services["gateway"]["healthcheck"]["test"])
    assert f"127.0.0.1:{exporter_port}/healthz" in " ".join(services["pipeline"]["healthcheck"]["test"])
    prometheus = yaml.safe_load(PROMETHEUS_YML.read_text(encoding="utf-8"))
    targets = {t for job in prometheus["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    assert {f"gateway:{gateway_port}", f"pipeline:{exporter_port}"} <= targets
    assert prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    assert prometheus["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    assert ("./metrics/rules", "/etc/prometheus/rules") in _volume_mounts("prometheus")


def test_kafka_is_a_single_kraft_node_advertised_to_the_other_containers() -> None:
    env = _env("kafka")
    assert compose_services(COMPOSE)["kafka"]["image"] == "apache/kafka:4.1.1"
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@localhost:9093"
    factors = {k: v for k, v in env.items() if k.endswith(("REPLICATION_FACTOR", "MIN_ISR", "INSYNC_REPLICAS"))}
    assert len(factors) == 7
    assert set(factors.values()) == {"1"}
    assert _env("gateway")["ALIGNMON_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert _env("pipeline")["ALIGNMON_KAFKA_BOOTSTRAP"] == "kafka:9092"


# --- the alignmon image -------------------------------------------------------------------------------


def test_dockerfile_installs_the_package_and_runs_as_a_user() -> None:
    lines = [ln.strip() for ln in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()]
    froms = [ln for ln in lines if ln.startswith("FROM ")]
    assert froms and all(ln.split()[1] == "python:3.11-slim" for ln in froms)
    assert any("pip install ." in ln for ln in lines)
    users = [ln.split()[1] for ln in lines if ln.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}
    assert 'ENTRYPOINT ["alignmon"]' in lines


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    patterns = {ln.strip() for ln in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines() if ln.strip()}
    assert {".git", ".venv", ".alignmon", ".pytest_cache", ".mypy_cache", ".ruff_cache"} <= patterns
    assert "**/__pycache__" in patterns


@pytest.mark.parametrize("service", ["gateway", "pipeline", "simulator", "metrics-history"])
def test_service_commands_are_valid_alignmon_commands(service: str) -> None:
    command = compose_services(COMPOSE)[service]["command"]
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert command[0] in (subparsers.choices or {}), f"`alignmon {command[0]}` is not a command"
    try:
        args = parser.parse_args(command)
    except SystemExit:
        pytest.fail(f"`alignmon {' '.join(command)}` does not parse")
    assert args.command == command[0]


# --- Grafana provisioning -----------------------------------------------------------------------------


def test_grafana_datasource_is_the_prometheus_service_with_a_fixed_uid() -> None:
    doc = yaml.safe_load((GRAFANA / "datasources" / "prometheus.yaml").read_text(encoding="utf-8"))
    assert doc["apiVersion"] == 1
    [source] = doc["datasources"]
    assert (source["uid"], source["type"], source["url"]) == (
        "alignmon-prometheus",
        "prometheus",
        "http://prometheus:9090",
    )
    assert source["isDefault"] is True


def test_grafana_dashboard_provider_reads_the_mounted_build_folder() -> None:
    doc = yaml.safe_load((GRAFANA / "dashboards" / "alignmon.yaml").read_text(encoding="utf-8"))
    assert doc["apiVersion"] == 1
    [provider] = doc["providers"]
    assert provider["type"] == "file"
    assert ("./dashboards/build", provider["options"]["path"]) in _volume_mounts("grafana")
    assert ("./deploy/grafana/provisioning", "/etc/grafana/provisioning") in _volume_mounts("grafana")


# --- Prometheus and Alertmanager configs, checked by their own tools -----------------------------------


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian package prometheus / prometheus-alertmanager)")
    return path


def test_amtool_accepts_the_alertmanager_config() -> None:
    result = _run([_tool("amtool"), "check-config", str(ALERTMANAGER_YML)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_accepts_the_prometheus_config_with_the_repo_rules(tmp_path: Path) -> None:
    promtool = _tool("promtool")
    config = yaml.safe_load(PROMETHEUS_YML.read_text(encoding="utf-8"))
    # In the container the rules are mounted at /etc/prometheus/rules; here, point at the repo's copy.
    config["rule_files"] = [str(ROOT / "metrics" / "rules" / "*.yml")]
    copy = tmp_path / "prometheus.yml"
    copy.write_text(yaml.safe_dump(config), encoding="utf-8")
    result = _run([promtool, "check", "config", str(copy)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
    # promtool checks every rule file the glob finds; the folder may still be empty.
    for rules in sorted((ROOT / "metrics" / "rules").glob("*.yml")):
        assert str(rules) in result.stdout + result.stderr


# --- LICENSE ------------------------------------------------------------------------------------------

# sha256 of the canonical Apache License 2.0 text (apache.org LICENSE-2.0.txt, with its appendix).
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def test_license_is_the_verbatim_apache_2_text_with_our_copyright() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    ours = "   Copyright 2026 The alignmon authors\n"
    assert text.count(ours) == 1
    canonical = text.replace(ours, "   Copyright [yyyy] [name of copyright owner]\n")
    assert hashlib.sha256(canonical.encode("utf-8")).hexdigest() == APACHE_2_SHA256
