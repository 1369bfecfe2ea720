"""`alignmon gateway` (the HTTP ingestion service) and `alignmon tokens` (device tokens: token_commands.py): the
side that holds the key. `alignmon directory` is collectors/directory/commands.py."""

from __future__ import annotations

import argparse

from collectors.gateway import token_commands


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gateway = sub.add_parser(
        "gateway",
        help="run the HTTP ingestion gateway (devices -> Kafka)",
        description="Serve POST /v1/events (JSON array or NDJSON, optionally gzip; 'Authorization: Bearer "
        "<device token>'), GET /healthz and GET /metrics. Events are validated, user names pseudonymised "
        "with ALIGNMON_PSEUDONYM_SECRET, titles dropped unless ALIGNMON_TITLES_ENABLED, departments added "
        "from ALIGNMON_DIRECTORY_CSV, and produced to ALIGNMON_TOPIC on ALIGNMON_KAFKA_BOOTSTRAP. While Kafka "
        "is unreachable events are spooled to ALIGNMON_SPOOL_DIR and replayed in order when it returns. SIGTERM "
        "or Ctrl-C stops it: requests in flight are answered, deliveries and the spool flushed, then exit status 0. "
        "With ALIGNMON_GATEWAY_TLS_CERT and ALIGNMON_GATEWAY_TLS_KEY it serves https, and with "
        "ALIGNMON_GATEWAY_TLS_CLIENT_CA it also requires a client certificate signed by that CA (docs/collectors.md, "
        "TLS).",
    )
    gateway.add_argument("--host", help="listen address (default: ALIGNMON_GATEWAY_HOST)")
    gateway.add_argument("--port", type=int, help="listen port (default: ALIGNMON_GATEWAY_PORT)")
    gateway.set_defaults(handler=_gateway)

    token_commands.register(sub)


def _gateway(args: argparse.Namespace) -> int:
    from base.kafka_security import KafkaSecurity  # noqa: PLC0415
    from base.settings import Settings  # noqa: PLC0415
    from collectors.gateway.app import create_app  # noqa: PLC0415
    from collectors.gateway.foreground import ForegroundServer  # noqa: PLC0415
    from collectors.gateway.server import Limits, uvicorn_config  # noqa: PLC0415
    from collectors.gateway.service import GatewayService  # noqa: PLC0415
    from collectors.gateway.tls import ServerTLS  # noqa: PLC0415
    from collectors.gateway.workers import Supervisor, check_port_free, slots_in_use, worker_count  # noqa: PLC0415

    settings = Settings()
    host = args.host or settings.gateway_host
    port = args.port if args.port is not None else settings.gateway_port
    tls = ServerTLS.from_settings(settings)  # unreadable or mismatched files: one line here, before any worker
    check_port_free(host, port)  # a port in use: one line saying what to do, before the start line
    security = KafkaSecurity.from_settings(settings)  # its files: one line here, as the TLS settings'
    security.check(settings.kafka_bootstrap)  # a cluster that refuses its certificate or password: one line, exit 1
    served = f"https://{host}:{port} ({tls.describe()})" if tls else f"http://{host}:{port} (plain http: no TLS)"
    kafka = (
        settings.kafka_bootstrap
        if security.protocol == "PLAINTEXT"
        else f"{settings.kafka_bootstrap} ({security.describe()})"
    )
    workers = max(worker_count(settings), slots_in_use(settings.spool_dir))
    if workers > 1:
        GatewayService.check_settings(settings)  # a bad key or directory: one error here, not one per worker
        print(
            f"alignmon gateway on {served} ({workers} workers) -> Kafka {kafka} topic {settings.topic}",
            flush=True,  # standard output is a pipe under systemd: the journal gets the line now, not at exit
        )
        return Supervisor(settings, host, port, workers, verbose=args.verbose).run()
    service = GatewayService.from_settings(settings)
    print(f"alignmon gateway on {served} -> Kafka {kafka} topic {settings.topic}", flush=True)
    config = uvicorn_config(create_app(service), host, port, Limits.from_settings(settings), tls)
    return ForegroundServer(config).serve_until_signal()  # 0 after a clean stop on SIGTERM or SIGINT
