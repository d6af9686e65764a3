"""What the accounts wing keeps and for how long (:mod:`idp.retention` deletes the rest, in batches)."""
from __future__ import annotations

from .. import retention
from .models import AccountToken, RememberedBrowser, SsoSession, WebAuthnChallenge


def init_app(app) -> None:
    retention.rule(app, "sso_sessions", SsoSession.__table__,
                   lambda t, cutoff: (t.c.ended_at < cutoff) | (t.c.expires_at < cutoff),
                   "IDP_RETENTION_SESSION_DAYS")  # their upstream_sessions rows go with them (ON DELETE CASCADE)
    retention.rule(app, "account_tokens", AccountToken.__table__, lambda t, cutoff: t.c.expires_at < cutoff)
    retention.rule(app, "webauthn_challenges", WebAuthnChallenge.__table__,
                   lambda t, cutoff: t.c.expires_at < cutoff)
    retention.rule(app, "remembered_browsers", RememberedBrowser.__table__,
                   lambda t, cutoff: (t.c.expires_at < cutoff) | (t.c.revoked_at < cutoff))
