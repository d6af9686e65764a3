"""The accounts wing's rate-limit policy, read in one place and applied by :func:`idp.limits.apply`: which
endpoint, what limit, and counted per what (the client address unless a key function says otherwise)."""
from __future__ import annotations

from flask import request, session

from ..limits import setting
from .identifiers import login_candidates
from .login_flow.pending import PENDING


def login_identifier_key() -> str:
    """Counts attempts against one account whichever way its identifier is written."""
    raw = request.form.get("identifier", "")[:254]
    candidates = login_candidates(raw)
    return "login:" + (candidates[0][1] if candidates else raw.strip().lower())


def email_key(prefix: str):
    return lambda: f"{prefix}:" + request.form.get("email", "")[:254].strip().lower()


def second_factor_key() -> str:
    """Counts code attempts against one account (pending login or live session), not one address."""
    note = session.get(PENDING)
    if isinstance(note, dict) and note.get("account"):
        return f"2fa:{note['account']}"
    return "2fa:ip:" + (request.remote_addr or "")


# endpoint → [(limit, key function or None for the client IP[, methods])], applied to POST unless methods are given.
LIMITS = {
    "accounts.login": [(setting("IDP_LOGIN_LIMIT_PER_IP"), None),
                       (setting("IDP_LOGIN_LIMIT_PER_ACCOUNT"), login_identifier_key)],
    "accounts.resend_verification": [("20/hour", None), ("5/hour", email_key("verify"))],
    "accounts.forgot_password": [("20/hour", None), ("5/hour", email_key("forgot"))],
    "accounts.second_factor": [(setting("IDP_SECOND_FACTOR_LIMIT"), second_factor_key)],
    "accounts.passkey_login": [(setting("IDP_LOGIN_LIMIT_PER_IP"), None)],
    # Each call stores a challenge row: without a limit anyone could fill the table.
    "accounts.passkey_login_options": [(setting("IDP_LOGIN_LIMIT_PER_IP"), None)],
    # Starting an upstream login (a GET: it is a link) stores a pending login; so does linking one.
    "upstream.start": [(setting("IDP_LOGIN_LIMIT_PER_IP"), None, ["GET"])],
    "upstream.link": [(setting("IDP_LOGIN_LIMIT_PER_IP"), None)],
    # Each verified logout token stores its jti, and each one costs a signature check.
    "upstream.backchannel_logout": [(setting("IDP_LOGIN_LIMIT_PER_IP"), None)],
}
