"""`alignmon stack up|status|down` on real processes: repeatable, and robust to what a killed run leaves."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from alignmon.stack.process import ServiceError, cmdline, free_port, listener_pids, pid_alive, port_open
from alignmon.stack.stack import Stack, StackConfig

pytestmark = pytest.mark.integration


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[Stack]:
    config = StackConfig(
        state_dir=tmp_path / "state",
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        prometheus_port=free_port(),
        alertmanager_port=free_port(),
        topics={"t.usage": 1},
    )
    s = Stack(config)
    yield s
    s.down()


def test_up_twice_is_safe_and_down_leaves_nothing(own_stack: Stack) -> None:
    assert own_stack.up() == {"kafka": True, "alertmanager": True, "prometheus": True}
    pids = {svc.name: svc.pid() for svc in own_stack.services()}
    assert own_stack.up() == {"kafka": False, "alertmanager": False, "prometheus": False}
    assert {svc.name: svc.pid() for svc in own_stack.services()} == pids  # the same processes, nothing restarted
    assert all(text.startswith("running") and "ready" in text for text in own_stack.status().values())

    assert sorted(own_stack.down()) == ["alertmanager", "kafka", "prometheus"]
    assert all(not pid_alive(pid) for pid in pids.values() if pid)
    assert set(own_stack.status().values()) == {"stopped"}
    c = own_stack.config
    assert not any(
        port_open(p) for p in (c.kafka_port, c.kafka_controller_port, c.prometheus_port, c.alertmanager_port)
    )
    assert own_stack.down() == []


def test_a_stale_pid_file_does_not_break_up(own_stack: Stack) -> None:
    run = own_stack.state / "run"
    run.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (run / "prometheus.pid").write_text(str(dead.pid))  # a pid that no longer exists
    (run / "alertmanager.pid").write_text(str(os.getpid()))  # a live pid that is not ours
    own_stack.up()
    assert int((run / "alertmanager.pid").read_text()) != os.getpid()
    assert all(text.startswith("running") for text in own_stack.status().values())


def test_a_port_left_by_a_killed_run_is_reclaimed(own_stack: Stack) -> None:
    own_stack.up()
    prometheus = own_stack.prometheus()
    orphan = prometheus.pid()
    assert orphan is not None
    # The run that started it was killed and its pid file lost: the process still holds the port.
    prometheus.pid_file.unlink()
    assert own_stack.status()["prometheus"] == "stopped"
    own_stack.up()
    assert not pid_alive(orphan)
    assert prometheus.pid() not in (None, orphan)
    assert str(own_stack.state) in cmdline(prometheus.pid() or 0)


def test_a_port_held_by_someone_else_is_named_not_touched(own_stack: Stack) -> None:
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", own_stack.config.alertmanager_port))
    holder.listen()
    try:
        assert os.getpid() in listener_pids(own_stack.config.alertmanager_port)
        with pytest.raises(
            ServiceError, match=rf"port {own_stack.config.alertmanager_port} .* in use by pid {os.getpid()}"
        ):
            own_stack.alertmanager().start()
        assert pid_alive(os.getpid())
    finally:
        holder.close()


def test_the_cli_reports_status_with_exit_codes(own_stack: Stack, tmp_path: Path) -> None:
    c = own_stack.config
    env = {
        **os.environ,
        "ALIGNMON_STATE_DIR": str(c.state_dir),
        "ALIGNMON_KAFKA_PORT": str(c.kafka_port),
        "ALIGNMON_KAFKA_CONTROLLER_PORT": str(c.kafka_controller_port),
        "ALIGNMON_PROMETHEUS_PORT": str(c.prometheus_port),
        "ALIGNMON_ALERTMANAGER_PORT": str(c.alertmanager_port),
        "ALIGNMON_KAFKA_BOOTSTRAP": f"127.0.0.1:{c.kafka_port}",
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "alignmon.cli", "stack", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    assert cli("status").returncode == 3
    up = cli("up")
    assert up.returncode == 0, up.stderr
    assert "kafka         started" in up.stdout and "ready in" in up.stdout
    assert "already running" in cli("up").stdout
    assert cli("status").returncode == 0
    assert "stopped: " in cli("down").stdout
    assert cli("status").returncode == 3


def test_cluster_ids_never_start_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    # The storage tool reads "-t -abc..." as two options: Kafka's Uuid.randomUuid() avoids a leading '-' too.
    from alignmon.stack import kafka

    draws = iter([b"\xfb" + bytes(15), b"\x00" * 16])  # the first encodes to "-wAA...", the second to "AAAA..."
    monkeypatch.setattr(kafka.os, "urandom", lambda n: next(draws))
    assert kafka.new_cluster_id() == "A" * 22


def test_the_bundled_broker_is_one_node_on_loopback(tmp_path: Path) -> None:
    """docs/deploy.md's limits of the bundled broker: one node, replication 1, clients on this machine only."""
    from alignmon.stack.kafka import server_properties

    props = dict(line.split("=", 1) for line in server_properties(tmp_path, 19092, 19093).splitlines() if "=" in line)
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["default.replication.factor"] == props["offsets.topic.replication.factor"] == "1"


def test_services_get_their_external_url(tmp_path: Path) -> None:
    """Links in alerts and mails point where people reach Prometheus and Alertmanager (default: loopback)."""
    config = StackConfig(state_dir=tmp_path, prometheus_port=19990, alertmanager_port=19994)
    stack = Stack(config)
    assert "--web.external-url=http://127.0.0.1:19990" in stack.prometheus().argv
    assert "--web.external-url=http://127.0.0.1:19994" in stack.alertmanager().argv
    config.prometheus_external_url = "https://prometheus.example.org"
    config.alertmanager_external_url = "https://alerts.example.org"
    assert "--web.external-url=https://prometheus.example.org" in stack.prometheus().argv
    assert "--web.external-url=https://alerts.example.org" in stack.alertmanager().argv


def test_down_stops_s3proxy_even_without_the_setting(own_stack: Stack) -> None:
    """`ALIGNMON_STACK_S3=1 alignmon stack up`, then `alignmon stack down` without it: nothing is left running."""
    with_s3 = Stack(replace(own_stack.config, s3_port=free_port()))
    assert with_s3.up()["s3"] is True
    pid = with_s3.s3().pid()
    assert pid is not None and pid_alive(pid)
    assert own_stack.status()["s3"].startswith("running")  # known from its pid file
    assert "s3" in own_stack.down()
    assert not pid_alive(pid)
