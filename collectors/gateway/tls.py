"""The gateway's TLS: certificate, key and optional client CA from the settings, checked before it serves.

A problem with the files stops `alignmon gateway` with one line naming the setting, the file and what to do,
before any worker starts, instead of a traceback from deep inside uvicorn in every worker.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, NamedTuple

from base.errors import AlignmonError
from base.pem import KEY_MISMATCH, pem_text, refuse_passphrase
from base.settings import Settings

CERT = "ALIGNMON_GATEWAY_TLS_CERT"
KEY = "ALIGNMON_GATEWAY_TLS_KEY"
CLIENT_CA = "ALIGNMON_GATEWAY_TLS_CLIENT_CA"


class ServerTLS(NamedTuple):
    """The gateway's certificate and key, and the CA its clients' certificates must be signed by (mutual TLS)."""

    cert: Path
    key: Path
    client_ca: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ServerTLS | None:
        """The checked TLS settings; None for plain http. Raises AlignmonError naming the setting that is wrong."""
        cert, key, client_ca = settings.gateway_tls_cert, settings.gateway_tls_key, settings.gateway_tls_client_ca
        if cert is None and key is None:
            if client_ca is not None:
                raise AlignmonError(
                    f"{CLIENT_CA} is set but TLS is not: client certificates need TLS, so set {CERT} and {KEY} too"
                )
            return None
        if cert is None or key is None:
            given, missing = (CERT, KEY) if key is None else (KEY, CERT)
            raise AlignmonError(f"{given} is set but {missing} is not: the gateway needs both files for TLS")
        tls = cls(cert, key, client_ca)
        tls.context()
        return tls

    def describe(self) -> str:
        """How the gateway serves, for its start line."""
        if self.client_ca is None:
            return f"TLS with {self.cert}"
        return f"TLS with {self.cert}; clients must present a certificate signed by {self.client_ca}"

    def context(self) -> ssl.SSLContext:
        """The server context uvicorn builds from `uvicorn_options()`, made here to check the files first."""
        pem_text(self.cert, "CERTIFICATE", "the gateway's certificate (PEM)", f"{CERT}={self.cert}")
        key = pem_text(
            self.key, "PRIVATE KEY", "the private key of the gateway's certificate (PEM)", f"{KEY}={self.key}"
        )
        if "ENCRYPTED" in key:
            raise AlignmonError(
                f"{KEY}={self.key}: the key is encrypted with a passphrase, which the gateway cannot ask for: "
                f"give it the key unencrypted (openssl pkey -in {self.key} -out key.pem), readable by its user only"
            )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            context.load_cert_chain(self.cert, self.key, password=refuse_passphrase)
        except ssl.SSLError as exc:
            if exc.reason in KEY_MISMATCH:
                raise AlignmonError(
                    f"{KEY}={self.key} is not the key of the certificate in {CERT}={self.cert}: give the key the "
                    "certificate was issued for"
                ) from None
            raise AlignmonError(
                f"{CERT}={self.cert}, {KEY}={self.key}: not a usable certificate and key ({exc.reason or exc}): give "
                "PEM files of the certificate (chain) and its unencrypted key"
            ) from None
        if self.client_ca is not None:
            what = "the CA certificate(s) that sign client certificates"
            pem_text(self.client_ca, "CERTIFICATE", what, f"{CLIENT_CA}={self.client_ca}")
            try:
                context.load_verify_locations(cafile=self.client_ca)
            except ssl.SSLError as exc:
                raise AlignmonError(
                    f"{CLIENT_CA}={self.client_ca}: not a usable CA certificate ({exc.reason or exc}): give the PEM "
                    "file of the CA that signs the clients' certificates"
                ) from None
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    def uvicorn_options(self) -> dict[str, Any]:
        """uvicorn.Config's TLS arguments: forward-secret AEAD ciphers, TLS 1.2 and up (named here: uvicorn before
        0.55 defaulted to "TLSv1", which leaves SHA-1 CBC suites only)."""
        return {
            "ssl_ciphers": "@SECLEVEL=2:ECDH+AESGCM:ECDH+CHACHA20",
            "ssl_certfile": str(self.cert),
            "ssl_keyfile": str(self.key),
            "ssl_ca_certs": None if self.client_ca is None else str(self.client_ca),
            "ssl_cert_reqs": ssl.CERT_REQUIRED if self.client_ca is not None else ssl.CERT_NONE,
        }
