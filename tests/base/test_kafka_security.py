"""alignmon's Kafka clients on a secured cluster: the settings, checked with one line each; kafka-python's arguments
made in one place; and, on a real broker with SASL_SSL and mutual-TLS listeners (tests/support/secure_kafka.py),
the gateway, the pipeline and every other client through them, and a refused password or certificate as one line."""

from __future__ import annotations

import json
import signal
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from kafka import KafkaConsumer, TopicPartition
from pydantic import SecretStr

from alignmon.process import open_lease
from alignmon.stack.kafka import ensure_topics
from alignmon.stack.process import free_port
from base.errors import AlignmonError
from base.kafka_security import PLAINTEXT, PROBE_TIMEOUT_S, KafkaRefusedError, KafkaSecurity, Refusal
from base.settings import Settings
from collectors.publish import publish
from collectors.record import Record
from collectors.sink import KafkaSink, ProducerRefusedError
from metrics.scrape import total
from pipeline.consumer import Consumer
from pipeline.store import Store
from tests.support.kafka_proxy import StallingProxy
from tests.support.secure_kafka import PLAIN_PASSWORD, PLAIN_USER, KafkaCertificates, SecureKafka

ROOT = Path(__file__).resolve().parents[2]
Security = dict[str, Any]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> KafkaCertificates:
    return KafkaCertificates.make(tmp_path_factory.mktemp("kafka-certs"))


@pytest.fixture(scope="module")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureKafka]:
    broker = SecureKafka(tmp_path_factory.mktemp("secure-kafka")).start()
    yield broker
    broker.stop()


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


# -- the settings ----------------------------------------------------------------------------------------------


def test_plaintext_is_the_default_and_asks_the_cluster_nothing() -> None:
    security = KafkaSecurity.from_settings(_settings())
    assert security == PLAINTEXT
    assert security.options() == {"security_protocol": "PLAINTEXT"}
    assert security.refusal("127.0.0.1:1") is None  # no connection attempted, nothing to refuse


def test_each_protocol_becomes_kafka_pythons_arguments(certs: KafkaCertificates) -> None:
    sasl_ssl = KafkaSecurity.from_settings(
        _settings(
            kafka_security_protocol="SASL_SSL",
            kafka_ca_file=certs.ca,
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username="alignmon",
            kafka_sasl_password="s3cret",
        )
    ).options()
    context = sasl_ssl.pop("ssl_context")
    assert sasl_ssl == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "alignmon",
        "sasl_plain_password": "s3cret",
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [_subject(certs.ca)]  # the CA file alone, no system CAs

    mtls = KafkaSecurity.from_settings(
        _settings(
            kafka_security_protocol="SSL",
            kafka_ca_file=certs.ca,
            kafka_client_cert=certs.client_cert,
            kafka_client_key=certs.client_key,
        )
    ).options()
    assert set(mtls) == {"security_protocol", "ssl_context"} and mtls["security_protocol"] == "SSL"

    plain = KafkaSecurity.from_settings(
        _settings(
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_mechanism="PLAIN",
            kafka_sasl_username="alignmon",
            kafka_sasl_password="s3cret",
        )
    ).options()
    assert "ssl_context" not in plain and plain["sasl_mechanism"] == "PLAIN"

    system = KafkaSecurity.from_settings(_settings(kafka_security_protocol="SSL")).options()["ssl_context"]
    assert system.verify_mode == ssl.CERT_REQUIRED and system.check_hostname  # the system's CAs, checked alike


def _subject(pem: Path) -> Any:
    context = ssl.create_default_context(cafile=pem)
    return context.get_ca_certs()[0]["subject"]


def _encrypted_key(certs: KafkaCertificates, folder: Path) -> Path:
    key = serialization.load_pem_private_key(certs.client_key.read_bytes(), password=None)
    path = folder / "encrypted-key.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    return path


SASL = {"kafka_sasl_mechanism": "SCRAM-SHA-512", "kafka_sasl_username": "alignmon", "kafka_sasl_password": "pw"}
BAD_SETTINGS: dict[str, tuple[Callable[[KafkaCertificates, Path], dict[str, Any]], str]] = {
    "CA file without TLS": (
        lambda c, _t: {"kafka_ca_file": c.ca},
        "ALIGNMON_KAFKA_CA_FILE is set but ALIGNMON_KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use TLS: set "
        "ALIGNMON_KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL, or unset it",
    ),
    "SASL settings without SASL": (
        lambda _c, _t: {"kafka_security_protocol": "SSL", **SASL},
        "ALIGNMON_KAFKA_SASL_MECHANISM, ALIGNMON_KAFKA_SASL_USERNAME and ALIGNMON_KAFKA_SASL_PASSWORD are set but "
        "ALIGNMON_KAFKA_SECURITY_PROTOCOL=SSL does not authenticate with SASL: set ALIGNMON_KAFKA_SECURITY_PROTOCOL="
        "SASL_SSL (or SASL_PLAINTEXT), or unset them",
    ),
    "SASL without a mechanism": (
        lambda _c, _t: {"kafka_security_protocol": "SASL_SSL", **SASL, "kafka_sasl_mechanism": None},
        "ALIGNMON_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs ALIGNMON_KAFKA_SASL_MECHANISM: PLAIN, SCRAM-SHA-256, "
        "SCRAM-SHA-512",
    ),
    "SASL without a password": (
        lambda _c, _t: {"kafka_security_protocol": "SASL_PLAINTEXT", **SASL, "kafka_sasl_password": ""},
        "ALIGNMON_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT needs ALIGNMON_KAFKA_SASL_PASSWORD: the credentials of",
    ),
    "key without certificate": (
        lambda c, _t: {"kafka_security_protocol": "SSL", "kafka_client_key": c.client_key},
        "ALIGNMON_KAFKA_CLIENT_KEY is set but ALIGNMON_KAFKA_CLIENT_CERT is not",
    ),
    "missing CA file": (
        lambda _c, t: {"kafka_security_protocol": "SSL", "kafka_ca_file": t / "missing.pem"},
        "ALIGNMON_KAFKA_CA_FILE={t}/missing.pem: cannot read it (No such file or directory): give the file of the "
        "CA certificate (PEM) that signed the brokers' certificates",
    ),
    "folder as CA file": (
        lambda _c, t: {"kafka_security_protocol": "SSL", "kafka_ca_file": t},
        "ALIGNMON_KAFKA_CA_FILE={t} is a folder",
    ),
    "key as CA file": (
        lambda c, _t: {"kafka_security_protocol": "SSL", "kafka_ca_file": c.client_key},
        "holds no PEM CERTIFICATE (it holds a private key)",
    ),
    "key of another certificate": (
        lambda c, _t: {
            "kafka_security_protocol": "SSL",
            "kafka_client_cert": c.client_cert,
            "kafka_client_key": c.stranger_key,
        },
        "is not the key of the certificate in ALIGNMON_KAFKA_CLIENT_CERT=",
    ),
    "encrypted key": (
        lambda c, t: {
            "kafka_security_protocol": "SSL",
            "kafka_client_cert": c.client_cert,
            "kafka_client_key": _encrypted_key(c, t),
        },
        "the key is encrypted with a passphrase, which alignmon cannot ask for",
    ),
    "certificate without its key": (
        lambda c, _t: {"kafka_security_protocol": "SSL", "kafka_client_cert": c.client_cert},
        "ALIGNMON_KAFKA_CLIENT_CERT={cert} holds no PEM PRIVATE KEY: give the file of the private key of "
        "ALIGNMON_KAFKA_CLIENT_CERT (set ALIGNMON_KAFKA_CLIENT_KEY)",
    ),
}


@pytest.mark.parametrize("case", BAD_SETTINGS, ids=list(BAD_SETTINGS))
def test_settings_that_cannot_work_are_one_line_naming_them(
    case: str, certs: KafkaCertificates, tmp_path: Path
) -> None:
    values, expected = BAD_SETTINGS[case]
    with pytest.raises(AlignmonError) as raised:
        KafkaSecurity.from_settings(_settings(**values(certs, tmp_path)))
    message = str(raised.value)
    assert expected.format(t=tmp_path, cert=certs.client_cert) in message
    assert "\n" not in message


def test_the_password_shows_nowhere_but_in_kafka_pythons_arguments() -> None:
    settings = _settings(kafka_security_protocol="SASL_SSL", **{**SASL, "kafka_sasl_password": "hunter2-kafka"})
    security = KafkaSecurity.from_settings(settings)
    assert "hunter2-kafka" not in repr(settings) + repr(security) + security.describe()
    assert security.describe() == "SASL_SSL, SCRAM-SHA-512 as alignmon"
    assert security.options()["sasl_plain_password"] == "hunter2-kafka"


# -- on a real secured broker ----------------------------------------------------------------------------------


def _event(n: int, device: str = "laptop-7") -> dict[str, Any]:
    start = (datetime.now(UTC) - timedelta(hours=1, minutes=n)).replace(microsecond=0)
    return {
        "event_id": f"sec-{n}",
        "kind": "focus",
        "device_id": device,
        "user": "u_secured",
        "app": "teams.exe",
        "start": start.isoformat(),
        "duration_s": 60.0,
        "source": "test",
    }


def _dead_letters(bootstrap: str, topic: str, security: KafkaSecurity) -> list[bytes]:
    """Every record of the one-partition topic `topic`, read with alignmon's security settings."""
    reader = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **security.options())
    try:
        partition = TopicPartition(topic, 0)
        reader.assign([partition])
        reader.seek_to_beginning(partition)
        end = reader.end_offsets([partition])[partition]
        letters: list[bytes] = []
        for _ in range(100):
            if len(letters) >= end:
                break
            letters += [m.value for batch in reader.poll(timeout_ms=200).values() for m in batch]
        return letters
    finally:
        reader.close()


def _clients(broker: SecureKafka, kind: str) -> tuple[str, KafkaSecurity]:
    if kind == "mutual TLS":
        certs = broker.certs
        return broker.mtls, KafkaSecurity("SSL", certs.ca, certs.client_cert, certs.client_key)
    if kind == "PLAIN":
        return broker.sasl_ssl, KafkaSecurity(
            "SASL_SSL", broker.certs.ca, None, None, "PLAIN", PLAIN_USER, SecretStr(PLAIN_PASSWORD)
        )
    return broker.sasl_ssl, broker.scram(kind)


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN", "mutual TLS"])
def test_the_admin_producer_consumer_and_dead_letters_work_through_the_secured_listener(
    kind: str, secure_kafka: SecureKafka, tmp_path: Path
) -> None:
    bootstrap, security = _clients(secure_kafka, kind)
    topic = f"test.secure.{uuid.uuid4().hex[:8]}"
    assert sorted(ensure_topics(bootstrap, {topic: 3, f"{topic}.dlq": 1}, security=security)) == [topic, f"{topic}.dlq"]
    assert publish(bootstrap, topic, [_event(n) for n in range(20)], security=security) == 20  # the importers' path
    sink = KafkaSink(bootstrap, topic, security=security)  # the gateway's producer
    try:
        assert sink.send([Record(b"laptop-7", b"{not json")]) == 1
    finally:
        sink.close()

    store = Store(tmp_path / "secure.duckdb")
    consumer = Consumer(store, bootstrap, topic, f"{topic}.dlq", security=security)
    try:
        handled = 0
        for _ in range(100):
            handled += consumer.step()
            if handled >= 21:
                break
        consumer.flush()
    finally:
        consumer.close()
    assert store.con.execute("SELECT count(DISTINCT event_id) FROM events").fetchone() == (20,)
    assert store.con.execute("SELECT count(*) FROM rejected_events").fetchone() == (1,)
    store.close()
    assert _dead_letters(bootstrap, f"{topic}.dlq", security) == [b"{not json"]


@pytest.mark.integration
def test_a_standby_takes_the_writers_lease_through_sasl_ssl(secure_kafka: SecureKafka, tmp_path: Path) -> None:
    security = secure_kafka.scram()
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        kafka_bootstrap=secure_kafka.sasl_ssl,
        topic=f"test.lease.{uuid.uuid4().hex[:8]}",
        lake_url=str(tmp_path / "lake"),
        lease_timeout_s=6,
        **{k.removeprefix("ALIGNMON_").lower(): v for k, v in secure_kafka.env(security).items()},
    )
    lease = open_lease(settings)  # creates the lease topic (admin), joins the group (consumer)
    stopping = threading.Event()
    timer = threading.Timer(60, stopping.set)  # a lease never given fails below instead of hanging
    timer.start()
    try:
        assert lease.wait(stopping), "the lease was not given within 60 s"
        assert lease.held()
    finally:
        timer.cancel()
        lease.close()


@pytest.mark.integration
def test_the_gateway_produces_and_the_pipeline_consumes_through_sasl_ssl(
    secure_kafka: SecureKafka, alignmon: Any, wait_for: Callable[..., Any], tmp_path: Path
) -> None:
    security = secure_kafka.scram()
    topic = f"test.e2e.{uuid.uuid4().hex[:8]}"
    ensure_topics(secure_kafka.sasl_ssl, {topic: 3, f"{topic}.dlq": 1}, security=security)
    gateway_port, exporter_port = free_port(), free_port()
    env = {
        "ALIGNMON_KAFKA_BOOTSTRAP": secure_kafka.sasl_ssl,
        **secure_kafka.env(security),
        "ALIGNMON_TOPIC": topic,
        "ALIGNMON_DLQ_TOPIC": f"{topic}.dlq",
        "ALIGNMON_STATE_DIR": str(tmp_path / "state"),
        "ALIGNMON_PSEUDONYM_SECRET": "secured-kafka-test-secret",
        "ALIGNMON_GATEWAY_PORT": str(gateway_port),
        "ALIGNMON_EXPORTER_PORT": str(exporter_port),
        "ALIGNMON_CATALOG_DIR": str(ROOT / "catalog" / "example"),
    }
    issued = alignmon.run(["tokens", "issue", "laptop-7"], env)
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip().splitlines()[-1].split()[-1]
    gateway = alignmon.start(["gateway"], env, "gateway")
    pipeline = alignmon.start(["pipeline"], env, "pipeline")
    url = f"http://127.0.0.1:{gateway_port}"
    wait_for(lambda: _answers(f"{url}/healthz"), what="the gateway's /healthz")

    answer = httpx.post(
        f"{url}/v1/events",
        json=[{**_event(n), "user": "alice@example.org"} for n in range(5)],
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["accepted"] == 5
    metrics = f"http://127.0.0.1:{exporter_port}/metrics"
    assert wait_for(lambda: total(metrics, "alignmon_events_ingested_total") == 5, what="5 events stored")
    assert httpx.get(f"{url}/healthz").json()["spool"]["depth"] == 0  # Kafka took them: nothing spooled

    for proc in (gateway, pipeline):
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    logs = {name: (tmp_path / f"{name}.log").read_text() for name in ("gateway", "pipeline")}
    assert f"-> Kafka {secure_kafka.sasl_ssl} (SASL_SSL, SCRAM-SHA-512 as alignmon) topic {topic}" in logs["gateway"]
    assert "Traceback" not in logs["gateway"] + logs["pipeline"]
    con = duckdb.connect(str(tmp_path / "state" / "alignmon.duckdb"), read_only=True)
    try:
        rows = con.execute('SELECT count(DISTINCT event_id), any_value("user") FROM events').fetchone()
    finally:
        con.close()
    assert rows is not None and rows[0] == 5 and str(rows[1]).startswith("u_")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


REFUSALS: dict[str, tuple[Callable[[SecureKafka], tuple[str, KafkaSecurity]], str]] = {
    "wrong SCRAM password": (
        lambda k: (k.sasl_ssl, k.scram(password="not-the-password")),
        "Kafka at 127.0.0.1:{port} refused to authenticate ALIGNMON_KAFKA_SASL_USERNAME=alignmon with SCRAM-SHA-512: "
        "check ALIGNMON_KAFKA_SASL_USERNAME and ALIGNMON_KAFKA_SASL_PASSWORD",
    ),
    "wrong PLAIN password": (
        lambda k: (k.sasl_ssl, KafkaSecurity("SASL_SSL", k.certs.ca, None, None, "PLAIN", "alignmon", SecretStr("x"))),
        "refused to authenticate ALIGNMON_KAFKA_SASL_USERNAME=alignmon with PLAIN",
    ),
    "untrusted broker certificate": (
        lambda k: (k.sasl_ssl, k.scram(ca=k.certs.other_ca)),
        "Kafka at 127.0.0.1:{port} presents a certificate that the CA in ALIGNMON_KAFKA_CA_FILE={other_ca} did not "
        "sign (unable to get local issuer certificate): set ALIGNMON_KAFKA_CA_FILE to the CA certificate",
    ),
    "no client certificate": (
        lambda k: (k.mtls, KafkaSecurity("SSL", k.certs.ca)),
        "Kafka at 127.0.0.1:{port} requires a client certificate (mutual TLS",
    ),
    "a client certificate the cluster does not trust": (
        lambda k: (k.mtls, KafkaSecurity("SSL", k.certs.ca, k.certs.stranger_cert, k.certs.stranger_key)),
        "refused the client certificate ALIGNMON_KAFKA_CLIENT_CERT={stranger}",
    ),
}


class _Counted(KafkaSecurity):
    """Real security settings whose check of the cluster is counted and timed (`asked`: seconds, one per check)."""

    def refusal(self, bootstrap: str, timeout_s: float = PROBE_TIMEOUT_S) -> Refusal | None:
        began = time.monotonic()
        try:
            return super().refusal(bootstrap, timeout_s)
        finally:
            self.__dict__.setdefault("asked", []).append(time.monotonic() - began)

    @property
    def asked(self) -> list[float]:
        return self.__dict__.setdefault("asked", [])


def _record() -> Record:
    return Record(b"laptop-7", json.dumps(_event(0)).encode())


def _timed_send(sink: KafkaSink) -> tuple[float, int | str]:
    """How long a send took, and what it returned (the records acknowledged) or raised (its class name)."""
    began = time.monotonic()
    try:
        outcome: int | str = sink.send([_record()])
    except ProducerRefusedError as exc:
        outcome = type(exc).__name__
    return time.monotonic() - began, outcome


def _sends_at_once(sink: KafkaSink, threads: int) -> list[tuple[float, int | str]]:
    """`threads` sends started together, as the gateway's commit and replay threads may."""
    results: list[tuple[float, int | str]] = []
    start = threading.Barrier(threads)

    def one() -> None:
        start.wait()
        results.append(_timed_send(sink))

    workers = [threading.Thread(target=one) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert len(results) == threads
    return results


@pytest.mark.integration
@pytest.mark.parametrize("case", REFUSALS, ids=list(REFUSALS))
def test_a_refused_client_is_one_line_saying_what_to_do_not_a_timeout(case: str, secure_kafka: SecureKafka) -> None:
    make, expected = REFUSALS[case]
    bootstrap, security = make(secure_kafka)
    line = expected.format(
        port=bootstrap.rsplit(":", 1)[1],
        other_ca=secure_kafka.certs.other_ca,
        stranger=secure_kafka.certs.stranger_cert,
    )
    with pytest.raises(KafkaRefusedError) as refused:
        security.check(bootstrap)
    assert line in str(refused.value) and "\n" not in str(refused.value)
    with pytest.raises(KafkaRefusedError, match=r"^Kafka at "):  # import and simulate --to-kafka ask before they send
        publish(bootstrap, "any-topic", [_event(0)], security=security)
    # The gateway's producer: the records refused for good (503 to devices, /healthz says why), not spooled forever.
    # It asks the cluster after its producer could not connect, then answers at once until `recheck_s` has passed.
    counted = _Counted(*security)
    sink = KafkaSink(bootstrap, "any-topic", security=counted, timeout_s=2.0, recheck_s=1.5)
    try:
        with pytest.raises(ProducerRefusedError) as producing:
            sink.send([_record()])
        assert producing.value.acked == 0 and line in producing.value.reason
        assert len(counted.asked) == 1
        took, outcome = _timed_send(sink)
        assert outcome == "ProducerRefusedError" and took < 0.5 and len(counted.asked) == 1  # no producer, no check
        time.sleep(1.5)
        took, outcome = _timed_send(sink)  # asked again, before any producer is made: still refused
        assert outcome == "ProducerRefusedError" and len(counted.asked) == 2 and took < 1.5
    finally:
        sink.close()


@pytest.mark.integration
@pytest.mark.parametrize(
    ("answered", "then", "refused"),
    [(1, "stalls", False), (2, "stalls", False), (2, "closes", True)],
    ids=["stalls after API versions", "stalls during the SASL login", "closes during the SASL login"],
)
def test_a_broker_that_stalls_during_the_login_is_an_outage_not_a_refusal(
    answered: int, then: Any, refused: bool, secure_kafka: SecureKafka
) -> None:
    """A slow or restarting broker that stops answering part of the way through the SASL login is transient (the
    pipeline waits, the gateway spools), found within the check's one deadline; only the broker closing the connection
    during the login (as it does after a wrong password, its "authentication failed" sometimes lost by kafka-python) is
    a refusal."""
    security = secure_kafka.scram()  # the right password: only the broker's behaviour differs
    with StallingProxy(secure_kafka, answered, then) as proxy:
        began = time.monotonic()
        found = security.refusal(proxy.address, timeout_s=2.0)
        took = time.monotonic() - began
    if refused:
        assert found is not None and found.kind == "SaslAuthenticationFailedError"
    else:
        assert found is None
    assert took < 2.5  # one deadline for the whole check: the TCP probe, the TLS handshake, both attempts


@pytest.mark.integration
def test_the_sink_asks_a_stalled_cluster_once_and_no_send_waits_for_the_check(secure_kafka: SecureKafka) -> None:
    """During an outage where the listener accepts connections but the broker stalls, a producer cannot be made: the
    sink asks the cluster once (outside its lock, within one deadline), the sends that meanwhile failed to make one
    return at once, and later failures within `recheck_s` ask nothing."""
    counted = _Counted(*secure_kafka.scram())
    with StallingProxy(secure_kafka, answered=1) as proxy:
        sink = KafkaSink(proxy.address, "any-topic", security=counted, timeout_s=2.0)
        try:
            together = _sends_at_once(sink, threads=4)
            later = [_timed_send(sink) for _ in range(2)]
        finally:
            sink.close()
    assert [outcome for _, outcome in together + later] == [0] * 6  # spooled by the gateway, not refused
    assert len(counted.asked) == 1 and counted.asked[0] < 2.5  # once, within its deadline (the sink's timeout)
    producer_wait = 2.0  # the producer's bootstrap timeout is below the sink's timeout
    times = sorted(took for took, _ in together)
    assert times[-1] < producer_wait + 2.5 + 1.0  # the thread that asked: one producer wait, then the check
    assert all(took < producer_wait + 1.0 for took in times[:-1])  # the others waited for no check, nor a 2nd producer
    assert all(took < producer_wait + 1.0 for took, _ in later)


def test_the_sink_asks_nothing_of_a_cluster_that_is_away(certs: KafkaCertificates) -> None:
    """Nothing accepts a connection: an outage, so no check at all, and no send waits for another's producer."""
    counted = _Counted("SASL_SSL", certs.ca, None, None, "SCRAM-SHA-512", "alignmon", SecretStr("pw"))
    sink = KafkaSink(f"127.0.0.1:{free_port()}", "nowhere", security=counted, timeout_s=2.0)
    try:
        results = [*_sends_at_once(sink, threads=3), _timed_send(sink)]
    finally:
        sink.close()
    assert [outcome for _, outcome in results] == [0] * 4
    assert counted.asked == []
    assert all(took < 3.0 for took, _ in results)


@pytest.mark.integration
@pytest.mark.parametrize("command", ["pipeline", "gateway"])
@pytest.mark.parametrize("fault", ["wrong password", "untrusted certificate"])
def test_the_commands_stop_with_one_line_on_a_wrong_password_or_an_untrusted_certificate(
    command: str, fault: str, secure_kafka: SecureKafka, alignmon: Any, tmp_path: Path
) -> None:
    security = (
        secure_kafka.scram(password="not-the-password")
        if fault == "wrong password"
        else secure_kafka.scram(ca=secure_kafka.certs.other_ca)
    )
    env = {
        "ALIGNMON_KAFKA_BOOTSTRAP": secure_kafka.sasl_ssl,
        **secure_kafka.env(security),
        "ALIGNMON_STATE_DIR": str(tmp_path / "state"),
        "ALIGNMON_PSEUDONYM_SECRET": "secured-kafka-test-secret",
        "ALIGNMON_GATEWAY_PORT": str(free_port()),
        "ALIGNMON_EXPORTER_PORT": str(free_port()),
        "ALIGNMON_CATALOG_DIR": str(ROOT / "catalog" / "example"),
    }
    done = alignmon.run([command], env)  # ends (120 s at most) instead of waiting for the cluster forever
    assert done.returncode == 1, done.stderr
    [line] = done.stderr.strip().splitlines()  # nothing from kafka-python's retries, no traceback: this line
    why = "refused to authenticate" if fault == "wrong password" else "presents a certificate that the CA in"
    assert line.startswith(f"alignmon: error: Kafka at {secure_kafka.sasl_ssl} ") and why in line
