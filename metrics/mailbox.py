"""A local SMTP server that saves each mail it receives as an .eml file: where the demo's alert mails arrive.

Alertmanager mails it exactly as it mails a site's relay (its email receiver, no TLS on loopback). Needs
aiosmtpd (`pip install 'alignmon[demo]'`; `make demo` installs it).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, NamedTuple

from base.errors import AlignmonError


class Mail(NamedTuple):
    """One delivered mail: the envelope's recipients, its subject and the file it was saved to."""

    recipients: tuple[str, ...]
    subject: str
    path: Path


class MailBox:
    """An SMTP server on host:port; every mail becomes `<folder>/NNN-<recipient>.eml` and calls `on_mail`."""

    def __init__(
        self, folder: Path, host: str = "127.0.0.1", port: int = 19025, on_mail: Callable[[Mail], None] | None = None
    ) -> None:
        try:
            from aiosmtpd.controller import Controller  # noqa: PLC0415 (optional: the demo's extra)
        except ImportError as exc:
            raise AlignmonError(
                "the demo's mail server needs aiosmtpd: `pip install 'alignmon[demo]'` (make demo installs it)"
            ) from exc
        self.folder, self.on_mail = folder, on_mail
        self.mails: list[Mail] = []
        self._lock = threading.Lock()
        folder.mkdir(parents=True, exist_ok=True)
        self.address = f"{host}:{port}"
        self._controller = Controller(_Handler(self), hostname=host, port=port)
        try:
            self._controller.start()
        except (OSError, RuntimeError) as exc:
            raise AlignmonError(
                f"cannot start the mail server on {self.address} ({exc}): is the port in use? "
                "Choose another with ALIGNMON_DEMO_SMTP_PORT"
            ) from exc

    def save(self, recipients: list[str], content: bytes) -> Mail:
        """Write one received mail to a file of its own and record it."""
        message = message_from_bytes(content, policy=default_policy)
        with self._lock:
            first = re.sub(r"[^A-Za-z0-9@._-]", "_", recipients[0] if recipients else "nobody")
            path = self.folder / f"{len(self.mails) + 1:03d}-{first}.eml"
            path.write_bytes(content)
            mail = Mail(tuple(recipients), str(message.get("Subject", "")), path)
            self.mails.append(mail)
        if self.on_mail is not None:
            self.on_mail(mail)
        return mail

    def close(self) -> None:
        self._controller.stop()


class _Handler:
    """aiosmtpd's hook: accept the message and hand it to the mailbox."""

    def __init__(self, box: MailBox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        self.box.save(list(envelope.rcpt_tos), envelope.original_content or envelope.content)
        return "250 OK: saved"
