"""Signing keys: stored encrypted in the database so every process signs with the same set.

Rotation is two-phase (DESIGN §Secrets): a new key is published in the JWKS at once and
starts signing after a delay; the key it replaces stops signing then and stays published
until every token it signed has expired.
"""
from __future__ import annotations

import json
import threading
from datetime import timedelta

from joserfc import jwk, jwt
from sqlalchemy import String, Text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from .db import UTCDateTime, db, utcnow
from .versions import track

ALGORITHMS = ("ES256", "RS256", "EdDSA")
DEFAULT_ALG = "ES256"


class SigningKey(db.Model):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(10), nullable=False)
    private_jwk = mapped_column(Text, nullable=False)  # encrypted under the master key
    public_jwk = mapped_column(Text, nullable=False)
    created_at = mapped_column(UTCDateTime, nullable=False)
    activates_at = mapped_column(UTCDateTime, nullable=False)
    retired_at = mapped_column(UTCDateTime, nullable=True)
    expires_at = mapped_column(UTCDateTime, nullable=True)
    # "initial:<alg>" for the first key of each algorithm: the unique constraint lets exactly one of
    # several processes starting together create it.
    slot = mapped_column(String(40), nullable=True, unique=True)

    def state(self, now) -> str:
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        if self.retired_at is not None and self.retired_at <= now:
            return "retired"
        if self.activates_at > now:
            return "published"
        return "signing"


def _generate(alg: str):
    if alg == "ES256":
        return jwk.ECKey.generate_key("P-256", auto_kid=True)
    if alg == "RS256":
        return jwk.RSAKey.generate_key(2048, auto_kid=True)
    if alg == "EdDSA":
        return jwk.OKPKey.generate_key("Ed25519", auto_kid=True)
    raise ValueError(f"unsupported algorithm {alg!r}")


class KeyService:
    """Keys cached per process until any node changes one (:mod:`idp.versions`: within a second);
    state changes follow the stored times."""

    def __init__(self, master_key, *, max_token_seconds: int, rotation_delay_seconds: int, versions):
        self.master_key = master_key
        self.max_token = timedelta(seconds=max_token_seconds)
        self.rotation_delay = timedelta(seconds=rotation_delay_seconds)
        self.versions = versions
        self._lock = threading.Lock()
        self._cache: tuple[object, list[tuple[SigningKey, object]]] | None = None
        self._imported: dict[str, object] = {}

    # -- administration -------------------------------------------------------------------
    def ensure(self, now=None) -> list[SigningKey]:
        """Create the first signing key of each algorithm that has never had one (first start)."""
        now = now or utcnow()
        created = []
        for alg in ALGORITHMS:
            if any(k.alg == alg for k in self._rows()):
                continue
            row = self._add(alg, now, activates_at=now)
            row.slot = f"initial:{alg}"
            try:
                db.session.commit()
                created.append(row)
            except IntegrityError:  # another process created it first: use theirs
                db.session.rollback()
        self.invalidate()
        return created

    def rotate(self, alg: str, now=None, delay: timedelta | None = None) -> SigningKey:
        """Publish a new key now; it signs after ``delay``, when the current one retires."""
        now = now or utcnow()
        activates = now + (self.rotation_delay if delay is None else delay)
        for row in self._rows():
            if row.alg == alg and row.state(now) in ("signing", "published") and row.retired_at is None:
                row.retired_at = activates
                row.expires_at = activates + self.max_token
        key = self._add(alg, now, activates_at=activates)
        db.session.commit()
        self.invalidate()
        return key

    def retire(self, kid: str, now=None) -> SigningKey | None:
        """Stop signing with ``kid`` now; it stays published until its tokens have expired."""
        now = now or utcnow()
        row = db.session.get(SigningKey, kid)
        if row is None:
            return None
        if row.retired_at is None or row.retired_at > now:
            row.retired_at = now
            row.expires_at = now + self.max_token
        db.session.commit()
        self.invalidate()
        return row

    def _add(self, alg: str, now, *, activates_at) -> SigningKey:
        key = _generate(alg)
        private = json.dumps(key.as_dict(private=True))
        public = key.as_dict(private=False)
        public.update(alg=alg, use="sig")
        row = SigningKey(kid=key.kid, alg=alg, private_jwk=self.master_key.encrypt(private.encode()),
                         public_jwk=json.dumps(public), created_at=now, activates_at=activates_at)
        db.session.add(row)
        return row

    def _rows(self) -> list[SigningKey]:
        return db.session.query(SigningKey).order_by(SigningKey.activates_at).all()

    def list(self) -> list[SigningKey]:
        return self._rows()

    # -- use --------------------------------------------------------------------------------
    def invalidate(self) -> None:
        with self._lock:
            self._cache = None

    def _loaded(self, now) -> list[tuple[SigningKey, object]]:
        token = self.versions.current("keys")
        with self._lock:
            if self._cache is not None and self._cache[0] == token:
                return self._cache[1]
        rows = self._rows()
        if {row.alg for row in rows} != set(ALGORITHMS):
            self.ensure(now)
            rows = self._rows()
        for row in rows:
            db.session.expunge(row)
        # Keys are immutable per kid: decrypt and import each only once per process (RSA import is slow).
        loaded = []
        for row in rows:
            key = self._imported.get(row.kid)
            if key is None:
                key = self._imported[row.kid] = jwk.import_key(json.loads(self.master_key.decrypt(row.private_jwk)))
            loaded.append((row, key))
        with self._lock:
            self._cache = (token, loaded)
        return loaded

    def signing_key(self, alg: str, now):
        """The newest key of ``alg`` that is signing now."""
        candidates = [(row, key) for row, key in self._loaded(now) if row.alg == alg and row.state(now) == "signing"]
        if not candidates:
            self.invalidate()
            raise LookupError(f"no signing key for {alg}")
        return candidates[-1]

    def published_state(self, now) -> tuple:
        """Changes whenever :meth:`jwks` may: a key changed on some node, or one's state moved with time."""
        return tuple((row.kid, row.state(now)) for row, _ in self._loaded(now))

    def jwks(self, now) -> dict:
        keys = [json.loads(row.public_jwk) for row, _ in self._loaded(now) if row.state(now) != "expired"]
        return {"keys": keys}

    def verification_keys(self, now) -> jwk.KeySet:
        return jwk.KeySet([key for row, key in self._loaded(now) if row.state(now) != "expired"])

    def sign(self, claims: dict, *, alg: str, now, typ: str | None = None) -> str:
        row, key = self.signing_key(alg, now)
        header = {"alg": alg, "kid": row.kid}
        if typ:
            header["typ"] = typ
        return jwt.encode(header, claims, key, algorithms=[alg])



track(SigningKey, "keys")  # every node reloads its keys within a second of a change (idp.versions)
