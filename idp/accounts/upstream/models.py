"""Storage for upstream providers, the links from accounts to upstream subjects, and pending logins."""
from __future__ import annotations

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ...db import UTCDateTime, db


class UpstreamProvider(db.Model):
    """An identity provider MotID logs people in through, as its relying party.

    ``client_secret`` is encrypted under the master key (DESIGN §Secrets): ``client_secret_post`` and
    ``client_secret_basic`` need it in clear at the token endpoint. ``endpoints`` overrides what
    discovery says (Zalo has no discovery document: its endpoints are always there).
    """

    __tablename__ = "upstream_providers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    issuer: Mapped[str] = mapped_column(String(500), nullable=False)
    client_id: Mapped[str] = mapped_column(String(200), nullable=False)
    client_secret = mapped_column(Text, nullable=True)  # encrypted under the master key
    token_auth_method: Mapped[str] = mapped_column(String(30), nullable=False)
    scopes: Mapped[str] = mapped_column(String(500), nullable=False)
    acr_values = mapped_column(String(200), nullable=True)
    profile: Mapped[str] = mapped_column(String(10), nullable=False)
    display_name: Mapped[str] = mapped_column(String(100), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    endpoints = mapped_column(JSON, nullable=True)
    created_at = mapped_column(UTCDateTime, nullable=False)
    updated_at = mapped_column(UTCDateTime, nullable=False)


class UpstreamLink(db.Model):
    """An account's identity at an upstream provider: one upstream subject, one account."""

    __tablename__ = "upstream_links"
    __table_args__ = (UniqueConstraint("provider", "subject", name="uq_upstream_links_provider_subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True)
    provider: Mapped[str] = mapped_column(String(40), nullable=False)
    subject: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at = mapped_column(UTCDateTime, nullable=False)
    last_used_at = mapped_column(UTCDateTime, nullable=True)


class UpstreamLogin(db.Model):
    """A login sent to an upstream and not yet back: consumed once, by one atomic UPDATE.

    The key is the SHA-256 of ``state``, so a database dump yields no usable state; the PKCE verifier
    never leaves the server but is kept encrypted under the master key all the same.
    """

    __tablename__ = "upstream_logins"

    state_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(String(40), nullable=False)
    nonce: Mapped[str] = mapped_column(String(64), nullable=False)
    code_verifier: Mapped[str] = mapped_column(Text, nullable=False)  # encrypted under the master key
    acr_values = mapped_column(String(200), nullable=True)
    next_url = mapped_column(String(2000), nullable=True)
    created_at = mapped_column(UTCDateTime, nullable=False)
    expires_at = mapped_column(UTCDateTime, nullable=False, index=True)
    consumed_at = mapped_column(UTCDateTime, nullable=True)


class UpstreamSession(db.Model):
    """The upstream session behind an SSO session that an upstream login opened: for logging out there
    (RP-initiated, ``id_token_hint``) and for finding the SSO sessions a back-channel logout names.

    Its own table, not columns of ``sso_sessions``: that row is read on every request and most sessions
    never saw an upstream. ``id_token`` is encrypted under the master key (it names the person).
    """

    __tablename__ = "upstream_sessions"
    __table_args__ = (Index("ix_upstream_sessions_provider_sid", "provider", "upstream_sid"),
                      Index("ix_upstream_sessions_provider_subject", "provider", "subject"))

    sso_session_id: Mapped[str] = mapped_column(ForeignKey("sso_sessions.id", ondelete="CASCADE"),
                                                primary_key=True)
    provider: Mapped[str] = mapped_column(String(40), nullable=False)
    upstream_sid = mapped_column(String(255), nullable=True)
    subject: Mapped[str] = mapped_column(String(255), nullable=False)
    id_token = mapped_column(Text, nullable=True)  # encrypted under the master key
    created_at = mapped_column(UTCDateTime, nullable=False)


class UpstreamLogoutToken(db.Model):
    """A back-channel logout token accepted once (Back-Channel Logout 1.0 §2.6 ``jti``): the primary
    key makes a replay fail on insert; rows go when the token could no longer be accepted anyway."""

    __tablename__ = "upstream_logout_tokens"

    provider: Mapped[str] = mapped_column(String(40), primary_key=True)
    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at = mapped_column(UTCDateTime, nullable=False, index=True)
