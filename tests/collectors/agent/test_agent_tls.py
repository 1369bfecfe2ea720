"""The agent over TLS to a real gateway: https with --ca-file, mutual TLS with a client certificate, and each way TLS
can be misconfigured stopping the agent with one line naming the URL and what to do, its events kept in the spool
and delivered once the configuration is fixed. Certificates come from a throwaway CA (trustme)."""

from __future__ import annotations

import argparse
import sqlite3
import ssl
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alignmon.cli import main
from base.settings import Settings
from collectors.record import events_of
from collectors.spool import Spool
from collectors.tls import CA_FILE_ENV, CLIENT_CERT_ENV, CLIENT_KEY_ENV, ClientTLS, Diagnosis, diagnose
from collectors.uploader import Uploader, UploadRetryError, UploadTLSError
from tests.support.tls import DEVICE, Certificates, TLSGateway, rsa_key

EXIT_REFUSED = 3  # collectors.agent.agent: the gateway refused the token or the configuration


def whatpulse_db(path: Path, app: str) -> Path:
    """A WhatPulse database with one settled hour of `app` (the agent's whatpulse source reads it)."""
    hour = (datetime.now(UTC) - timedelta(hours=4)).replace(minute=0, second=0, microsecond=0)
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE application_active_hour (day DATE, hour INTEGER, path VARCHAR, msec_active INTEGER)")
    con.execute(
        "INSERT INTO application_active_hour VALUES (?, ?, ?, ?)", (hour.date().isoformat(), hour.hour, app, 60_000)
    )
    con.commit()
    con.close()
    return path


class AgentRun:
    """`alignmon agent --once` with the whatpulse source against a gateway, in a subprocess, with one spool."""

    def __init__(self, alignmon: Any, tmp: Path, gateway: TLSGateway, app: str) -> None:
        self.alignmon = alignmon
        self.gateway = gateway
        self.app = app
        self.spool = tmp / "agent-spool"
        self.db = whatpulse_db(tmp / "whatpulse.db", app)

    def __call__(self, url: str, options: list[str], env: dict[str, str] | None = None) -> Any:
        argv = ["agent", "--gateway", url, *options, "--source", "whatpulse", "--whatpulse-db", str(self.db), "--once",
                "--interval", "0.05", "--spool", str(self.spool), "--device", DEVICE, "--user", "tess",
                "--token-file", str(self.gateway.token_file)]  # fmt: skip
        return self.alignmon.run(argv, {"TZ": "UTC", "SSL_CERT_FILE": "", "SSL_CERT_DIR": "", **(env or {})})

    def waiting(self) -> int:
        with Spool(self.spool) as spool:
            return spool.depth

    def delivered(self, read_topic: Callable[..., list[Any]]) -> list[dict[str, Any]]:
        records = read_topic(self.gateway.bootstrap, self.gateway.topic)
        return [e for r in records for e in events_of(r.value) if e["app"] == self.app]


def _ca(c: Certificates) -> list[str]:
    return c.options()


def _client(c: Certificates) -> list[str]:
    return c.options(client=True)


# case: (gateway kind, URL, options, the one line's text, the URL and options that fix it); {port} is the gateway's
Options = Callable[[Certificates], list[str]]
CASES: dict[str, tuple[str, str, Options, str, str, Options]] = {
    "https-to-plain": (
        "plain", "https://localhost:{port}", _ca,
        "the gateway at https://localhost:{port} does not speak TLS (it answered the handshake in plain text, "
        "WRONG_VERSION_NUMBER): it serves plain http: turn TLS on at the gateway (ALIGNMON_GATEWAY_TLS_CERT, "
        "ALIGNMON_GATEWAY_TLS_KEY) or use http://localhost:{port}",
        "http://localhost:{port}", lambda _c: [],
    ),
    "http-to-tls": (
        "tls", "http://localhost:{port}", lambda _c: [],
        "the gateway at http://localhost:{port} closed the connection without an HTTP answer: it serves https: use "
        "https://localhost:{port} (with --ca-file when a CA of your own signed its certificate)",
        "https://localhost:{port}", _ca,
    ),
    "untrusted": (
        "tls", "https://localhost:{port}", lambda _c: [],
        "the gateway at https://localhost:{port} presents a certificate this computer does not trust (unable to get "
        "local issuer certificate): pass --ca-file with the CA certificate that signed it",
        "https://localhost:{port}", _ca,
    ),
    "wrong-host": (
        "tls", "https://127.0.0.1:{port}", _ca,
        "the gateway at https://127.0.0.1:{port} presents a certificate for another host (IP address mismatch, "
        "certificate is not valid for '127.0.0.1'): put a host name its certificate names in the URL, or have the "
        "gateway's certificate issued for 127.0.0.1",
        "https://localhost:{port}", _ca,
    ),
    "no-client-certificate": (
        "mtls", "https://localhost:{port}", _ca,
        "the gateway at https://localhost:{port} requires a client certificate (mutual TLS) and closed the "
        "connection without one: pass --client-cert and --client-key",
        "https://localhost:{port}", _client,
    ),
    "client-certificate-of-another-ca": (
        "mtls", "https://localhost:{port}",
        lambda c: [*_ca(c), "--client-cert", str(c.stranger_cert), "--client-key", str(c.stranger_key)],
        "the gateway at https://localhost:{port} refused the client certificate {stranger} (it closed the connection "
        "after the handshake): pass one signed by the CA the gateway trusts",
        "https://localhost:{port}", _client,
    ),
}  # fmt: skip


@pytest.mark.integration
@pytest.mark.parametrize("case", list(CASES))
def test_a_tls_mistake_stops_the_agent_with_one_line_and_loses_nothing(
    case: str,
    alignmon: Any,
    tls_gateway: Callable[[str], TLSGateway],
    tls_certificates: Certificates,
    read_topic: Callable[..., list[Any]],
    tmp_path: Path,
) -> None:
    kind, url, options, line, fixed_url, fixed_options = CASES[case]
    gateway = tls_gateway(kind)
    run = AgentRun(alignmon, tmp_path, gateway, f"tls-{case}")
    fill = {"port": gateway.port, "stranger": tls_certificates.stranger_cert}

    refused = run(url.format(**fill), options(tls_certificates))
    assert refused.returncode == EXIT_REFUSED, refused.stderr
    said = [text for text in refused.stderr.splitlines() if "the gateway at" in text]
    assert len(said) == 1, refused.stderr
    assert line.format(**fill) in said[0]
    assert said[0].endswith("(the events stay in the spool: 1)")
    assert "Traceback" not in refused.stderr
    assert run.waiting() == 1
    assert run.delivered(read_topic) == []

    fixed = run(fixed_url.format(**fill), fixed_options(tls_certificates))
    assert fixed.returncode == 0, fixed.stderr
    assert run.waiting() == 0
    (event,) = run.delivered(read_topic)  # the event kept in the spool, sent once
    assert event["source"] == "whatpulse"


@pytest.mark.integration
def test_mutual_tls_from_the_agents_settings(
    alignmon: Any,
    tls_gateway: Callable[[str], TLSGateway],
    tls_certificates: Certificates,
    read_topic: Callable[..., list[Any]],
    tmp_path: Path,
) -> None:
    """ALIGNMON_AGENT_CA_FILE and ALIGNMON_AGENT_CLIENT_CERT (a file holding certificate and key) instead of options."""
    gateway = tls_gateway("mtls")
    run = AgentRun(alignmon, tmp_path, gateway, "tls-settings")
    env = {CA_FILE_ENV: str(tls_certificates.ca), CLIENT_CERT_ENV: str(tls_certificates.client_pem)}
    done = run(gateway.url, [], env)
    assert done.returncode == 0, done.stderr
    assert len(run.delivered(read_topic)) == 1


@pytest.mark.integration
def test_an_expired_gateway_certificate_is_retried_not_fatal(
    tls_gateway: Callable[[str], TLSGateway], tls_certificates: Certificates, tmp_path: Path
) -> None:
    """The gateway's operator renews it, nothing on the endpoint to change: the uploader waits and tries again."""
    gateway = tls_gateway("expired")
    with Spool(tmp_path / "spool") as spool:
        spool.append([b'{"event_id": "e-1"}'])
        uploader = Uploader(spool, gateway.url, gateway.tokens[DEVICE], tls=ClientTLS(ca_file=tls_certificates.ca))
        with pytest.raises(UploadRetryError) as retry:
            uploader.upload_once()
        assert retry.value.reason == (
            f"gateway unreachable: the certificate of the gateway at https://localhost:{gateway.port} has expired: its "
            "operator must renew it (ALIGNMON_GATEWAY_TLS_CERT); uploads resume then"
        )
        assert spool.depth == 1


# -- the files and options are checked at start, before any source runs ------------------------------------------


def _start_errors(c: Certificates, tmp: Path) -> dict[str, tuple[list[str], str]]:
    return {
        "ca-file with http": (
            ["--gateway", "http://gw:18700", "--ca-file", str(c.ca)],
            "--ca-file: only for an https:// gateway, and http://gw:18700 is not one: use https://",
        ),
        "missing ca-file": (
            ["--gateway", "https://gw:18700", "--ca-file", str(tmp / "nope.pem")],
            f"--ca-file {tmp / 'nope.pem'}: cannot read it (No such file or directory): give the file of the CA "
            "certificate (PEM) that signed the gateway's",
        ),
        "key as ca-file": (
            ["--gateway", "https://gw:18700", "--ca-file", str(c.key)],
            f"--ca-file {c.key} holds no PEM CERTIFICATE (it holds a private key): give the file of the CA certificate "
            "(PEM) that signed the gateway's",
        ),
        "key without certificate": (
            ["--gateway", "https://gw:18700", "--client-key", str(c.client_key)],
            f"--client-key {c.client_key} without a client certificate: pass --client-cert too",
        ),
        "certificate without key": (
            ["--gateway", "https://gw:18700", "--client-cert", str(c.client_cert)],
            f"--client-cert {c.client_cert} holds no PEM PRIVATE KEY: give the file of the private key of "
            "--client-cert (pass --client-key)",
        ),
        "key of another certificate": (
            ["--gateway", "https://gw:18700", "--client-cert", str(c.client_cert), "--client-key", str(c.key)],
            f"--client-key {c.key} is not the key of --client-cert {c.client_cert}",
        ),
        "key of another type": (  # an RSA key for the EC certificate
            ["--gateway", "https://gw:18700", "--client-cert", str(c.client_cert), "--client-key", str(rsa_key(tmp))],
            f"--client-key {tmp / 'rsa-key.pem'} is not the key of --client-cert {c.client_cert}",
        ),
        "encrypted key": (
            [
                "--gateway",
                "https://gw:18700",
                "--client-cert",
                str(c.client_cert),
                "--client-key",
                str(_encrypted(c, tmp)),
            ],
            f"--client-key {tmp / 'encrypted.pem'}: the key is encrypted with a passphrase: give it unencrypted",
        ),
    }


def _encrypted(c: Certificates, tmp: Path) -> Path:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(c.client_key.read_bytes(), password=None)
    encryption = serialization.BestAvailableEncryption(b"passphrase")
    path = tmp / "encrypted.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    return path


@pytest.mark.parametrize(
    "case",
    ["ca-file with http", "missing ca-file", "key as ca-file", "key without certificate", "certificate without key",
     "key of another certificate", "key of another type", "encrypted key"],
)  # fmt: skip
def test_tls_files_that_cannot_work_stop_the_agent_at_start(
    case: str,
    tls_certificates: Certificates,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in (CA_FILE_ENV, CLIENT_CERT_ENV, CLIENT_KEY_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALIGNMON_AGENT_TOKEN", "t")
    argv, line = _start_errors(tls_certificates, tmp_path)[case]
    # --display: an x11 source would fail on it, so a pass means the TLS check came first
    code = main(["agent", *argv, "--display", ":4711", "--spool", str(tmp_path / "spool")])
    assert code == 1
    assert capsys.readouterr().err == f"alignmon: error: {line}\n"


@pytest.mark.parametrize(
    "environ",
    [
        {CA_FILE_ENV: "/etc/ca.pem", CLIENT_CERT_ENV: "/etc/client.pem", CLIENT_KEY_ENV: "/etc/client.key"},
        {CA_FILE_ENV.lower(): "/etc/ca.pem", "Alignmon_Agent_Client_Cert": "/etc/both.pem"},
        {},
    ],
)
def test_the_tls_variables_are_the_settings_ones(environ: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    names = {CA_FILE_ENV, CLIENT_CERT_ENV, CLIENT_KEY_ENV}
    for name in [n for n in __import__("os").environ if n.upper() in names]:
        monkeypatch.delenv(name)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    read = ClientTLS.from_arguments(argparse.Namespace())
    assert (read.ca_file, read.client_cert, read.client_key) == (
        settings.agent_ca_file,
        settings.agent_client_cert,
        settings.agent_client_key,
    )
    given = argparse.Namespace(ca_file=Path("/opt/ca.pem"), client_cert=None, client_key=None)
    assert ClientTLS.from_arguments(given).ca_file == Path("/opt/ca.pem")  # an option wins over the variable


def test_every_client_of_the_gateway_has_the_tls_options(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["agent"], ["import", "activitywatch"], ["import", "whatpulse"], ["import", "osquery"]):
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        text = capsys.readouterr().out
        for option in ("--ca-file FILE", "--client-cert FILE", "--client-key FILE", CA_FILE_ENV, CLIENT_CERT_ENV):
            assert option in text, (command, option)


def test_a_certificate_not_valid_yet_is_retried_with_a_word_on_the_clock() -> None:
    """Not valid yet mostly means this computer's clock is behind: retried, and the line says where to look."""
    error = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate is not yet valid")
    error.verify_code, error.verify_message = 9, "certificate is not yet valid"
    found = diagnose("https://gw.example:18700/v1/events", error, ClientTLS(), None, probe=False)
    assert found == Diagnosis(
        "the certificate of the gateway at https://gw.example:18700 is not valid yet: check this computer's clock",
        terminal=False,
    )


def test_a_close_without_tls_behind_it_is_retried_like_an_outage(tmp_path: Path) -> None:
    """A server that closes connections unanswered (a gateway going down) and does not speak TLS either: retried."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def close_everything() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            connection.close()

    threading.Thread(target=close_everything, daemon=True).start()
    try:
        with Spool(tmp_path / "spool") as spool:
            spool.append([b'{"event_id": "e-1"}'])
            with pytest.raises(
                UploadRetryError,
                match=r"gateway unreachable: (RemoteDisconnected|ConnectionResetError|BrokenPipeError)",
            ):
                Uploader(spool, f"http://127.0.0.1:{port}", "t").upload_once()
            assert spool.depth == 1
    finally:
        listener.close()


@pytest.mark.integration
def test_through_a_proxy_an_unanswered_close_is_retried(
    tls_gateway: Callable[[str], TLSGateway], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The uploader does not ask the gateway itself when a proxy stands between: what it would reach is not what
    the proxy reached. Here the 'proxy' is the TLS gateway, which a direct handshake would find speaking TLS."""
    gateway = tls_gateway("tls")
    for name in ("no_proxy", "NO_PROXY", "http_proxy", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://localhost:{gateway.port}")
    with Spool(tmp_path / "spool") as spool:
        spool.append([b'{"event_id": "e-1"}'])
        with pytest.raises(UploadRetryError, match="gateway unreachable"):
            Uploader(spool, f"http://localhost:{gateway.port}", gateway.tokens[DEVICE]).upload_once()
        assert spool.depth == 1
    monkeypatch.delenv("HTTP_PROXY")
    with Spool(tmp_path / "spool") as spool, pytest.raises(UploadTLSError, match="it serves https"):
        Uploader(spool, f"http://localhost:{gateway.port}", gateway.tokens[DEVICE]).upload_once()  # direct: asked


def backend_down_proxy(
    certs: Certificates, *, client_ca: bool, tls13_only: bool = False
) -> tuple[int, Callable[[], None]]:
    """A TLS-terminating proxy whose backend is down: it completes every handshake (checking client certificates
    against the test CA when `client_ca`), then closes without an answer. On asyncio's TLS, as the gateway: a refused
    certificate or TLS version is a close without a TLS alert. Its port, and how to stop it."""
    import asyncio
    import threading

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.cert, certs.key)
    if client_ca:
        context.load_verify_locations(certs.ca)
        context.verify_mode = ssl.CERT_REQUIRED
    if tls13_only:
        context.minimum_version = ssl.TLSVersion.TLSv1_3
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda _loop, _context: None)  # refused handshakes are the point, not news
    ports: list[int] = []
    started = threading.Event()

    async def close_unanswered(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    def serve() -> None:
        server = loop.run_until_complete(asyncio.start_server(close_unanswered, "127.0.0.1", 0, ssl=context))
        ports.append(server.sockets[0].getsockname()[1])
        started.set()
        loop.run_forever()
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    started.wait(10)

    def stop() -> None:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)

    return ports[0], stop


@pytest.mark.parametrize("client_ca", [False, True], ids=["tls", "mutual-tls"])
def test_a_tls_proxy_whose_backend_is_down_is_retried_not_fatal(
    client_ca: bool, tls_certificates: Certificates, tmp_path: Path
) -> None:
    """Its close after the handshake looks like a gateway refusing a client certificate under TLS 1.3; the agent
    must not stop for good (every agent behind the proxy would) but keep its events and retry."""
    port, stop = backend_down_proxy(tls_certificates, client_ca=client_ca)
    tls = ClientTLS(tls_certificates.ca, tls_certificates.client_cert, tls_certificates.client_key)
    try:
        with Spool(tmp_path / "spool") as spool:
            spool.append([b'{"event_id": "e-1"}'])
            with pytest.raises(UploadRetryError, match="gateway unreachable"):
                Uploader(spool, f"https://localhost:{port}", "t", tls=tls).upload_once()
            assert spool.depth == 1
            if client_ca:  # the same proxy, and a client without a certificate: that it refuses
                with pytest.raises(UploadTLSError, match="requires a client certificate"):
                    Uploader(spool, f"https://localhost:{port}", "t", tls=ClientTLS(tls_certificates.ca)).upload_once()
                assert spool.depth == 1
    finally:
        stop()


def test_a_refused_client_certificate_at_a_tls_1_3_only_gateway_is_retried(
    tls_certificates: Certificates, tmp_path: Path
) -> None:
    """Without TLS 1.2 the refusal cannot be told from a proxy's close (above): retried, the events kept."""
    port, stop = backend_down_proxy(tls_certificates, client_ca=True, tls13_only=True)
    try:
        with Spool(tmp_path / "spool") as spool:
            spool.append([b'{"event_id": "e-1"}'])
            with pytest.raises(UploadRetryError, match="gateway unreachable"):
                Uploader(spool, f"https://localhost:{port}", "t", tls=ClientTLS(tls_certificates.ca)).upload_once()
            assert spool.depth == 1
    finally:
        stop()
