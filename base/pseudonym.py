"""Keyed pseudonyms for users and devices (HMAC-SHA256), shared by the gateway and the directory loader."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re

# Used only when dev_mode is explicitly on; the gateway refuses to start with it otherwise.
DEV_KEY = b"alignmon-dev-mode-key-not-for-production"


# What pseudonymise() returns: a real login never looks like this, so a file of pseudonyms can be told apart.
PSEUDONYM = re.compile(r"u_[0-9a-f]{32}")


def pseudonymise(user: str, key: bytes) -> str:
    """A stable, non-reversible pseudonym: the same user and key always give the same value.

    User names are case-folded and stripped first, so 'Alice ' and 'alice' are one person.
    """
    digest = hmac.new(key, user.strip().casefold().encode(), hashlib.sha256).hexdigest()
    return "u_" + digest[:32]


def pseudonymise_device(device_id: str, key: bytes) -> str:
    """A device's stable pseudonym; host names often name their user, so none is stored raw.

    Its own domain (a `device` prefix in the MAC input, `d_` in the output) keeps it apart from every user's.
    """
    digest = hmac.new(key, b"device\x1f" + device_id.encode(), hashlib.sha256).hexdigest()
    return "d_" + digest[:32]


def key_from(secret: str | None, dev_mode: bool) -> bytes:
    """The pseudonym key from settings: the configured secret, or the dev key only when dev mode is on."""
    from base.errors import AlignmonError  # noqa: PLC0415  (keep this module dependency-free at import)

    if secret:
        return secret.encode()
    if dev_mode:
        logging.getLogger(__name__).warning(
            "!!! DEV MODE: pseudonyms use the PUBLIC built-in key, so anyone can reverse them. "
            "Never run like this with real users: set ALIGNMON_PSEUDONYM_SECRET and unset ALIGNMON_DEV_MODE !!!"
        )
        return DEV_KEY
    raise AlignmonError(
        "no pseudonym key: set ALIGNMON_PSEUDONYM_SECRET (keep it secret and stable), "
        "or ALIGNMON_DEV_MODE=1 for a local trial with a built-in key"
    )
