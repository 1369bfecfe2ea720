"""TLS test material: a throwaway CA and certificates (trustme), and `alignmon gateway` run with TLS settings."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import trustme

from alignmon.stack.kafka import ensure_topics
from alignmon.stack.process import free_port
from collectors.gateway.tokens import TokenStore
from tests.support.wait import wait_until

SECRET = "tls-test-secret-0123456789"
DEVICE = "laptop-tls"


@dataclass(frozen=True)
class Certificates:
    """PEM files in one folder: the gateway's certificate is for `localhost` only (so 127.0.0.1 is another host)."""

    ca: Path  # signed the gateway's certificate and the client's
    cert: Path
    key: Path
    client_cert: Path
    client_key: Path
    client_pem: Path  # the client's certificate and key in one file
    stranger_cert: Path  # a client certificate signed by another CA
    stranger_key: Path
    other_ca: Path  # a CA that signed nothing here
    expired_cert: Path  # for localhost, signed by `ca`, expired
    expired_key: Path

    @classmethod
    def make(cls, folder: Path) -> Certificates:
        folder.mkdir(parents=True, exist_ok=True)
        ca, other = trustme.CA(), trustme.CA()
        server = ca.issue_cert("localhost")
        client = ca.issue_cert("laptop-tls.clients.example")
        stranger = other.issue_cert("laptop-tls.clients.example")
        past = datetime.now(UTC) - timedelta(days=30)
        expired = ca.issue_cert("localhost", not_before=past, not_after=past + timedelta(days=1))
        paths = {name: folder / f"{name}.pem" for name in cls.__dataclass_fields__}
        ca.cert_pem.write_to_path(str(paths["ca"]))
        other.cert_pem.write_to_path(str(paths["other_ca"]))
        for name, issued in (("", server), ("client_", client), ("stranger_", stranger), ("expired_", expired)):
            issued.cert_chain_pems[0].write_to_path(str(paths[f"{name}cert"]))
            issued.private_key_pem.write_to_path(str(paths[f"{name}key"]))
        client.private_key_and_cert_chain_pem.write_to_path(str(paths["client_pem"]))
        return cls(**paths)

    def options(self, *, client: bool = False) -> list[str]:
        """The command-line options that trust the test CA (and present the client certificate)."""
        options = ["--ca-file", str(self.ca)]
        if client:
            options += ["--client-cert", str(self.client_cert), "--client-key", str(self.client_key)]
        return options

    def client_context(self, *, client: bool = False) -> ssl.SSLContext:
        """A context that trusts the test CA (and presents the client certificate)."""
        context = ssl.create_default_context(cafile=self.ca)
        if client:
            context.load_cert_chain(self.client_cert, self.client_key)
        return context


def rsa_key(folder: Path) -> Path:
    """An RSA key in `folder`/rsa-key.pem: the certificates above are EC, and OpenSSL names this mismatch apart."""
    path = folder / "rsa-key.pem"
    trustme.CA().issue_cert("localhost", key_type=trustme.KeyType.RSA).private_key_pem.write_to_path(str(path))
    return path


def tls_env(certs: Certificates, kind: str) -> dict[str, str]:
    """The gateway's TLS settings for a kind of gateway: plain, tls, mtls or expired."""
    if kind == "plain":
        return {}
    cert, key = (certs.expired_cert, certs.expired_key) if kind == "expired" else (certs.cert, certs.key)
    env = {"ALIGNMON_GATEWAY_TLS_CERT": str(cert), "ALIGNMON_GATEWAY_TLS_KEY": str(key)}
    if kind == "mtls":
        env["ALIGNMON_GATEWAY_TLS_CLIENT_CA"] = str(certs.ca)
    return env


class TLSGateway:
    """`alignmon gateway` in a subprocess on a free loopback port, its own topic, and a token for DEVICE."""

    def __init__(
        self,
        root: Path,
        bootstrap: str,
        certs: Certificates,
        kind: str,
        workers: int = 1,
        devices: tuple[str, ...] = (),
    ) -> None:
        self.root = root
        self.kind = kind
        self.certs = certs
        self.port = free_port()
        self.topic = f"test.tls.{uuid.uuid4().hex[:12]}"
        self.bootstrap = bootstrap
        root.mkdir(parents=True, exist_ok=True)
        ensure_topics(bootstrap, {self.topic: 3})
        store = TokenStore(root / "tokens.sqlite")
        self.tokens = {device: store.issue(device) for device in (DEVICE, *devices)}
        store.close()
        self.token_file = root / "token"
        self.token_file.write_text(self.tokens[DEVICE])
        self.env = {
            "ALIGNMON_PSEUDONYM_SECRET": SECRET,
            "ALIGNMON_DEV_MODE": "0",
            "ALIGNMON_STATE_DIR": str(root),
            "ALIGNMON_TOKEN_DB": str(root / "tokens.sqlite"),
            "ALIGNMON_SPOOL_DIR": str(root / "spool"),
            "ALIGNMON_KAFKA_BOOTSTRAP": bootstrap,
            "ALIGNMON_TOPIC": self.topic,
            "ALIGNMON_GATEWAY_PORT": str(self.port),
            "ALIGNMON_GATEWAY_WORKERS": str(workers),
            **tls_env(certs, kind),
        }
        self.log = root / "gateway.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def https(self) -> bool:
        return self.kind != "plain"

    @property
    def url(self) -> str:
        """The URL a correctly configured client uses."""
        return f"{'https' if self.https else 'http'}://localhost:{self.port}"

    def start(self) -> TLSGateway:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "alignmon.cli", "gateway"],
                env={**os.environ, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._healthy, 60, lambda: f"the {self.kind} gateway's /healthz; its log:\n{self.output()}")
        return self

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"the {self.kind} gateway exited with {self.proc.returncode}:\n{self.output()}")
        context = self.certs.client_context(client=self.kind == "mtls") if self.https else None
        if self.kind == "expired":  # a client that checks the certificate refuses it: this one only asks if it runs
            context = ssl.create_default_context(cafile=self.certs.ca)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        try:
            with httpx.Client(verify=context or True, timeout=5) as http:
                return http.get(f"{self.url}/healthz").status_code == 200
        except httpx.HTTPError:
            return False

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
