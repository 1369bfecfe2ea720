"""Gateway errors: each carries the HTTP status, a stable code and a message that says what to do."""

from __future__ import annotations

from typing import Any

from base.errors import AlignmonError

CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    431: "request_header_fields_too_large",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class GatewayError(AlignmonError):
    """A request the gateway answers with an error; rendered as the one JSON error shape."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    @property
    def code(self) -> str:
        return code_for(self.status)


def code_for(status: int) -> str:
    """The stable machine-readable code of an HTTP status."""
    return CODES.get(status, "error")


def error_body(status: int, message: str) -> dict[str, Any]:
    """The one JSON error shape every gateway error uses."""
    return {"error": {"status": status, "code": code_for(status), "message": message}}
