"""TLS between the gateway and its clients (the agent, the importers): the one place their SSLContext is built, and
what a failed connection says about TLS, as one line naming the gateway's URL and what to do.

Roots: the CA file of --ca-file (ALIGNMON_AGENT_CA_FILE) alone when given, else $SSL_CERT_FILE, $SSL_CERT_DIR,
certifi's bundle, the system's. A client certificate (--client-cert, --client-key) for a gateway that requires one.

`diagnose` tells a TLS misconfiguration from an outage. Terminal (no resend can succeed until someone changes a
setting; the caller keeps the events): an https:// URL to a plain-http server (it answers the handshake in plain
text), an http:// URL to a TLS gateway (it closes the connection unanswered, and a handshake with it succeeds), a
certificate the roots do not vouch for or that names another host, a gateway that refuses this client's certificate
or its lack of one (with a certificate alert; or, as asyncio's and uvloop's TLS do, by closing the connection without
one: see `_refuses_client`). Retried: an expired certificate (the gateway's operator renews it) or one not valid yet
(this computer's clock), and any other close, such as a TLS-terminating proxy's whose backend is down.
"""

from __future__ import annotations

import argparse
import os
import socket
import ssl
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from base.arguments import environment
from base.errors import AlignmonError
from base.pem import KEY_MISMATCH, pem_text, refuse_passphrase

CA_FILE_ENV = "ALIGNMON_AGENT_CA_FILE"
CLIENT_CERT_ENV = "ALIGNMON_AGENT_CLIENT_CERT"
CLIENT_KEY_ENV = "ALIGNMON_AGENT_CLIENT_KEY"
PROBE_TIMEOUT_S = 10.0

# OpenSSL's reasons when the server's first bytes are not a TLS record (a plain-http server's 400 answer).
_NOT_TLS = {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL"}
# Alerts a server sends about the client's certificate (or a TLS 1.2 server about its lack).
_CERT_ALERTS = ("CERTIFICATE", "UNKNOWN_CA", "HANDSHAKE_FAILURE", "ACCESS_DENIED")
# How a server that closes the connection unanswered shows up.
_CLOSED = (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError, ssl.SSLZeroReturnError)
_HOST_MISMATCH = {62, 64}  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
_EXPIRED, _NOT_YET_VALID = 10, 9


class ClientTLS(NamedTuple):
    """Which CA a client trusts for the gateway's certificate and which certificate it presents; None: the default."""

    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    names: tuple[str, str, str] = ("--ca-file", "--client-cert", "--client-key")  # for messages: option or variable

    @classmethod
    def from_arguments(cls, args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> ClientTLS:
        """From --ca-file, --client-cert, --client-key (base.arguments.add_gateway_tls), else their variables."""
        values: list[Path | None] = []
        names: list[str] = []
        for attribute, option, variable in (
            ("ca_file", "--ca-file", CA_FILE_ENV),
            ("client_cert", "--client-cert", CLIENT_CERT_ENV),
            ("client_key", "--client-key", CLIENT_KEY_ENV),
        ):
            given = getattr(args, attribute, None)
            text = None if given is not None else (environment(variable, environ) or "").strip()
            values.append(Path(given) if given is not None else Path(text) if text else None)
            names.append(variable if given is None and text else option)
        return cls(values[0], values[1], values[2], (names[0], names[1], names[2]))

    @property
    def configured(self) -> bool:
        return any(path is not None for path in (self.ca_file, self.client_cert, self.client_key))

    def check(self, url: str) -> None:
        """Fail now, naming the file or the URL, when these settings cannot work with the gateway at `url`."""
        if not self.configured:
            return
        if urllib.parse.urlsplit(url).scheme != "https":
            given = ", ".join(n for n, p in zip(self.names, self[:3], strict=True) if p is not None)
            raise AlignmonError(f"{given}: only for an https:// gateway, and {url} is not one: use https://")
        self.context()

    def context(self) -> ssl.SSLContext:
        """The client context; raises AlignmonError naming a file that cannot be used."""
        ca_name, cert_name, key_name = self.names
        if self.ca_file is None:
            context = default_context()
        else:
            pem_text(
                self.ca_file,
                "CERTIFICATE",
                "the CA certificate (PEM) that signed the gateway's",
                f"{ca_name} {self.ca_file}",
            )
            try:
                context = ssl.create_default_context(cafile=self.ca_file)
            except ssl.SSLError as exc:
                raise AlignmonError(
                    f"{ca_name} {self.ca_file}: not a usable CA certificate ({exc.reason or exc}): give the PEM file "
                    "of the CA that signed the gateway's certificate"
                ) from None
        if self.client_cert is None:
            if self.client_key is not None:
                raise AlignmonError(f"{key_name} {self.client_key} without a client certificate: pass {cert_name} too")
            return context
        pem_text(self.client_cert, "CERTIFICATE", "this client's certificate (PEM)", f"{cert_name} {self.client_cert}")
        key = self.client_key or self.client_cert
        where = key_name if self.client_key is not None else cert_name
        text = pem_text(key, "PRIVATE KEY", f"the private key of {cert_name} (pass {key_name})", f"{where} {key}")
        if "ENCRYPTED" in text:
            raise AlignmonError(f"{where} {key}: the key is encrypted with a passphrase: give it unencrypted")
        try:
            context.load_cert_chain(self.client_cert, key, password=refuse_passphrase)
        except ssl.SSLError as exc:
            if exc.reason in KEY_MISMATCH:
                raise AlignmonError(f"{where} {key} is not the key of {cert_name} {self.client_cert}") from None
            raise AlignmonError(
                f"{cert_name} {self.client_cert}: not a usable certificate and key ({exc.reason or exc})"
            ) from None
        return context


def default_context() -> ssl.SSLContext:
    """The roots httpx used: $SSL_CERT_FILE, else $SSL_CERT_DIR, else certifi's bundle (the system's without it)."""
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    try:
        import certifi  # noqa: PLC0415
    except ImportError:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


class Diagnosis(NamedTuple):
    """What a failed connection says about TLS: one line, and whether a resend could ever succeed."""

    message: str
    terminal: bool


def diagnose(
    url: str,
    error: BaseException,
    tls: ClientTLS,
    context: ssl.SSLContext | None,
    *,
    probe: bool = True,
    timeout_s: float = PROBE_TIMEOUT_S,
) -> Diagnosis | None:
    """The TLS explanation of `error` from posting to `url`, or None when it is not a TLS matter (an outage).

    With `probe` (no proxy between), an unanswered close is looked into with one more connection to the gateway.
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    base = f"{parts.scheme}://{parts.netloc}"
    https = parts.scheme == "https"
    try:
        port = parts.port or (443 if https else 80)
    except ValueError:
        return None
    if not https:
        if isinstance(error, _CLOSED) and probe and _speaks_tls(host, port, timeout_s):
            return Diagnosis(
                f"the gateway at {base} closed the connection without an HTTP answer: it serves https: use "
                f"https://{parts.netloc} (with --ca-file when a CA of your own signed its certificate)",
                terminal=True,
            )
        return None
    if isinstance(error, ssl.SSLCertVerificationError):
        return _untrusted(base, host, error, tls)
    reason = getattr(error, "reason", None) if isinstance(error, ssl.SSLError) else None
    if isinstance(reason, str) and reason in _NOT_TLS:
        return Diagnosis(
            f"the gateway at {base} does not speak TLS (it answered the handshake in plain text, {reason}): it "
            f"serves plain http: turn TLS on at the gateway (ALIGNMON_GATEWAY_TLS_CERT, ALIGNMON_GATEWAY_TLS_KEY) "
            f"or use http://{parts.netloc}",
            terminal=True,
        )
    refused = isinstance(reason, str) and _is_certificate_alert(reason)
    if not refused and isinstance(error, _CLOSED) and probe and context is not None:
        refused = _refuses_client(host, port, tls, timeout_s)
    if refused:
        return _client_refused(base, tls)
    return None


def _untrusted(base: str, host: str, error: ssl.SSLCertVerificationError, tls: ClientTLS) -> Diagnosis:
    detail = (error.verify_message or str(error)).rstrip(".")
    if error.verify_code in _HOST_MISMATCH:
        return Diagnosis(
            f"the gateway at {base} presents a certificate for another host ({detail}): put a host name its "
            f"certificate names in the URL, or have the gateway's certificate issued for {host}",
            terminal=True,
        )
    if error.verify_code == _EXPIRED:
        return Diagnosis(
            f"the certificate of the gateway at {base} has expired: its operator must renew it "
            "(ALIGNMON_GATEWAY_TLS_CERT); uploads resume then",
            terminal=False,
        )
    if error.verify_code == _NOT_YET_VALID:
        return Diagnosis(
            f"the certificate of the gateway at {base} is not valid yet: check this computer's clock", terminal=False
        )
    if tls.ca_file is not None:
        return Diagnosis(
            f"the gateway at {base} presents a certificate that the CA in {tls.names[0]} {tls.ca_file} did not sign "
            f"({detail}): pass the CA certificate that signed the gateway's",
            terminal=True,
        )
    return Diagnosis(
        f"the gateway at {base} presents a certificate this computer does not trust ({detail}): pass --ca-file with "
        "the CA certificate that signed it",
        terminal=True,
    )


def _client_refused(base: str, tls: ClientTLS) -> Diagnosis:
    if tls.client_cert is None:
        return Diagnosis(
            f"the gateway at {base} requires a client certificate (mutual TLS) and closed the connection without one: "
            "pass --client-cert and --client-key, a certificate signed by the CA the gateway trusts "
            "(its ALIGNMON_GATEWAY_TLS_CLIENT_CA)",
            terminal=True,
        )
    return Diagnosis(
        f"the gateway at {base} refused the client certificate {tls.client_cert} (it closed the connection after the "
        "handshake): pass one signed by the CA the gateway trusts (its ALIGNMON_GATEWAY_TLS_CLIENT_CA), not expired",
        terminal=True,
    )


def _is_certificate_alert(reason: str) -> bool:
    return "ALERT" in reason and any(alert in reason for alert in _CERT_ALERTS)


def _handshake(host: str, port: int, context: ssl.SSLContext, timeout_s: float) -> str:
    """How a TLS handshake with host:port as `context` ends: "done", "alert: REASON", "closed" (broken off without
    an alert), or "failed" (no connection, or not TLS)."""
    try:
        raw = socket.create_connection((host, port), timeout=timeout_s)
    except OSError:
        return "failed"
    with raw:
        try:
            with context.wrap_socket(raw, server_hostname=host):
                return "done"
        except ssl.SSLError as exc:
            reason = str(exc.reason or "")
            if "ALERT" in reason:
                return f"alert: {reason}"
            return "closed" if isinstance(exc, _CLOSED) else "failed"
        except _CLOSED:
            return "closed"
        except OSError:
            return "failed"


def _speaks_tls(host: str, port: int, timeout_s: float) -> bool:
    """Whether a TLS handshake with host:port gets TLS back (a certificate, or a TLS alert)."""
    ended = _handshake(host, port, _asks_nothing(), timeout_s)
    return ended == "done" or ended.startswith("alert")


def _asks_nothing() -> ssl.SSLContext:
    """A client context that checks nothing of the server and offers no certificate: does it speak TLS at all?"""
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE  # nothing is sent over it
    return probe


def _refuses_client(host: str, port: int, tls: ClientTLS, timeout_s: float) -> bool:
    """Whether the gateway refuses this client's certificate, or its lack of one, when it said so by closing the
    connection: asyncio's and uvloop's TLS (the gateway's) send no alert. Under TLS 1.3 that close comes after the
    client's side of the handshake, just as a TLS-terminating proxy whose backend is down closes an answered
    handshake; under TLS 1.2 the server checks the client's certificate inside the handshake. So: a TLS 1.2
    handshake as this client that the server breaks off after it answered the client's hello (it speaks TLS 1.2 and
    read the certificate, or its lack). A server that answers nothing (TLS 1.3 only, or a balancer that drops every
    connection) cannot be asked: retried."""
    strict = tls.context()
    strict.maximum_version = ssl.TLSVersion.TLSv1_2
    ended = _handshake_by_hand(host, port, strict, timeout_s)
    if ended.startswith("alert"):
        return _is_certificate_alert(ended)
    return ended == "closed after the server's hello"


def _handshake_by_hand(host: str, port: int, context: ssl.SSLContext, timeout_s: float) -> str:
    """A handshake over memory buffers, to see how far the server went: "done", "alert: REASON", "closed after the
    server's hello" (it answered, then closed), "closed" (it answered nothing), or "failed"."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=host)
    received = 0
    try:
        raw = socket.create_connection((host, port), timeout=timeout_s)
    except OSError:
        return "failed"
    with raw:
        while True:
            try:
                tls.do_handshake()
                return "done"
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as exc:
                reason = str(exc.reason or "")
                return f"alert: {reason}" if "ALERT" in reason else "failed"
            try:
                if pending := outgoing.read():
                    raw.sendall(pending)
                chunk = raw.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            except OSError:
                return "failed"
            if not chunk:
                return "closed after the server's hello" if received else "closed"
            received += len(chunk)
            incoming.write(chunk)
