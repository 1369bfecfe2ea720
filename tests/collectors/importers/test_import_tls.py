"""`alignmon import ... --to-gateway https://...` over TLS and mutual TLS to a real gateway, and a TLS mistake as one
line naming the URL and what to do. Certificates come from a throwaway CA (trustme)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from collectors.record import events_of
from tests.support.osquery import osquery_log
from tests.support.tls import DEVICE, Certificates, TLSGateway

pytestmark = pytest.mark.integration


def _log(path: Path, prefix: str, n: int) -> Path:
    """An osquery result log of `n` app launches on DEVICE, the apps named `prefix`0.app ..."""
    return osquery_log(path, DEVICE, n, app=prefix, bundle=prefix)


def _import(alignmon: Any, gateway: TLSGateway, log: Path, url: str, options: list[str]) -> Any:
    argv = ["import", "osquery", str(log), "--user", "bo", "--to-gateway", url, "--token-file", str(gateway.token_file)]
    return alignmon.run([*argv, *options], {"SSL_CERT_FILE": "", "SSL_CERT_DIR": ""})


def _arrived(read_topic: Callable[..., list[Any]], gateway: TLSGateway, prefix: str) -> int:
    events = [e for r in read_topic(gateway.bootstrap, gateway.topic) for e in events_of(r.value)]
    return sum(1 for e in events if prefix in e["app"])


@pytest.mark.parametrize("kind", ["tls", "mtls"])
def test_import_over_https_and_mutual_tls(
    kind: str,
    alignmon: Any,
    tls_gateway: Callable[[str], TLSGateway],
    tls_certificates: Certificates,
    read_topic: Callable[..., list[Any]],
    tmp_path: Path,
) -> None:
    gateway = tls_gateway(kind)
    prefix = f"Import{kind.capitalize()}App"
    options = tls_certificates.options(client=kind == "mtls")
    done = _import(alignmon, gateway, _log(tmp_path / "osquery.log", prefix, 5), gateway.url, options)
    assert done.returncode == 0, done.stderr
    assert f"sent 5 events to the gateway {gateway.url}" in done.stderr
    assert _arrived(read_topic, gateway, prefix) == 5


def test_plain_http_to_a_tls_gateway_is_one_line_naming_the_url(
    alignmon: Any, tls_gateway: Callable[[str], TLSGateway], tmp_path: Path
) -> None:
    gateway = tls_gateway("tls")
    url = f"http://localhost:{gateway.port}"
    done = _import(alignmon, gateway, _log(tmp_path / "osquery.log", "ImportPlainApp", 3), url, [])
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"alignmon: error: the gateway at {url} closed the connection without an HTTP answer: it serves https: use "
        f"https://localhost:{gateway.port} (with --ca-file when a CA of your own signed its certificate); 3 events "
        "not sent: run the import again once that is fixed (events sent twice count once)"
    )
    assert "Traceback" not in done.stderr


def test_tls_options_without_a_gateway_are_refused(
    alignmon: Any, tls_certificates: Certificates, tmp_path: Path
) -> None:
    log = _log(tmp_path / "osquery.log", "ImportNowhereApp", 1)
    done = alignmon.run(["import", "osquery", str(log), "--ca-file", str(tls_certificates.ca)], {})
    assert done.returncode == 1
    assert done.stderr == "alignmon: error: --ca-file: only for sending to the gateway (--to-gateway https://...)\n"
