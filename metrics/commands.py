"""`alignmon alerts rules|routing`: the Prometheus rules and the Alertmanager routing for your site; `alignmon metrics
backfill`: the figures of past days into Prometheus (metrics.backfill)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from base.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "alerts",
        help="generate the alert rules, or an Alertmanager configuration for your mail relay and webhooks",
        description="The shipped alerts come from one commented thresholds file (metrics/thresholds.yml); "
        "docs/runbooks.md explains each alert.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    rules = actions.add_parser(
        "rules",
        help="write the Prometheus rules from a thresholds file",
        description="Renders recording and alerting rules from the thresholds (tune a copy of "
        "metrics/thresholds.yml for your site) into a rule file Prometheus loads.",
    )
    rules.add_argument("--thresholds", type=Path, help="thresholds YAML (default: the shipped one)")
    rules.add_argument("--output", "--out", type=Path, help="rule file to write (default: metrics/rules/alignmon.yml)")
    rules.add_argument("--check", action="store_true", help="write nothing; exit 1 if the file is out of date")
    rules.set_defaults(handler=_rules)
    routing = actions.add_parser(
        "routing",
        help="write an Alertmanager configuration: owners by e-mail and webhook, IT operations, inhibition",
        description="Adoption alerts go to the investment's owner (owner_email label) by e-mail, with links to "
        "the Grafana drill-down, the latest report and the runbook; pipeline alerts to IT operations; adoption "
        "alerts are held back while the pipeline is down, and a forecast alert while AdoptionLow fires for the "
        "same investment. Every flag defaults to its ALIGNMON_ setting (docs/configuration.md).",
    )
    settings = "(default: its ALIGNMON_ setting)"
    routing.add_argument("--smtp-smarthost", help=f"mail relay, host:port {settings}")
    routing.add_argument("--smtp-from", help=f"sender address of the alert e-mails {settings}")
    routing.add_argument("--smtp-username", help=f"user name for SMTP authentication {settings}")
    routing.add_argument(
        "--smtp-password-file", type=Path, help=f"file with the SMTP password, read by Alertmanager {settings}"
    )
    routing.add_argument(
        "--smtp-require-tls", action=argparse.BooleanOptionalAction, help=f"require STARTTLS with the relay {settings}"
    )
    routing.add_argument(
        "--webhook-url",
        help="webhook that also receives every notification (default: ALIGNMON_ALERT_WEBHOOK_URL if set)",
    )
    routing.add_argument("--itops-email", help=f"IT operations' address {settings}")
    routing.add_argument("--grafana-url", help=f"Grafana as the mails' readers reach it {settings}")
    routing.add_argument("--report-url", help=f"where the latest steering report is published {settings}")
    routing.add_argument("--runbook-url", help=f"where docs/runbooks.md is published {settings}")
    routing.add_argument("--output", "--out", type=Path, required=True, help="file to write, e.g. alertmanager.yml")
    routing.set_defaults(handler=_routing)
    _register_metrics(sub)


def _register_metrics(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from base import arguments  # noqa: PLC0415

    parser = sub.add_parser(
        "metrics",
        help="write the figures of past days into Prometheus, so the dashboards show the whole history",
        description="Prometheus holds only what it scraped since it started; the pipeline's database holds the "
        "history.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    b = actions.add_parser(
        "backfill",
        help="recompute every past day's figures and write them into Prometheus as TSDB blocks",
        description="Recomputes, for each past day, every figure the exporter publishes as it would have published "
        "it that day (the pipeline's own refresh as of the day, on a private working copy of the database; a "
        "running pipeline makes the copy once it has stored what Kafka holds), writes them as OpenMetrics and "
        "builds Prometheus TSDB blocks with `promtool tsdb create-blocks-from openmetrics` into Prometheus's data "
        "folder. Days Prometheus holds figures for already (live or from an earlier run), days older than its "
        "retention and days the pipeline can no longer recompute are left out, so running it again adds only "
        "new days. See docs/operations.md, History in Grafana.",
    )
    b.add_argument("--from", dest="first", type=arguments.day, help="first day (default: the first day of history)")
    b.add_argument("--to", dest="last", type=arguments.day, help="last day (default: yesterday; today is live)")
    b.add_argument(
        "--prometheus-url",
        help="the Prometheus to fill, asked which days it holds, its retention, its data folder and the pipeline's "
        "job and instance labels (default: the local stack's, http://127.0.0.1:ALIGNMON_PROMETHEUS_PORT)",
    )
    where = b.add_mutually_exclusive_group()
    where.add_argument(
        "--prometheus-data",
        type=Path,
        help="Prometheus's data folder (its --storage.tsdb.path; default: the one Prometheus names, else the local "
        "stack's ALIGNMON_STATE_DIR/prometheus/data); run as the user Prometheus runs as",
    )
    where.add_argument(
        "--output", "--out", type=Path, help="write the blocks into this folder instead, to move in yourself"
    )
    where.add_argument(
        "--openmetrics",
        type=Path,
        help="write only the OpenMetrics files and a create-blocks.sh into this folder, for a Prometheus elsewhere "
        "(no promtool needed here)",
    )
    b.add_argument("--promtool", help="the promtool to run (default: promtool on PATH)")
    b.add_argument(
        "--step",
        type=int,
        default=300,
        help="seconds between the samples of a day (default 300, Prometheus's lookback: unbroken lines)",
    )
    b.add_argument("--job", help="the job label Prometheus scrapes the pipeline with (default: as Prometheus says)")
    b.add_argument(
        "--instance", help="the instance label of the pipeline's scrape target (default: as Prometheus has it)"
    )
    b.add_argument(
        "--timeout",
        type=float,
        default=1800,
        help="seconds to wait for a running pipeline's working copy (default 1800)",
    )
    b.set_defaults(handler=_backfill)


def _backfill(args: argparse.Namespace) -> int:
    import signal  # noqa: PLC0415

    from base import interrupt  # noqa: PLC0415
    from base.settings import Settings  # noqa: PLC0415
    from metrics.backfill import Options, run  # noqa: PLC0415

    # SIGTERM (a demo or a container stopping) ends it as Ctrl-C does: the working copy and the staging folder go.
    interrupt.install(signal.SIGTERM)
    settings = Settings()
    options = Options(
        first=args.first,
        last=args.last,
        prometheus_url=args.prometheus_url or f"http://127.0.0.1:{settings.prometheus_port}",
        data_dir=args.prometheus_data,
        output=args.output,
        openmetrics=args.openmetrics,
        promtool=args.promtool,
        step_s=args.step,
        job=args.job,
        instance=args.instance,
        timeout_s=args.timeout,
    )
    run(options, settings)
    return 0


def _rules(args: argparse.Namespace) -> int:
    from metrics import rulegen  # noqa: PLC0415

    argv = [
        *(["--thresholds", str(args.thresholds)] if args.thresholds else []),
        *(["--output", str(args.output)] if args.output else []),
        *(["--check"] if args.check else []),
    ]
    return rulegen.main(argv)


def _check_delivery(settings: Settings, webhook: str) -> None:
    """Refuse a site's routing that would drop alerts or that Alertmanager cannot log in with; say what to pass."""
    from base.errors import AlignmonError  # noqa: PLC0415

    mail = bool(settings.smtp_smarthost)
    if not mail and not webhook:
        raise AlignmonError(
            "nothing would be delivered: give --smtp-smarthost (or ALIGNMON_SMTP_SMARTHOST) or --webhook-url"
        )
    if not mail:
        mail_only = [
            flag
            for flag, value in (
                ("--itops-email", settings.itops_email),
                ("--smtp-username", settings.smtp_username),
                ("--smtp-password-file", settings.smtp_password_file),
            )
            if value
        ]
        if mail_only:
            raise AlignmonError(
                f"{', '.join(mail_only)} given without a mail relay, so no e-mail would be sent: give "
                "--smtp-smarthost (or ALIGNMON_SMTP_SMARTHOST), or leave them out for a webhook-only configuration"
            )
    if mail and not settings.itops_email and not webhook:
        raise AlignmonError(
            "IT operations would get nothing: pipeline, gateway and shadow-IT alerts need --itops-email "
            "(or ALIGNMON_ITOPS_EMAIL) or --webhook-url"
        )
    if settings.smtp_username and not settings.smtp_password_file:
        raise AlignmonError(
            f"--smtp-username {settings.smtp_username} needs --smtp-password-file (or ALIGNMON_SMTP_PASSWORD_FILE), "
            "the file Alertmanager reads the SMTP password from"
        )
    if settings.smtp_password_file and not settings.smtp_username:
        raise AlignmonError(
            "--smtp-password-file needs --smtp-username (or ALIGNMON_SMTP_USERNAME): "
            "the relay's login for that password"
        )
    if settings.smtp_password_file:
        path = settings.smtp_password_file
        try:
            password = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise AlignmonError(
                f"--smtp-password-file {path}: cannot read it ({exc}); give a readable file holding the SMTP password"
            ) from exc
        if not password:
            raise AlignmonError(f"--smtp-password-file {path} is empty; put the SMTP password in it")


def _routing(args: argparse.Namespace) -> int:
    from base.settings import Settings  # noqa: PLC0415
    from metrics.routing import SITE_BY, config_from_settings  # noqa: PLC0415

    settings = Settings()
    # The webhook's default is the demo's own inbox: a site's routing gets one only when asked for.
    webhook = args.webhook_url or (
        settings.alert_webhook_url if "alert_webhook_url" in settings.model_fields_set else ""
    )
    flags = {
        "smtp_smarthost": args.smtp_smarthost,
        "smtp_from": args.smtp_from,
        "smtp_username": args.smtp_username,
        "smtp_password_file": args.smtp_password_file,
        "smtp_require_tls": args.smtp_require_tls,
        "itops_email": args.itops_email,
        "grafana_url": args.grafana_url,
        "report_url": args.report_url,
        "runbook_url": args.runbook_url,
    }
    chosen = settings.model_copy(
        update={"alert_webhook_url": webhook, **{k: v for k, v in flags.items() if v is not None}}
    )
    _check_delivery(chosen, webhook)
    text = config_from_settings(chosen, group_wait="30s", group_interval="5m", rendered_by=SITE_BY)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}; check it with: amtool check-config {args.output}")
    if not chosen.runbook_url:
        print(
            "warning: no --runbook-url (ALIGNMON_RUNBOOK_URL): the mails link the runbooks at "
            f"{chosen.runbook_base()}, a file on this machine that readers elsewhere cannot open; "
            "publish docs/runbooks.md and pass its URL",
            file=sys.stderr,
        )
    return 0
