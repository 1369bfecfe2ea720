"""`alignmon stack up|status|down`: the local services as plain processes."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alignmon.stack.stack import Stack


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "stack",
        help="start, inspect or stop the local Kafka, Prometheus and Alertmanager "
        "(and s3proxy with ALIGNMON_STACK_S3=1, Grafana when installed)",
        description="Run the local stack as plain processes under ALIGNMON_STATE_DIR (default .alignmon): "
        "a single-node Kafka 4.x broker (jars from Maven Central, fetched once), Prometheus and Alertmanager "
        "(Debian packages); Grafana too when grafana-server (or grafana) is on PATH, provisioned with the local "
        "Prometheus and the dashboards' JSON (built into <state>/grafana/dashboards). Logs are in <state>/run/*.log. "
        "Ports come from ALIGNMON_KAFKA_PORT, ALIGNMON_PROMETHEUS_PORT, ALIGNMON_ALERTMANAGER_PORT and "
        "ALIGNMON_GRAFANA_PORT. Every action is safe to repeat.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("up", help="start what is not running and create the topics").set_defaults(handler=_up)
    actions.add_parser("status", help="show each service's pid, readiness and log").set_defaults(handler=_status)
    actions.add_parser("down", help="stop every service of this state directory").set_defaults(handler=_down)


def _stack() -> Stack:
    from alignmon.stack.stack import Stack, StackConfig  # noqa: PLC0415
    from base.settings import Settings  # noqa: PLC0415

    return Stack(StackConfig.from_settings(Settings()))


def _up(args: argparse.Namespace) -> int:
    began = time.monotonic()
    stack = _stack()
    started = stack.up()
    for name, now in started.items():
        print(f"{name:13} {'started' if now else 'already running'}")
    print(f"kafka         {stack.kafka_bootstrap}")
    print(f"prometheus    {stack.prometheus_url}")
    print(f"alertmanager  {stack.alertmanager_url}")
    if "grafana" in started:
        print(f"grafana       {stack.grafana_url} (dashboards from {stack.dashboards_dir})")
    print(f"ready in {time.monotonic() - began:.1f}s; logs in {stack.state / 'run'}")
    return 0


def _status(args: argparse.Namespace) -> int:
    status = _stack().status()
    for name, text in status.items():
        print(f"{name:13} {text}")
    return 0 if all(s.startswith("running") for s in status.values()) else 3


def _down(args: argparse.Namespace) -> int:
    stopped = _stack().down()
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0
