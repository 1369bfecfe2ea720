"""A webhook receiver for Alertmanager notifications: the demo prints what arrives, tests assert on it."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class AlertInbox:
    """Keeps every notification POSTed to it; `port=0` picks a free port (see `.url`)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.notifications: list[dict[str, Any]] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                inbox.notifications.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass  # Alertmanager's retries would flood the demo's output

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def alerts(self, alertname: str | None = None, status: str = "firing") -> list[dict[str, Any]]:
        """Every alert received with that name (any name when None) and status."""
        return [
            a
            for n in self.notifications
            for a in n.get("alerts", [])
            if a.get("status") == status and alertname in (None, a["labels"].get("alertname"))
        ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
