"""`alignmon dashboards build|push`: Grafana dashboards from code, to files or to a running Grafana."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from base.errors import AlignmonError

DEFAULT_OUT = Path("dashboards/build")
TOKEN_ENV = "ALIGNMON_GRAFANA_TOKEN"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "dashboards",
        help="build the Grafana dashboards, or push them to a running Grafana",
        description="Grafana dashboards as code: portfolio, investment detail, applications, pipeline health.",
    )
    verbs = p.add_subparsers(dest="dashboards_command", metavar="ACTION", required=True)

    build = verbs.add_parser(
        "build",
        help="write the dashboards' JSON (for Grafana's file provisioning)",
        description="Writes one JSON file per dashboard, named by its uid. The output is deterministic: a rebuild "
        "of the same code gives identical bytes. docker-compose mounts dashboards/build into Grafana.",
    )
    build.add_argument(
        "--out", "--output", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})"
    )
    build.add_argument(
        "--thresholds",
        type=Path,
        default=None,
        help="alert thresholds file the panels' colours follow (default: metrics/thresholds.yml)",
    )
    build.set_defaults(handler=_build)

    push = verbs.add_parser(
        "push",
        help="create or update the folder, datasource and dashboards in a running Grafana",
        description="Upserts the folder, the Prometheus datasource (uid alignmon-prometheus) and every dashboard "
        "through Grafana's HTTP API. Idempotent: objects already up to date are left alone.",
    )
    push.add_argument("--url", required=True, help="Grafana's base URL, e.g. http://127.0.0.1:3000")
    push.add_argument(
        "--token",
        default=None,
        help=f"service-account token (default: ${TOKEN_ENV}; or put user:password in the URL)",
    )
    push.add_argument("--folder", default="alignmon", help="folder uid and title (default alignmon)")
    push.add_argument(
        "--prometheus-url",
        default="http://prometheus:9090",
        help="URL Grafana reaches Prometheus at (default http://prometheus:9090, as in docker-compose)",
    )
    push.add_argument(
        "--no-datasource", action="store_true", help="leave the datasource alone (it exists already, e.g. provisioned)"
    )
    push.add_argument("--thresholds", type=Path, default=None, help="alert thresholds file (default: shipped one)")
    push.set_defaults(handler=_push)


def _build(args: argparse.Namespace) -> int:
    from base.settings import Settings  # noqa: PLC0415
    from dashboards.build import write  # noqa: PLC0415
    from metrics.thresholds import THRESHOLDS_PATH, load  # noqa: PLC0415

    settings = Settings()
    try:
        paths = write(args.out, load(args.thresholds or THRESHOLDS_PATH), settings.runbook_base())
    except OSError as exc:
        raise AlignmonError(f"cannot write dashboards to {args.out}: {exc}") from exc
    for path in paths:
        print(path)
    if not settings.runbook_url:
        print(
            f"warning: no ALIGNMON_RUNBOOK_URL: the dashboards link the runbooks at {settings.runbook_base()}, a file "
            "on this machine that a browser does not open from Grafana; publish docs/runbooks.md and set its URL",
            file=sys.stderr,
        )
    return 0


def _push(args: argparse.Namespace) -> int:
    from base.settings import Settings  # noqa: PLC0415
    from dashboards import datasource  # noqa: PLC0415
    from dashboards.build import build_all  # noqa: PLC0415
    from dashboards.sync import connect, push  # noqa: PLC0415
    from metrics.thresholds import THRESHOLDS_PATH, load  # noqa: PLC0415

    settings = Settings()
    setting = settings.grafana_token
    token = args.token or (setting.get_secret_value() if setting else None)
    if token is None and "@" not in args.url:
        raise AlignmonError(f"no Grafana credentials: pass --token, set ${TOKEN_ENV}, or use http://user:pass@host")
    dashboards = list(build_all(load(args.thresholds or THRESHOLDS_PATH), settings.runbook_base()).values())
    changes = push(
        connect(args.url, token),
        dashboards,
        folder_uid=args.folder,
        folder_title=args.folder,
        datasource=None if args.no_datasource else datasource.definition(args.prometheus_url),
    )
    for change in changes:
        print(f"{change.kind} {change.uid}: {change.action}")
    return 0
