"""The gateway's TLS: its settings are checked with one clear line, it serves https (and mutual TLS) with one worker
or several, and says at start how it serves. Certificates come from a throwaway CA (trustme)."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from alignmon.stack.process import free_port
from base.errors import AlignmonError
from base.settings import Settings
from collectors.gateway.tls import ServerTLS
from collectors.record import events_of
from tests.support.tls import DEVICE, SECRET, Certificates, TLSGateway, rsa_key

Kit = Any
NOISE = ("WARNING", "ERROR", "CRITICAL", "Traceback", "SSL", "handshake")


def _encrypted_key(certs: Certificates, folder: Path) -> Path:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(certs.key.read_bytes(), password=None)
    path = folder / "encrypted-key.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    return path


BAD_SETTINGS: dict[str, tuple[Callable[[Certificates, Path], dict[str, Any]], str]] = {
    "cert without key": (
        lambda c, _t: {"gateway_tls_cert": c.cert},
        "ALIGNMON_GATEWAY_TLS_CERT is set but ALIGNMON_GATEWAY_TLS_KEY is not",
    ),
    "key without cert": (
        lambda c, _t: {"gateway_tls_key": c.key},
        "ALIGNMON_GATEWAY_TLS_KEY is set but ALIGNMON_GATEWAY_TLS_CERT is not",
    ),
    "client CA without TLS": (
        lambda c, _t: {"gateway_tls_client_ca": c.ca},
        "ALIGNMON_GATEWAY_TLS_CLIENT_CA is set but TLS is not",
    ),
    "missing certificate": (
        lambda c, t: {"gateway_tls_cert": t / "missing.pem", "gateway_tls_key": c.key},
        "ALIGNMON_GATEWAY_TLS_CERT={t}/missing.pem: cannot read it (No such file or directory): give the file of "
        "the gateway's certificate (PEM)",
    ),
    "folder as key": (
        lambda c, t: {"gateway_tls_cert": c.cert, "gateway_tls_key": t},
        "ALIGNMON_GATEWAY_TLS_KEY={t} is a folder",
    ),
    "key and certificate swapped": (
        lambda c, _t: {"gateway_tls_cert": c.key, "gateway_tls_key": c.cert},
        "holds no PEM CERTIFICATE (it holds a private key)",
    ),
    "key of another certificate": (
        lambda c, _t: {"gateway_tls_cert": c.cert, "gateway_tls_key": c.client_key},
        "is not the key of the certificate in ALIGNMON_GATEWAY_TLS_CERT=",
    ),
    "key of another type": (  # an RSA key for the EC certificate: OpenSSL names it differently
        lambda c, t: {"gateway_tls_cert": c.cert, "gateway_tls_key": rsa_key(t)},
        "is not the key of the certificate in ALIGNMON_GATEWAY_TLS_CERT=",
    ),
    "encrypted key": (
        lambda c, t: {"gateway_tls_cert": c.cert, "gateway_tls_key": _encrypted_key(c, t)},
        "the key is encrypted with a passphrase, which the gateway cannot ask for",
    ),
    "client CA that is a key": (
        lambda c, _t: {"gateway_tls_cert": c.cert, "gateway_tls_key": c.key, "gateway_tls_client_ca": c.client_key},
        "ALIGNMON_GATEWAY_TLS_CLIENT_CA=",
    ),
}


@pytest.mark.parametrize("case", list(BAD_SETTINGS))
def test_tls_settings_that_cannot_work_are_named_with_what_to_do(
    case: str, tls_certificates: Certificates, tmp_path: Path
) -> None:
    make, expected = BAD_SETTINGS[case]
    with pytest.raises(AlignmonError) as error:
        ServerTLS.from_settings(Settings(**make(tls_certificates, tmp_path)))
    assert expected.format(t=tmp_path) in str(error.value)
    assert "\n" not in str(error.value)


def test_good_settings_give_uvicorn_its_tls_options(tls_certificates: Certificates) -> None:
    c = tls_certificates
    assert ServerTLS.from_settings(Settings()) is None
    plain = ServerTLS.from_settings(Settings(gateway_tls_cert=c.cert, gateway_tls_key=c.key))
    assert plain is not None
    assert plain.uvicorn_options() == {
        "ssl_ciphers": "@SECLEVEL=2:ECDH+AESGCM:ECDH+CHACHA20",  # named: older uvicorn defaulted to "TLSv1"
        "ssl_certfile": str(c.cert),
        "ssl_keyfile": str(c.key),
        "ssl_ca_certs": None,
        "ssl_cert_reqs": ssl.CERT_NONE,
    }
    mutual = ServerTLS.from_settings(
        Settings(gateway_tls_cert=c.cert, gateway_tls_key=c.key, gateway_tls_client_ca=c.ca)
    )
    assert mutual is not None
    assert mutual.uvicorn_options()["ssl_cert_reqs"] == ssl.CERT_REQUIRED
    assert mutual.uvicorn_options()["ssl_ca_certs"] == str(c.ca)
    assert mutual.context().minimum_version >= ssl.TLSVersion.TLSv1_2


@pytest.mark.integration
@pytest.mark.parametrize("workers", [1, 2])
def test_a_key_that_does_not_fit_stops_the_gateway_with_one_line(
    workers: int, alignmon: Any, tls_certificates: Certificates, tmp_path: Path
) -> None:
    env = {
        "ALIGNMON_PSEUDONYM_SECRET": SECRET,
        "ALIGNMON_STATE_DIR": str(tmp_path),
        "ALIGNMON_GATEWAY_WORKERS": str(workers),
        "ALIGNMON_GATEWAY_TLS_CERT": str(tls_certificates.cert),
        "ALIGNMON_GATEWAY_TLS_KEY": str(tls_certificates.stranger_key),
    }
    done = alignmon.run(["gateway", "--port", str(free_port())], env)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"alignmon: error: ALIGNMON_GATEWAY_TLS_KEY={tls_certificates.stranger_key} is not the key of the certificate "
        f"in ALIGNMON_GATEWAY_TLS_CERT={tls_certificates.cert}: give the key the certificate was issued for"
    ]
    assert done.stdout == ""  # it stopped before saying it serves


@pytest.mark.integration
def test_the_start_line_says_how_the_gateway_serves(tls_gateway: Callable[[str], TLSGateway]) -> None:
    plain, tls, mtls = (tls_gateway(kind) for kind in ("plain", "tls", "mtls"))
    assert f"alignmon gateway on http://127.0.0.1:{plain.port} (plain http: no TLS) ->" in plain.output()
    assert f"alignmon gateway on https://127.0.0.1:{tls.port} (TLS with {tls.certs.cert}) ->" in tls.output()
    assert (
        f"alignmon gateway on https://127.0.0.1:{mtls.port} (TLS with {mtls.certs.cert}; clients must present a "
        f"certificate signed by {mtls.certs.ca}) ->"
    ) in mtls.output()


def _post(url: str, token: str, events: list[dict[str, Any]], verify: ssl.SSLContext | bool) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(verify=verify, timeout=30) as http:  # a new connection each time: any worker may take it
        return http.post(f"{url}/v1/events", content=json.dumps(events).encode(), headers=headers)


@pytest.mark.integration
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("kind", ["tls", "mtls"])
def test_every_worker_serves_https_and_requires_client_certificates_when_told(
    kind: str,
    workers: int,
    tls_certificates: Certificates,
    kafka_bootstrap: str,
    read_topic: Callable[..., list[Any]],
    kit: Kit,
    tmp_path: Path,
) -> None:
    gateway = TLSGateway(tmp_path, kafka_bootstrap, tls_certificates, kind, workers=workers)
    try:
        gateway.start()
        if workers > 1:
            assert f"({workers} workers)" in gateway.output()
        token = gateway.tokens[DEVICE]
        trusted = tls_certificates.client_context(client=kind == "mtls")
        now = datetime.now(UTC)
        sent = 0
        for batch in range(20):  # on new connections, which the kernel spreads over the workers
            events = [kit.event(n, device=DEVICE, now=now, event_id=f"{kind}-{batch}-{n}") for n in range(3)]
            answer = _post(gateway.url, token, events, trusted)
            assert answer.status_code == 202, answer.text
            sent += 3

        with pytest.raises(httpx.HTTPError):  # plain http to the TLS port gets no HTTP answer
            _post(f"http://localhost:{gateway.port}", token, [kit.event(0, device=DEVICE, now=now)], True)
        if kind == "mtls":
            for context in (
                tls_certificates.client_context(),  # no client certificate
                _context_with(tls_certificates, tls_certificates.stranger_cert, tls_certificates.stranger_key),
            ):
                with pytest.raises(httpx.HTTPError):
                    _post(gateway.url, token, [kit.event(0, device=DEVICE, now=now, event_id="refused")], context)
        else:  # without the CA the client refuses the gateway's certificate
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                _post(gateway.url, token, [kit.event(0, device=DEVICE, now=now)], ssl.create_default_context())
        with httpx.Client(verify=trusted, timeout=30) as http:  # still serving after the refusals
            assert http.get(f"{gateway.url}/healthz").status_code == 200
        noise = [line for line in gateway.output().splitlines() if any(w in line for w in NOISE)]
        assert noise == []  # a refused handshake is the client's problem: no warning, error or traceback here
    finally:
        gateway.stop()
    events = [e for r in read_topic(kafka_bootstrap, gateway.topic) for e in events_of(r.value)]
    assert sorted(e["event_id"] for e in events) == sorted(f"{kind}-{b}-{n}" for b in range(20) for n in range(3))


def _context_with(certs: Certificates, cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=certs.ca)
    context.load_cert_chain(cert, key)
    return context


def _handshake(port: int, context: ssl.SSLContext) -> tuple[str | None, tuple[str, str, int] | None]:
    import socket

    with socket.create_connection(("localhost", port), timeout=30) as raw, context.wrap_socket(raw) as tls:
        return tls.version(), tls.cipher()


@pytest.mark.integration
def test_the_gateway_speaks_tls_1_2_and_1_3_only_with_forward_secret_ciphers(
    tls_gateway: Callable[[str], TLSGateway],
) -> None:
    port = tls_gateway("tls").port

    def client(version: ssl.TLSVersion) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # this test looks at the protocol only
        context.set_ciphers("ALL:@SECLEVEL=0")  # the client would take anything: what is refused, the gateway refuses
        context.minimum_version = context.maximum_version = version
        return context

    assert _handshake(port, client(ssl.TLSVersion.TLSv1_3))[0] == "TLSv1.3"
    version, cipher = _handshake(port, client(ssl.TLSVersion.TLSv1_2))
    assert version == "TLSv1.2"
    assert cipher is not None
    assert cipher[0].startswith(("ECDHE-", "DHE-")), cipher  # forward secret
    assert "GCM" in cipher[0] or "CHACHA20" in cipher[0], cipher  # AEAD
    with pytest.warns(DeprecationWarning):
        old = client(ssl.TLSVersion.TLSv1_1)
    with pytest.raises(ssl.SSLError, match=r"PROTOCOL_VERSION|EOF"):  # the gateway refuses (uvloop sends no alert)
        _handshake(port, old)
