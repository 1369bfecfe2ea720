"""`alignmon alerts rules|routing`: the Prometheus rules and the Alertmanager routing for your site."""

from __future__ import annotations

import argparse
from pathlib import Path


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
        description="Adoption alerts go to the investment's owner (owner_email label) by e-mail and to the "
        "webhook; pipeline alerts to IT operations; adoption alerts are held back while the pipeline is down.",
    )
    routing.add_argument("--smtp-smarthost", required=True, help="mail relay, host:port")
    routing.add_argument("--smtp-from", required=True, help="sender address of the alert e-mails")
    routing.add_argument("--webhook-url", required=True, help="webhook that receives every notification")
    routing.add_argument("--itops-email", required=True, help="IT operations' address")
    routing.add_argument("--smtp-require-tls", action="store_true", help="require STARTTLS with the relay")
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


def _routing(args: argparse.Namespace) -> int:
    from metrics.routing import alertmanager_config  # noqa: PLC0415

    text = alertmanager_config(
        args.smtp_smarthost, args.smtp_from, args.webhook_url, args.itops_email, smtp_require_tls=args.smtp_require_tls
    )
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}; check it with: amtool check-config {args.output}")
    return 0
