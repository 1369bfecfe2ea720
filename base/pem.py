"""PEM files named by a setting or an option: read and checked with one line naming what is wrong and what to give.

Shared by every TLS client and server of alignmon (the gateway's, the agent's, the Kafka clients').
"""

from __future__ import annotations

from pathlib import Path

from base.errors import AlignmonError

# OpenSSL's reasons when a key is not the certificate's: of its type, or of another (an EC key, an RSA certificate).
KEY_MISMATCH = {"KEY_VALUES_MISMATCH", "NO_CERTIFICATE_ASSIGNED"}


def pem_text(path: Path, block: str, what: str, named: str) -> str:
    """The file's text, which must hold a PEM `block`; else one line starting with `named` (how the file was given:
    option or setting, and path) and saying what the file should be."""
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except IsADirectoryError:
        raise AlignmonError(f"{named} is a folder: give the file of {what}") from None
    except OSError as exc:
        problem = exc.strerror or str(exc)
        raise AlignmonError(f"{named}: cannot read it ({problem}): give the file of {what}") from None
    if f"{block}-----" not in text:
        holds = " (it holds a private key)" if "PRIVATE KEY-----" in text else ""
        raise AlignmonError(f"{named} holds no PEM {block}{holds}: give the file of {what}")
    return text


def refuse_passphrase() -> bytes:
    """load_cert_chain's password callback: without one OpenSSL would prompt on the terminal for a passphrase."""
    raise AlignmonError("the key is encrypted with a passphrase")
