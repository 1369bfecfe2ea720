"""The Kafka clients' security (TLS, SASL): settings checked, and turned into kafka-python's arguments.

`KafkaSecurity.options()` is the one home of that rule: every client of ALIGNMON_KAFKA_BOOTSTRAP (the gateway's
producer, the importers' and the simulator's, the pipeline's consumer and dead-letter producer, its lease, the admin
client that creates the lease topic) spreads it into its constructor. `from_settings` checks the settings and their
files first and raises one line naming the setting and what to do, as the gateway's own TLS settings do.

`refusal()` asks the cluster once whether it takes this client: a TLS handshake, then kafka-python's own connection
set-up (API versions, SASL), all within one deadline. Asked because kafka-python retries a certificate it does not
trust or a wrong password until its bootstrap timeout (30 s) and then says only "Unable to bootstrap"; a refusal is
terminal, since no retry mends it. So only an explicit answer is one: a certificate the TLS handshake rejects, the
broker's "authentication failed", or the broker closing the connection during the SASL login itself. A cluster that
does not answer, or answers too slowly, or fails in any other way, is no refusal: that is an outage, the callers'
transient case.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import SecretStr

from base.errors import AlignmonError
from base.pem import KEY_MISMATCH, pem_text, refuse_passphrase

if TYPE_CHECKING:
    from base.settings import Settings

PROTOCOL = "ALIGNMON_KAFKA_SECURITY_PROTOCOL"
CA_FILE = "ALIGNMON_KAFKA_CA_FILE"
CLIENT_CERT = "ALIGNMON_KAFKA_CLIENT_CERT"
CLIENT_KEY = "ALIGNMON_KAFKA_CLIENT_KEY"
MECHANISM = "ALIGNMON_KAFKA_SASL_MECHANISM"
USERNAME = "ALIGNMON_KAFKA_SASL_USERNAME"
PASSWORD = "ALIGNMON_KAFKA_SASL_PASSWORD"
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
PROBE_TIMEOUT_S = 10.0
_HOST_MISMATCH = {62, 64}  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
_EXPIRED, _NOT_YET_VALID = 10, 9


class Refusal(NamedTuple):
    """Why the cluster does not take this client: a short kind (for metrics) and one line saying what to do."""

    kind: str
    message: str


class KafkaRefusedError(AlignmonError):
    """The cluster refuses this client (its certificate, its credentials): terminal until a setting changes."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.kind = refusal.kind


class KafkaSecurity(NamedTuple):
    """The Kafka clients' security settings; the default is PLAINTEXT, kafka-python's own default."""

    protocol: str = "PLAINTEXT"
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaSecurity:
        """The checked settings; raises AlignmonError, one line naming the setting that cannot work."""
        s = settings
        security = cls(
            s.kafka_security_protocol,
            s.kafka_ca_file,
            s.kafka_client_cert,
            s.kafka_client_key,
            s.kafka_sasl_mechanism,
            s.kafka_sasl_username or None,
            s.kafka_sasl_password if s.kafka_sasl_password and s.kafka_sasl_password.get_secret_value() else None,
        )
        security.validate()
        return security

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    def validate(self) -> None:
        """Raise AlignmonError when the settings contradict each other or a file cannot be used."""
        named = f"{PROTOCOL}={self.protocol}"
        tls_given = [
            n for n, v in ((CA_FILE, self.ca_file), (CLIENT_CERT, self.client_cert), (CLIENT_KEY, self.client_key)) if v
        ]
        if tls_given and not self.tls:
            raise AlignmonError(
                f"{_are_set(tls_given)} but {named} does not use TLS: set {PROTOCOL}=SSL or SASL_SSL, or unset "
                f"{'it' if len(tls_given) == 1 else 'them'}"
            )
        sasl_given = [
            n
            for n, v in (
                (MECHANISM, self.sasl_mechanism),
                (USERNAME, self.sasl_username),
                (PASSWORD, self.sasl_password),
            )
            if v
        ]
        if sasl_given and not self.sasl:
            raise AlignmonError(
                f"{_are_set(sasl_given)} but {named} does not authenticate with SASL: set {PROTOCOL}=SASL_SSL (or "
                f"SASL_PLAINTEXT), or unset {'it' if len(sasl_given) == 1 else 'them'}"
            )
        if self.sasl:
            if self.sasl_mechanism not in MECHANISMS:
                raise AlignmonError(
                    f"{named} needs {MECHANISM}: {', '.join(MECHANISMS)}, the one the cluster's listener enables for "
                    "alignmon's user"
                )
            missing = [n for n, v in ((USERNAME, self.sasl_username), (PASSWORD, self.sasl_password)) if not v]
            if missing:
                raise AlignmonError(f"{named} needs {' and '.join(missing)}: the credentials of alignmon's Kafka user")
        if self.client_key is not None and self.client_cert is None:
            raise AlignmonError(f"{CLIENT_KEY} is set but {CLIENT_CERT} is not: give the client certificate too")
        self.context()

    def context(self) -> ssl.SSLContext | None:
        """The TLS client context (None without TLS); raises AlignmonError naming a file that cannot be used."""
        if not self.tls:
            return None
        if self.ca_file is None:
            context = ssl.create_default_context()
        else:
            what = "the CA certificate (PEM) that signed the brokers' certificates"
            pem_text(self.ca_file, "CERTIFICATE", what, f"{CA_FILE}={self.ca_file}")
            try:
                context = ssl.create_default_context(cafile=self.ca_file)
            except ssl.SSLError as exc:
                raise AlignmonError(
                    f"{CA_FILE}={self.ca_file}: not a usable CA certificate ({exc.reason or exc}): give the PEM file "
                    "of the CA that signed the brokers' certificates"
                ) from None
        if self.client_cert is None:
            return context
        cert = self.client_cert
        pem_text(cert, "CERTIFICATE", "alignmon's client certificate (PEM)", f"{CLIENT_CERT}={cert}")
        key = self.client_key or cert
        where = CLIENT_KEY if self.client_key is not None else CLIENT_CERT
        text = pem_text(key, "PRIVATE KEY", f"the private key of {CLIENT_CERT} (set {CLIENT_KEY})", f"{where}={key}")
        if "ENCRYPTED" in text:
            raise AlignmonError(
                f"{where}={key}: the key is encrypted with a passphrase, which alignmon cannot ask for: give it "
                f"unencrypted (openssl pkey -in {key} -out key.pem), readable by alignmon's user only"
            )
        try:
            context.load_cert_chain(cert, key, password=refuse_passphrase)
        except ssl.SSLError as exc:
            if exc.reason in KEY_MISMATCH:
                raise AlignmonError(
                    f"{where}={key} is not the key of the certificate in {CLIENT_CERT}={cert}"
                ) from None
            raise AlignmonError(
                f"{CLIENT_CERT}={cert}: not a usable certificate and key ({exc.reason or exc}): give PEM files of the "
                "certificate and its unencrypted key"
            ) from None
        return context

    def options(self) -> dict[str, Any]:
        """kafka-python's keyword arguments for these settings, for every client of the configured cluster."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        context = self.context()
        if context is not None:
            options["ssl_context"] = context
        if self.sasl:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = self.sasl_password.get_secret_value() if self.sasl_password else None
        return options

    def describe(self) -> str:
        """How the clients connect, for start lines (never the password)."""
        parts = [self.protocol]
        if self.sasl:
            parts.append(f"{self.sasl_mechanism} as {self.sasl_username}")
        if self.client_cert is not None:
            parts.append(f"client certificate {self.client_cert}")
        return ", ".join(parts)

    def check(self, bootstrap: str, timeout_s: float = PROBE_TIMEOUT_S) -> None:
        """Raise KafkaRefusedError when the cluster refuses this client; nothing when it takes it or does not answer."""
        found = self.refusal(bootstrap, timeout_s)
        if found is not None:
            raise KafkaRefusedError(found)

    def refusal(self, bootstrap: str, timeout_s: float = PROBE_TIMEOUT_S) -> Refusal | None:
        """Why the first bootstrap server that answers refuses this client, or None (it takes it, or none answers in
        time). `timeout_s` is the whole check's deadline, shared by every connection it makes.

        PLAINTEXT has nothing to refuse: it asks nothing.
        """
        if self.protocol == "PLAINTEXT":
            return None
        deadline = time.monotonic() + timeout_s
        address = _answering(bootstrap, deadline)
        if address is None:
            return None
        host, port = address
        where = f"Kafka at {host}:{port}"
        options = self.options()
        context = options.get("ssl_context")
        if context is not None:
            found = self._handshake_refusal(where, host, port, context, deadline)
            if found is not None:
                return found
        return self._connection_refusal(where, f"{host}:{port}", options, deadline)

    def _handshake_refusal(
        self, where: str, host: str, port: int, context: ssl.SSLContext, deadline: float
    ) -> Refusal | None:
        if _left(deadline) <= 0:
            return None
        try:
            with (
                socket.create_connection((host.strip("[]"), port), timeout=_left(deadline)) as raw,
                context.wrap_socket(raw, server_hostname=host.strip("[]"), do_handshake_on_connect=False) as tls,
            ):
                _handshake(tls, deadline)
                return None
        except ssl.SSLCertVerificationError as exc:
            return Refusal("SSLCertVerificationError", self._untrusted(where, host, exc))
        except ssl.SSLError as exc:
            if _certificate_alert(exc):
                return Refusal("SSLClientCertificateRefused", self._client_refused(where, exc))
            return None  # kafka-python's own attempt says more, or it is an outage
        except OSError:
            return None

    def _untrusted(self, where: str, host: str, exc: ssl.SSLCertVerificationError) -> str:
        detail = (exc.verify_message or str(exc)).rstrip(".")
        if exc.verify_code in _HOST_MISMATCH:
            return (
                f"{where} presents a certificate for another host ({detail}): put a host name its certificate names "
                f"in ALIGNMON_KAFKA_BOOTSTRAP, or have the broker's certificate issued for {host}"
            )
        if exc.verify_code == _EXPIRED:
            return f"{where} presents an expired certificate: the cluster's operator must renew it"
        if exc.verify_code == _NOT_YET_VALID:
            return f"{where} presents a certificate that is not valid yet: check this machine's clock"
        if self.ca_file is not None:
            return (
                f"{where} presents a certificate that the CA in {CA_FILE}={self.ca_file} did not sign ({detail}): "
                f"set {CA_FILE} to the CA certificate that signed the brokers' certificates"
            )
        return (
            f"{where} presents a certificate this machine's trusted CAs do not vouch for ({detail}): set {CA_FILE} to "
            "the CA certificate that signed the brokers' certificates"
        )

    def _client_refused(self, where: str, exc: ssl.SSLError) -> str:
        if self.client_cert is None:
            return (
                f"{where} requires a client certificate (mutual TLS; it refused the connection: {exc.reason}): set "
                f"{CLIENT_CERT} and {CLIENT_KEY} to a certificate signed by a CA the cluster trusts"
            )
        return (
            f"{where} refused the client certificate {CLIENT_CERT}={self.client_cert} ({exc.reason}): give one signed "
            "by a CA the cluster trusts, not expired"
        )

    def _connection_refusal(self, where: str, address: str, options: dict[str, Any], deadline: float) -> Refusal | None:
        for _ in range(2):  # an ambiguous close is asked twice: a broker that was restarting answers the second time
            if _left(deadline) <= 0:
                return None  # no answer in time: an outage, not a refusal
            error, set_up = _connect_once(address, options, _left(deadline))
            if error is None:
                return None
            if (alert := _ssl_error(error)) is not None and _certificate_alert(alert):
                return Refusal("SSLClientCertificateRefused", self._client_refused(where, alert))
            if type(error).__name__ in ("SaslAuthenticationFailedError", "UnsupportedSaslMechanismError"):
                break  # the broker's own answer: these credentials, or this mechanism, it does not take
            if not (self.sasl and set_up and _closed_by_peer(error)):
                return None  # a timeout, a slow or restarting broker, anything else: an outage, retried by the clients
            # The broker closed the connection during the SASL login, after it had answered API versions: it refused.
            # kafka-python may not say so: it drops the broker's "authentication failed" when the end of the stream
            # is read together with it (3.0.12).
        return Refusal(
            "SaslAuthenticationFailedError",
            f"{where} refused to authenticate {USERNAME}={self.sasl_username} with {self.sasl_mechanism}: check "
            f"{USERNAME} and {PASSWORD}, and that the cluster's listener enables {self.sasl_mechanism} for that user",
        )


PLAINTEXT = KafkaSecurity()


def _are_set(names: list[str]) -> str:
    return f"{names[0]} is set" if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]} are set"


def _left(deadline: float) -> float:
    """Seconds until the deadline, 0 once it has passed."""
    return max(0.0, deadline - time.monotonic())


def _answering(bootstrap: str, deadline: float) -> tuple[str, int] | None:
    """The first bootstrap address that accepts a TCP connection before the deadline, as (host, port)."""
    for address in bootstrap.split(","):
        if _left(deadline) <= 0:
            return None
        host, _, port = address.strip().rpartition(":")
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=_left(deadline)).close()
        except (OSError, ValueError):
            continue
        return host, int(port)
    return None


def _handshake(tls: ssl.SSLSocket, deadline: float) -> None:
    """The TLS handshake, done by the deadline (TimeoutError): a server that stalls, or trickles, cannot stretch it."""
    tls.setblocking(False)
    while True:
        try:
            tls.do_handshake()
            return
        except ssl.SSLWantReadError:
            ready = select.select([tls], [], [], _left(deadline))[0]
        except ssl.SSLWantWriteError:
            ready = select.select([], [tls], [], _left(deadline))[1]
        if not ready:
            raise TimeoutError("the TLS handshake did not finish in time")


def _connect_once(address: str, options: dict[str, Any], timeout_s: float) -> tuple[BaseException | None, bool]:
    """kafka-python's connection set-up with one broker (TLS, API versions, SASL): its error (None when it succeeded),
    and whether the broker had answered the API versions request before it."""
    from kafka.net.manager import KafkaConnectionManager  # noqa: PLC0415  (kafka-python only when asked)
    from kafka.net.selector import NetworkSelector  # noqa: PLC0415

    timeout_ms = int(timeout_s * 1000)
    with _kafka_python_quiet():
        net = NetworkSelector()
        manager = KafkaConnectionManager(
            net, bootstrap_servers=address, client_id="alignmon-check", request_timeout_ms=timeout_ms, **options
        )
        conn: Any = None
        try:
            node = manager.cluster.bootstrap_brokers()[0]
            conn = manager.get_connection(
                node.node_id, timeout_ms=timeout_ms, pop_on_close=False, refresh_metadata_on_err=False
            )

            async def set_up() -> None:
                await manager.wait_for(conn.init_future, timeout_ms)

            net.run(set_up)
            return None, True
        except Exception as exc:  # whatever it is, the caller classifies it
            return exc, conn is not None and conn.broker_version_data is not None
        finally:
            manager.close()
            net.close()


def _closed_by_peer(error: BaseException) -> bool:
    """Whether kafka-python's error says the other end closed the connection (end of stream, reset), not that an answer
    was late (a request timeout) or anything else."""
    from kafka.errors import KafkaConnectionError  # noqa: PLC0415

    if type(error) is not KafkaConnectionError or not error.args:
        return False
    cause = error.args[0]
    closed = (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError, ssl.SSLZeroReturnError)
    return cause == "socket disconnected" or isinstance(cause, closed)


def _ssl_error(error: BaseException) -> ssl.SSLError | None:
    """The ssl.SSLError kafka-python wrapped in a connection error, if any."""
    for candidate in (error, *error.args, error.__cause__, error.__context__):
        if isinstance(candidate, ssl.SSLError):
            return candidate
    return None


def _certificate_alert(exc: ssl.SSLError) -> bool:
    """A TLS alert by which the server refuses the client's certificate, or its lack of one."""
    reason = str(exc.reason or exc)
    return "ALERT" in reason and any(a in reason for a in ("CERTIFICATE", "UNKNOWN_CA", "HANDSHAKE_FAILURE"))


class _ThisThread(logging.Filter):
    """Drops kafka-python's records logged by one thread (the check's), keeps everyone else's."""

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.thread == self.thread and (record.name == "kafka" or record.name.startswith("kafka.")))


@contextlib.contextmanager
def _kafka_python_quiet() -> Iterator[None]:
    """Keep the check's own connection attempt out of the log (it is reported as one line, or not at all), unless
    alignmon runs verbose (-v)."""
    root = logging.getLogger()
    if root.isEnabledFor(logging.DEBUG):
        yield
        return
    quiet = _ThisThread()
    handlers = list(root.handlers)
    for handler in handlers:
        handler.addFilter(quiet)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(quiet)
