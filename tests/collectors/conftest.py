"""Fixtures shared by the collector tests: a real ActivityWatch server (PyPI aw-server) to feed and read."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from alignmon.stack.process import free_port
from tests.support.wait import wait_until


@dataclass
class AwServer:
    """One aw-server in testing mode on a free loopback port, with its own XDG data dirs."""

    url: str
    port: int
    log: Path
    xdg: dict[str, str] = field(repr=False)

    @contextmanager
    def clients(self, name: str) -> Iterator[Callable[[str], Any]]:
        """`client(hostname)` makers for aw-client, which keeps its config and lock files under XDG dirs."""
        with pytest.MonkeyPatch.context() as mp:
            for var, value in self.xdg.items():
                mp.setenv(var, value)
            from aw_client import ActivityWatchClient

            def client(hostname: str) -> Any:
                c = ActivityWatchClient(name, testing=True, host="127.0.0.1", port=self.port)
                c.client_hostname = hostname  # the hostname aw-client puts in the bucket metadata
                return c

            yield client


def _wait_ready(server: AwServer, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    def ready() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"aw-server exited with {proc.returncode}:\n{server.log.read_text()}")
        return httpx.get(f"{server.url}/api/0/info", timeout=1.0).status_code == 200

    def awaited() -> str:
        return f"aw-server to answer; its log:\n{server.log.read_text()}"

    wait_until(ready, timeout, awaited, interval=0.2, ignore=httpx.HTTPError)


@pytest.fixture(scope="session")
def start_aw_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], AwServer]]:
    """`start_aw_server(name)`: a fresh, empty aw-server per call, stopped at the end of the session."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str) -> AwServer:
        root = tmp_path_factory.mktemp(name)
        xdg = {var: str(root / var.lower()) for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")}
        for path in xdg.values():
            Path(path).mkdir(parents=True, exist_ok=True)
        port = free_port()
        server = AwServer(f"http://127.0.0.1:{port}", port, root / "aw-server.log", xdg)
        with server.log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "aw_server", "--testing", "--host", "127.0.0.1", "--port", str(port)],
                env={**os.environ, **xdg},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        procs.append(proc)
        _wait_ready(server, proc)
        return server

    try:
        yield start
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# -- TLS: a throwaway CA and one real gateway of each kind, shared by the gateway, agent and importer tests -------


@pytest.fixture(scope="session")
def tls_certificates(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.support.tls import Certificates

    return Certificates.make(tmp_path_factory.mktemp("tls-certificates"))


@pytest.fixture(scope="session")
def tls_gateway(
    tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str, tls_certificates: Any
) -> Iterator[Callable[[str], Any]]:
    """`tls_gateway(kind)`: the session's `alignmon gateway` of that kind (plain, tls, mtls, expired), started once."""
    from tests.support.tls import TLSGateway

    started: dict[str, TLSGateway] = {}

    def get(kind: str) -> TLSGateway:
        if kind not in started:
            started[kind] = TLSGateway(
                tmp_path_factory.mktemp(f"gateway-{kind}"), kafka_bootstrap, tls_certificates, kind
            )
            started[kind].start()  # registered first: stopped at the end even when it never became healthy
        return started[kind]

    yield get
    for gateway in started.values():
        gateway.stop()
