"""`alignmon alerts rules|routing`: the Prometheus rules and the Alertmanager routing for your site."""

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
    rules.add_argument("--output", type=Path, help="rule file to write (default: metrics/rules/alignmon.yml)")
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
    routing.add_argument("--output", type=Path, required=True, help="file to write, e.g. alertmanager.yml")
    routing.set_defaults(handler=_routing)


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
