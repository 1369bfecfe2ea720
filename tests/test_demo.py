"""`alignmon demo --seconds N` (what `make demo DEMO_SECONDS=N` runs) shows the flow and leaves nothing behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from alignmon.stack.process import cmdline, free_port, port_open

pytestmark = pytest.mark.integration


def demo_env(state: Path) -> tuple[dict[str, str], dict[str, int]]:
    """Settings for a demo on its own state directory and free ports, beside anything else running."""
    ports = {
        name: free_port()
        for name in ("kafka", "controller", "prometheus", "alertmanager", "webhook", "gateway", "exporter")
    }
    env = {
        **os.environ,
        "ALIGNMON_STATE_DIR": str(state),
        "ALIGNMON_KAFKA_PORT": str(ports["kafka"]),
        "ALIGNMON_KAFKA_CONTROLLER_PORT": str(ports["controller"]),
        "ALIGNMON_KAFKA_BOOTSTRAP": f"127.0.0.1:{ports['kafka']}",
        "ALIGNMON_PROMETHEUS_PORT": str(ports["prometheus"]),
        "ALIGNMON_ALERTMANAGER_PORT": str(ports["alertmanager"]),
        "ALIGNMON_ALERT_WEBHOOK_URL": f"http://127.0.0.1:{ports['webhook']}/alerts",
        "ALIGNMON_GATEWAY_PORT": str(ports["gateway"]),
        "ALIGNMON_EXPORTER_PORT": str(ports["exporter"]),
    }
    return env, ports


def assert_nothing_left(state: Path, ports: dict[str, int]) -> None:
    leftovers = [p.name for p in Path("/proc").iterdir() if p.name.isdigit() and str(state) in cmdline(int(p.name))]
    assert leftovers == []
    assert not any(port_open(port) for port in ports.values())


def test_demo_runs_end_to_end_and_stops_cleanly(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env, ports = demo_env(state)
    result = subprocess.run(
        [sys.executable, "-m", "alignmon.cli", "demo", "--seconds", "75", "--replay-seconds", "10"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "where to look" in out
    assert f"http://127.0.0.1:{ports['exporter']}/metrics" in out
    assert re.search(r"backfill straight into Kafka: up to \S+, [\d,]+ events", out)
    assert "through the gateway" in out
    # The status line reports stored events and computed investment statuses from the real Prometheus.
    stored = [int(m.replace(",", "")) for m in re.findall(r"stored ([\d,]+) events", out)]
    assert stored and max(stored) > 100_000, out
    assert re.search(r"investments: .*(low|on_track) \d", out), out
    assert out.rstrip().endswith("stopped; nothing left running")
    assert_nothing_left(state, ports)
    # The analysts' snapshot was published and holds the simulated fleet.
    assert (state / "demo" / "alignmon-snapshot.duckdb").exists()


def test_ctrl_c_stops_the_demo_and_everything_it_started(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env, ports = demo_env(state)
    demo = subprocess.Popen(
        [sys.executable, "-m", "alignmon.cli", "demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert demo.stdout is not None
    seen = []
    for line in demo.stdout:  # until the flow is running: the gateway and pipeline are up, the backfill started
        seen.append(line)
        if "backfill straight into Kafka" in line:
            break
    # A terminal's Ctrl-C goes to the whole foreground process group: the demo and its children.
    os.killpg(demo.pid, signal.SIGINT)
    rest, _ = demo.communicate(timeout=120)
    assert demo.returncode == 0, "".join(seen) + rest
    assert rest.rstrip().endswith("stopped; nothing left running")
    assert_nothing_left(state, ports)
