"""The local stack's Grafana: started only when installed, provisioned with the local Prometheus and the dashboards.

Grafana cannot be installed on the test machines, so the start-and-stop test puts a stand-in `grafana-server` on
PATH: a script that serves /api/health on the port grafana.ini names and records its command line. It checks
what alignmon controls (the command line, the files, readiness, stopping); not Grafana reading them.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import yaml

from alignmon.stack.grafana import grafana_command, provisioning
from alignmon.stack.process import free_port, port_open
from alignmon.stack.stack import Stack, StackConfig
from dashboards.build import DEFINITIONS
from dashboards.datasource import DATASOURCE_UID

STAND_IN = f"""#!{sys.executable}
import configparser, json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

config = next(a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--config="))
with open(config + ".argv", "w") as f:
    json.dump(sys.argv[1:], f)
ini = configparser.ConfigParser()
ini.read(config)

class Health(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/api/health" else 404)
        self.end_headers()

HTTPServer((ini["server"]["http_addr"], int(ini["server"]["http_port"])), Health).serve_forever()
"""


def _stack(tmp_path: Path) -> Stack:
    return Stack(
        StackConfig(
            state_dir=tmp_path / "state",
            prometheus_port=free_port(),
            grafana_port=free_port(),
            scrape_interval_s=5,
            runbooks_url="https://docs.example.org/runbooks.md",
        )
    )


def test_provisioning_names_the_local_prometheus_and_the_dashboards_folder(tmp_path: Path) -> None:
    files = provisioning(tmp_path, "http://127.0.0.1:19090", tmp_path / "dashboards", 5.0)
    (source,) = yaml.safe_load(files["datasources/alignmon.yaml"])["datasources"]
    assert source["uid"] == DATASOURCE_UID  # the uid every panel refers to
    assert source["url"] == "http://127.0.0.1:19090"
    assert source["jsonData"] == {"timeInterval": "5s"}
    (provider,) = yaml.safe_load(files["dashboards/alignmon.yaml"])["providers"]
    assert provider["options"]["path"] == str(tmp_path / "dashboards")
    assert provider["folder"] == "alignmon"


def test_without_grafana_on_path_the_stack_has_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    stack = _stack(tmp_path)
    assert grafana_command() is None
    assert stack.grafana() is None
    assert "grafana" not in stack.status()


def test_the_dashboards_json_is_built_where_grafana_reads_it(tmp_path: Path) -> None:
    stack = _stack(tmp_path)
    paths = stack.build_dashboards()
    assert sorted(p.name for p in paths) == sorted(d.filename for d in DEFINITIONS)
    assert all(p.parent == stack.dashboards_dir for p in paths)
    assert "https://docs.example.org/runbooks.md" in paths[0].read_text()


def _grafana_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "grafana-server").write_text(STAND_IN)
    (bin_dir / "grafana-server").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")


def test_grafanas_files_are_written_only_when_it_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Listing the services (what `up` does before it starts them), `status` and `down` write nothing: a running
    Grafana's provisioning and grafana.ini stay as they were."""
    _grafana_on_path(tmp_path, monkeypatch)
    stack = _stack(tmp_path)
    gdir = stack.state / "grafana"
    assert "grafana" in [svc.name for svc in stack.services()]
    stack.status()
    stack.down()
    assert not (gdir / "grafana.ini").exists() and not (gdir / "provisioning").exists()
    grafana = stack.grafana()
    assert grafana is not None
    try:
        assert grafana.start() is True
        written = {p: p.stat().st_mtime_ns for p in gdir.rglob("*") if p.is_file() and p.suffix in (".ini", ".yaml")}
        assert gdir / "grafana.ini" in written and gdir / "provisioning" / "datasources" / "alignmon.yaml" in written
        for path in written:  # as an editor or another tool would leave them
            os.utime(path, ns=(1, 1))
        stack.services()
        stack.status()
        assert stack.grafana() is not None and grafana.start() is False  # runs already: not started, not rewritten
        assert all(path.stat().st_mtime_ns == 1 for path in written)
    finally:
        stack.down()


def test_a_grafana_on_path_is_started_provisioned_and_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _grafana_on_path(tmp_path, monkeypatch)
    stack = _stack(tmp_path)
    grafana = stack.grafana()
    assert grafana is not None
    try:
        assert grafana.start() is True
        assert stack.status()["grafana"].startswith("running")
        ini = stack.state / "grafana" / "grafana.ini"
        argv = json.loads(Path(f"{ini}.argv").read_text())
        assert f"--config={ini}" in argv
        assert any(a.startswith("--homepath=") for a in argv)
        provisioned = stack.state / "grafana" / "provisioning"
        source = yaml.safe_load((provisioned / "datasources" / "alignmon.yaml").read_text())["datasources"][0]
        assert source["url"] == stack.prometheus_url
        assert "http_addr = 127.0.0.1" in ini.read_text()
    finally:
        stopped = stack.down()
    assert stopped == ["grafana"]
    assert not port_open(stack.config.grafana_port)
