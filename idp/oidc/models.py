"""Protocol storage: clients, codes, grants, tokens, consents, pushed requests and replay caches.

Bearer secrets (codes, refresh tokens, registration tokens) are stored only as SHA-256 digests.
"""
from __future__ import annotations

import secrets

from authlib.oauth2.rfc6749 import ClientMixin
from flask import current_app
from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import UTCDateTime, db, utcnow
from ..security import constant_time_equals
from ..versions import track


class Client(db.Model, ClientMixin):
    """A relying application. ``meta`` holds its RFC 7591 metadata as registered."""

    __tablename__ = "oidc_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    secret = mapped_column(Text, nullable=True)  # encrypted: client_secret_jwt needs it in clear
    secret_expires_at = mapped_column(UTCDateTime, nullable=True)
    meta = mapped_column(JSON, nullable=False, default=dict)
    first_party: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    require_pkce: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    registration_token = mapped_column(String(64), nullable=True, unique=True)  # digest
    dynamic: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    # -- Authlib's ClientMixin --------------------------------------------------------------
    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        uris = self.meta.get("redirect_uris") or []
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope):
        allowed = set(self.meta.get("scope", "").split())
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in (self.meta.get("redirect_uris") or [])  # exact match only

    def check_client_secret(self, client_secret):
        stored = current_app.extensions["idp.clients"].secret_of(self)
        return stored is not None and isinstance(client_secret, str) and constant_time_equals(stored, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method == self.meta.get("token_endpoint_auth_method")

    def check_response_type(self, response_type):
        return response_type in (self.meta.get("response_types") or [])

    def check_grant_type(self, grant_type):
        return grant_type in (self.meta.get("grant_types") or [])

    @property
    def is_public(self) -> bool:
        return self.meta.get("token_endpoint_auth_method") == "none"


class AuthorizationCode(db.Model):
    __tablename__ = "oidc_codes"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), nullable=False)
    account_id = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False)
    sid = mapped_column(String(64), nullable=True)
    redirect_uri: Mapped[str] = mapped_column(Text, nullable=False)
    scope: Mapped[str] = mapped_column(Text, nullable=False)
    nonce = mapped_column(Text, nullable=True)
    code_challenge = mapped_column(String(128), nullable=True)
    code_challenge_method = mapped_column(String(10), nullable=True)
    auth_time = mapped_column(UTCDateTime, nullable=False)
    acr: Mapped[str] = mapped_column(String(60), nullable=False)
    amr = mapped_column(JSON, nullable=False)
    claims = mapped_column(JSON, nullable=True)  # the OIDC "claims" request parameter
    resources = mapped_column(JSON, nullable=True)  # RFC 8707 resource indicators of the request
    created_at = mapped_column(UTCDateTime, nullable=False)
    expires_at = mapped_column(UTCDateTime, nullable=False, index=True)
    used_at = mapped_column(UTCDateTime, nullable=True)
    grant_id = mapped_column(ForeignKey("oidc_grants.id", ondelete="SET NULL"), nullable=True)

    # -- Authlib's AuthorizationCodeMixin ---------------------------------------------------
    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope


def new_handle() -> str:
    return secrets.token_urlsafe(16)


class Grant(db.Model):
    """What a person allowed a client, from one code (or one client-credentials request):
    every access and refresh token issued from it belongs here, so one revocation ends them all."""

    __tablename__ = "oidc_grants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The grant as its access tokens name it (claim ``gid``): a reference, not a row number to count with.
    handle: Mapped[str] = mapped_column(String(32), nullable=False, unique=True, index=True, default=new_handle)
    client_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    account_id = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True, index=True)
    sid = mapped_column(String(64), nullable=True, index=True)
    scope: Mapped[str] = mapped_column(Text, nullable=False)
    claims = mapped_column(JSON, nullable=True)
    auth_time = mapped_column(UTCDateTime, nullable=True)
    acr = mapped_column(String(60), nullable=True)
    amr = mapped_column(JSON, nullable=True)
    created_at = mapped_column(UTCDateTime, nullable=False)
    revoked_at = mapped_column(UTCDateTime, nullable=True)
    revoke_reason = mapped_column(String(40), nullable=True)
    cnf_x5t = mapped_column(String(43), nullable=True)  # RFC 8705 x5t#S256 its access tokens are bound to
    resources = mapped_column(JSON, nullable=True)  # RFC 8707: the resources authorized with the code
    cnf_jkt = mapped_column(String(43), nullable=True)  # RFC 9449 jkt: the DPoP key its tokens are bound to

    account = relationship("Account")


class DeviceAuthorization(db.Model):
    """One device authorization request (RFC 8628 §3.1) from its start to its one redemption.

    Both codes are stored as digests; ``decision`` is None (pending), ``allow`` or ``deny``; the person's
    session facts are copied at approval, as an authorization code copies them."""

    __tablename__ = "oidc_device_authorizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_digest: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    user_digest: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    client_id: Mapped[str] = mapped_column(String(64), nullable=False)
    scope: Mapped[str] = mapped_column(Text, nullable=False)
    claims = mapped_column(JSON, nullable=True)  # the OIDC "claims" request parameter
    created_at = mapped_column(UTCDateTime, nullable=False)
    expires_at = mapped_column(UTCDateTime, nullable=False, index=True)
    interval: Mapped[int] = mapped_column(Integer, nullable=False)  # seconds; +5 on every slow_down (§3.5)
    last_polled_at = mapped_column(UTCDateTime, nullable=True)
    decision = mapped_column(String(5), nullable=True)
    decided_at = mapped_column(UTCDateTime, nullable=True)
    account_id = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True)
    sid = mapped_column(String(64), nullable=True)
    auth_time = mapped_column(UTCDateTime, nullable=True)
    acr = mapped_column(String(60), nullable=True)
    amr = mapped_column(JSON, nullable=True)
    used_at = mapped_column(UTCDateTime, nullable=True)
    grant_id = mapped_column(ForeignKey("oidc_grants.id", ondelete="SET NULL"), nullable=True)


class ExchangePolicy(db.Model):
    """An administrator's rule: ``client_id`` may obtain access tokens for ``audience`` (a service's
    logical name or resource URI) carrying at most ``scope``, by token exchange (RFC 8693) or with a
    resource indicator (RFC 8707). No row, no token for that service."""

    __tablename__ = "oidc_exchange_policies"
    __table_args__ = (UniqueConstraint("client_id", "audience", name="uq_oidc_exchange_policies_client_audience"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oidc_clients.client_id", ondelete="CASCADE"), nullable=False)
    audience: Mapped[str] = mapped_column(String(2000), nullable=False)
    scope: Mapped[str] = mapped_column(Text, nullable=False)
    created_at = mapped_column(UTCDateTime, nullable=False)
    updated_at = mapped_column(UTCDateTime, nullable=False)


class RevokedAccessToken(db.Model):
    """An access token revoked on its own (RFC 7009) before it expired. Access tokens are self-contained
    JWTs and not stored: this list, the grant's ``revoked_at`` (through the token's ``gid``) and the
    client's existence are what introspection and UserInfo check besides the signature and ``exp``."""

    __tablename__ = "oidc_revoked_access_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    revoked_at = mapped_column(UTCDateTime, nullable=False)
    expires_at = mapped_column(UTCDateTime, nullable=False, index=True)  # kept until then, then purged


class RefreshToken(db.Model):
    __tablename__ = "oidc_refresh_tokens"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    grant_id = mapped_column(ForeignKey("oidc_grants.id", ondelete="CASCADE"), nullable=False, index=True)
    issued_at = mapped_column(UTCDateTime, nullable=False)
    expires_at = mapped_column(UTCDateTime, nullable=False, index=True)
    rotated_at = mapped_column(UTCDateTime, nullable=True)
    revoked_at = mapped_column(UTCDateTime, nullable=True)

    grant = relationship("Grant", lazy="joined")


class Consent(db.Model):
    """The scopes a person agreed to release to a client; withdrawable."""

    __tablename__ = "oidc_consents"
    __table_args__ = (UniqueConstraint("account_id", "client_id", name="uq_oidc_consents_account_client"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False)
    client_id: Mapped[str] = mapped_column(String(64), nullable=False)
    scopes = mapped_column(JSON, nullable=False)
    granted_at = mapped_column(UTCDateTime, nullable=False)


class UsedJti(db.Model):
    """One-time JWT identifiers (client assertions, request objects), kept until they expire."""

    __tablename__ = "oidc_used_jtis"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256(purpose|client|jti)
    expires_at = mapped_column(UTCDateTime, nullable=False, index=True)


class PushedRequest(db.Model):
    """A pushed authorization request (RFC 9126): its parameters, already validated. Consumed once by its
    ``request_uri`` at the authorization endpoint (``used_at``; ``expires_at`` then moves on to the end of the
    login and consent it starts), deleted when that authorization issues its code; purged once expired."""

    __tablename__ = "oidc_pushed_requests"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the request_uri
    client_id: Mapped[str] = mapped_column(String(64), nullable=False)
    params = mapped_column(JSON, nullable=False)
    created_at = mapped_column(UTCDateTime, nullable=False)
    expires_at = mapped_column(UTCDateTime, nullable=False, index=True)
    used_at = mapped_column(UTCDateTime, nullable=True)


class InitialAccessToken(db.Model):
    """Protects dynamic client registration (RFC 7591 §3)."""

    __tablename__ = "oidc_initial_access_tokens"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at = mapped_column(UTCDateTime, nullable=False)
    expires_at = mapped_column(UTCDateTime, nullable=False)
    note = mapped_column(String(200), nullable=True)


class SessionClient(db.Model):
    """Which clients an SSO session has signed into (by its public ``sid``), for single logout."""

    __tablename__ = "oidc_session_clients"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_at = mapped_column(UTCDateTime, nullable=False)
    last_at = mapped_column(UTCDateTime, nullable=False)


class LogoutDelivery(db.Model):
    """The durable outbox of back-channel logout tokens (Back-Channel Logout 1.0 §2.5)."""

    __tablename__ = "oidc_logout_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    uri: Mapped[str] = mapped_column(Text, nullable=False)
    logout_token = mapped_column(Text, nullable=True)  # the last one sent: each attempt signs afresh
    sub: Mapped[str] = mapped_column(String(64), nullable=False)
    sid = mapped_column(String(64), nullable=True)
    created_at = mapped_column(UTCDateTime, nullable=False)
    next_attempt_at = mapped_column(UTCDateTime, nullable=False, index=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    delivered_at = mapped_column(UTCDateTime, nullable=True)
    failed_at = mapped_column(UTCDateTime, nullable=True)  # gave up after the last retry
    last_error = mapped_column(String(300), nullable=True)


track(Client, "clients")  # every node drops its client cache within a second of a change (idp.versions)
