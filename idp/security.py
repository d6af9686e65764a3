"""Secrets at rest and in links: the master key (MultiFernet), token digests, constant-time checks."""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .config import ConfigError, is_embedded_database


def new_token(nbytes: int = 32) -> str:
    """A URL-safe random token with ``nbytes`` of entropy (256 bits by default)."""
    return secrets.token_urlsafe(nbytes)


def new_identifier(nbytes: int = 18) -> str:
    """A random public identifier (client_id, sub) that never starts with "-" or "_", so a command
    line never mistakes it for an option."""
    while True:
        value = secrets.token_urlsafe(nbytes)
        if value[0].isalnum():
            return value


def digest(token: str) -> str:
    """SHA-256 hex digest: what is stored in place of a bearer secret."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


class MasterKey:
    """The key-encryption key. The first Fernet key encrypts; every listed key decrypts."""

    def __init__(self, keys: list[bytes]):
        if not keys:
            raise ConfigError("no master key")
        try:
            self._fernets = [Fernet(k) for k in keys]
        except (ValueError, TypeError):
            raise ConfigError("IDP_MASTER_KEY is not a comma-separated list of Fernet keys") from None
        self._multi = MultiFernet(self._fernets)
        self._primary = keys[0]
        self._keys = list(keys)

    def encrypt(self, plaintext: bytes) -> str:
        return self._multi.encrypt(plaintext).decode("ascii")

    def decrypt(self, token: str) -> bytes:
        return self._multi.decrypt(token.encode("ascii"))

    def rotate(self, token: str) -> str:
        """Re-encrypt ``token`` under the first key (after a new key was put first)."""
        return self._multi.rotate(token.encode("ascii")).decode("ascii")

    def derive(self, purpose: str, length: int = 32) -> bytes:
        """A sub-key for one purpose (e.g. the Flask cookie-signing key), stable across processes."""
        return HKDF(algorithm=hashes.SHA256(), length=length, salt=None,
                    info=b"motid:" + purpose.encode()).derive(self._primary)

    def derive_all(self, purpose: str, length: int = 32) -> list[bytes]:
        """:meth:`derive` under every listed key, the encrypting one first, to check values keyed
        before a rotation (a new key put first)."""
        return [HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=b"motid:" + purpose.encode())
                .derive(key) for key in self._keys]


def load_master_key(config) -> MasterKey:
    """From ``IDP_MASTER_KEY``, else ``<keys>/master.key`` (created 0600 for the embedded default only)."""
    configured = config["IDP_MASTER_KEY"]
    if configured:
        return MasterKey([k.strip().encode() for k in configured.split(",") if k.strip()])
    path = os.path.join(config["IDP_KEYS_PATH"], "master.key")
    if not os.path.exists(path):
        if not is_embedded_database(config["IDP_DATABASE_URL"]):
            raise ConfigError("no master key: set IDP_MASTER_KEY for a shared database")
        os.makedirs(config["IDP_KEYS_PATH"], exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(Fernet.generate_key() + b"\n")
    with open(path, "rb") as fh:
        keys = [line.strip() for line in fh.read().splitlines() if line.strip()]
    return MasterKey(keys)


def apply_security_headers(response, https: bool):
    """Strict headers on every response; pages that show credentials are never cached."""
    headers = response.headers
    headers.setdefault(
        "Content-Security-Policy",
        # No form-action: Chrome applies it to every redirect after a POST, and a login or consent
        # POST ends, by design, in a redirect to the client's own origin.
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    )
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    # same-origin, not no-referrer: Flask-WTF's CSRF check over https needs the Referer of our own forms.
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if https:
        headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
    if response.mimetype == "text/html":
        headers["Cache-Control"] = "no-store"
        headers.setdefault("Pragma", "no-cache")
    return response
