"""Rate limits (Flask-Limiter): memory by default, Redis when ``IDP_REDIS_URL`` is set.

Every limited endpoint is listed in :data:`LIMITS`, so the whole policy reads in one place.
Each application gets its own :class:`Limiter`, so two apps in one process never share state.
"""
from __future__ import annotations

from flask import current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from .accounts.identifiers import login_candidates


def login_identifier_key() -> str:
    """Counts attempts against one account whichever way its identifier is written."""
    raw = request.form.get("identifier", "")[:254]
    candidates = login_candidates(raw)
    return "login:" + (candidates[0][1] if candidates else raw.strip().lower())


def email_key(prefix: str):
    return lambda: f"{prefix}:" + request.form.get("email", "")[:254].strip().lower()


def second_factor_key() -> str:
    """Counts code attempts against one account (pending login or live session), not one address."""
    from flask import session
    note = session.get("pending_login")
    if isinstance(note, dict) and note.get("account"):
        return f"2fa:{note['account']}"
    return "2fa:ip:" + (request.remote_addr or "")


def setting(name: str):
    return lambda: current_app.config[name]


# endpoint → [(limit, key function or None for the client IP)], applied to POST only.
LIMITS = {
    "accounts.login": [(setting("IDP_LOGIN_LIMIT_PER_IP"), None),
                       (setting("IDP_LOGIN_LIMIT_PER_ACCOUNT"), login_identifier_key)],
    "accounts.resend_verification": [("20/hour", None), ("5/hour", email_key("verify"))],
    "accounts.forgot_password": [("20/hour", None), ("5/hour", email_key("forgot"))],
    "accounts.second_factor": [(setting("IDP_SECOND_FACTOR_LIMIT"), second_factor_key)],
    "accounts.passkey_login": [(setting("IDP_LOGIN_LIMIT_PER_IP"), None)],
}


def init_app(app) -> Limiter:
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["IDP_REDIS_URL"] or "memory://")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "motid")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    # An unreachable Redis must not lock everyone out: fall back to per-process memory.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    limiter = Limiter(key_func=get_remote_address, default_limits=[])
    limiter.init_app(app)
    app.extensions["idp.limiter"] = limiter
    return limiter


def apply(app) -> None:
    """Wrap the registered views named in :data:`LIMITS` (after blueprints are registered)."""
    limiter = app.extensions["idp.limiter"]
    for endpoint, specs in LIMITS.items():
        view = app.view_functions[endpoint]
        for limit_value, key_func in specs:
            view = limiter.limit(limit_value, key_func=key_func, methods=["POST"])(view)
        app.view_functions[endpoint] = view
