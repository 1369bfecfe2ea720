"""Grafana as a plain process on loopback, provisioned with alignmon's datasource and dashboards.

Optional: the local stack starts it only when a Grafana is installed (`grafana-server`, or the newer `grafana`
command, on PATH); alignmon does not install it. Anonymous visitors get the Viewer role, on 127.0.0.1 only.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from alignmon.stack.process import Service
from alignmon.stack.prometheus import http_ready

# Where a Debian/RPM package keeps Grafana's conf/ and public/ (a tarball keeps them beside bin/).
PACKAGE_HOME = Path("/usr/share/grafana")


def grafana_command() -> list[str] | None:
    """How to run Grafana's server, or None when no Grafana is on PATH."""
    for name, args in (("grafana-server", []), ("grafana", ["server"])):
        path = shutil.which(name)
        if path:
            return [path, *args]
    return None


def grafana_home(binary: str) -> Path:
    """Grafana's home path (conf/defaults.ini and public/) for an installed binary."""
    for home in (Path(binary).resolve().parent.parent, PACKAGE_HOME):
        if (home / "conf" / "defaults.ini").exists():
            return home
    return PACKAGE_HOME


def provisioning(folder: Path, prometheus_url: str, dashboards: Path, scrape_interval_s: float) -> dict[str, str]:
    """Grafana's provisioning files (relative path -> text): the datasource every panel names, the dashboards."""
    from dashboards.datasource import definition  # noqa: PLC0415 (dashboards owns the datasource's uid)

    source = {**definition(prometheus_url, f"{scrape_interval_s:g}s"), "editable": False}
    provider = {
        "name": "alignmon",
        "type": "file",
        "folder": "alignmon",
        "disableDeletion": True,
        "allowUiUpdates": False,
        "updateIntervalSeconds": 10,
        "options": {"path": str(dashboards), "foldersFromFilesStructure": False},
    }
    note = f"# Written by alignmon's local stack into {folder}; rewritten at each start.\n"
    return {
        "datasources/alignmon.yaml": note + yaml.safe_dump({"apiVersion": 1, "datasources": [source]}, sort_keys=False),
        "dashboards/alignmon.yaml": note + yaml.safe_dump({"apiVersion": 1, "providers": [provider]}, sort_keys=False),
        "plugins/.keep": "",
        "alerting/.keep": "",
    }


def grafana_ini(gdir: Path, port: int) -> str:
    """grafana.ini: state under `gdir`, loopback only, anonymous viewers, nothing phoned home."""
    return f"""\
; Written by alignmon's local stack; rewritten at each start.
[paths]
data = {gdir / "data"}
logs = {gdir / "logs"}
plugins = {gdir / "plugins"}
provisioning = {gdir / "provisioning"}

[server]
http_addr = 127.0.0.1
http_port = {port}

[auth.anonymous]
enabled = true
org_role = Viewer

[analytics]
reporting_enabled = false
check_for_updates = false
check_for_plugin_updates = false

[news]
news_feed_enabled = false
"""


def grafana_service(
    state: Path, port: int, prometheus_url: str, dashboards: Path, *, scrape_interval_s: float, tag: str
) -> Service | None:
    """Grafana on 127.0.0.1:port showing the JSON dashboards in `dashboards`; None when Grafana is not installed.

    Nothing is written until it is started (`Stack.up`): its provisioning files and grafana.ini are written just
    before (`Service.prepare`), so listing the stack's services writes nothing and a running Grafana's files stay."""
    command = grafana_command()
    if command is None:
        return None
    gdir = state / "grafana"
    ini = gdir / "grafana.ini"

    def configure() -> None:
        files = provisioning(gdir / "provisioning", prometheus_url, dashboards, scrape_interval_s)
        for relative, text in files.items():
            path = gdir / "provisioning" / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        ini.write_text(grafana_ini(gdir, port))

    return Service(
        name="grafana",
        argv=[*command, f"--homepath={grafana_home(command[0])}", f"--config={ini}"],
        run_dir=state / "run",
        ports=[port],
        ready=lambda: http_ready(f"http://127.0.0.1:{port}/api/health"),
        tag=tag,
        start_timeout=120.0,  # the first start creates and migrates its database
        prepare=configure,
    )
