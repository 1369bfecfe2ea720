"""A TLS proxy in front of the secured test broker's SASL_SSL listener that answers only the first requests of each
connection: a broker that stalls, or hangs up, part of the way through a client's connection set-up.

It terminates TLS with the broker's own certificate and key (tests/support/secure_kafka.py), so it sees Kafka's
frames (a 4-byte length, then the request) and counts them: the first `answered` requests and their responses go
through to the real broker; at the next one it `stalls` (keeps the connection open, answers nothing) or `closes` the
connection. kafka-python sends one request at a time while it sets a connection up (API versions, then the SASL
handshake, then the SASL authentication), so `answered=1` stops after API versions and `answered=2` after the SASL
handshake, during the login itself.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
from typing import Literal

from tests.support.secure_kafka import SecureKafka


class StallingProxy:
    """Listening on 127.0.0.1:`port` until `close()`; `connections` counts the clients it took."""

    def __init__(self, broker: SecureKafka, answered: int, then: Literal["stalls", "closes"] = "stalls") -> None:
        self.upstream = ("127.0.0.1", broker.sasl_ssl_port)
        self.answered, self.then = answered, then
        self._server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._server.load_cert_chain(broker.certs.broker)  # the broker's key and chain, one PEM file
        self._client = ssl.create_default_context(cafile=broker.certs.ca)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self.connections = 0
        self._closing = threading.Event()
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="stalling-proxy", daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self._closing.set()
        self._listener.close()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.close()

    def __enter__(self) -> StallingProxy:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._open.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            with (
                self._server.wrap_socket(conn, server_side=True) as client,
                self._client.wrap_socket(
                    socket.create_connection(self.upstream, timeout=10), server_hostname="127.0.0.1"
                ) as broker,
            ):
                with self._lock:
                    self._open += [client, broker]
                for _ in range(self.answered):
                    request = _frame(client)
                    if request is None:
                        return
                    broker.sendall(request)
                    response = _frame(broker)
                    if response is None:
                        return
                    client.sendall(response)
                if _frame(client) is None or self.then == "closes":
                    return  # closing `client`: the end of the stream while the client waits for an answer
                client.settimeout(0.2)
                while not self._closing.is_set():  # read on, answer nothing, until the client gives up
                    try:
                        if not client.recv(4096):
                            return
                    except TimeoutError:
                        continue
        except OSError:
            return


def _frame(sock: ssl.SSLSocket) -> bytes | None:
    """One Kafka frame (its length prefix included), or None at the end of the stream."""
    head = _exactly(sock, 4)
    if head is None:
        return None
    body = _exactly(sock, struct.unpack(">i", head)[0])
    return None if body is None else head + body


def _exactly(sock: ssl.SSLSocket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data
