"""metrics/mailbox.py: the demo's SMTP server saves each mail it receives, over real SMTP."""

from __future__ import annotations

import smtplib
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest

from alignmon.stack.process import free_port
from base.errors import AlignmonError
from metrics.mailbox import MailBox


def _message(to: str, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "alignmon@localhost", to, subject
    message.set_content("Hello,\n\nadoption is below plan.\n")
    return message


def test_each_mail_is_saved_as_its_own_file_and_reported(tmp_path: Path) -> None:
    port, seen = free_port(), []
    box = MailBox(tmp_path / "mail", port=port, on_mail=seen.append)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(_message("maria.jansen@example.org", "[alignmon] Adoption below plan: CRM at 29 %"))
            smtp.send_message(_message("tom.visser@example.org", "[alignmon] Unused seats: Tableau, EUR 84,000 €"))
    finally:
        box.close()
    assert [m.recipients for m in seen] == [("maria.jansen@example.org",), ("tom.visser@example.org",)]
    assert seen == box.mails
    first, second = seen
    assert first.path == tmp_path / "mail" / "001-maria.jansen@example.org.eml"
    assert second.subject == "[alignmon] Unused seats: Tableau, EUR 84,000 €"  # encoded words decoded
    saved = message_from_bytes(first.path.read_bytes(), policy=default_policy)
    assert saved["To"] == "maria.jansen@example.org"
    assert saved["Subject"] == first.subject
    assert "adoption is below plan" in saved.get_body().get_content()  # type: ignore[union-attr]


def test_a_port_in_use_says_which_setting_to_change(tmp_path: Path) -> None:
    port = free_port()
    box = MailBox(tmp_path, port=port)
    try:
        with pytest.raises(AlignmonError, match=rf"127\.0\.0\.1:{port}.*ALIGNMON_DEMO_SMTP_PORT"):
            MailBox(tmp_path, port=port)
    finally:
        box.close()
