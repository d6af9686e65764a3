"""Logging out at the upstream as well: OpenID Connect RP-Initiated Logout 1.0, MotID as the relying party.

https://openid.net/specs/openid-connect-rpinitiated-1_0.html

An SSO session an upstream login opened remembers that upstream session (:func:`remember`). When the
person logs out of MotID (``/logout`` or a client's RP-initiated logout), :func:`end_session_url` gives the
upstream's ``end_session_endpoint`` with ``id_token_hint``, ``client_id``, ``post_logout_redirect_uri`` =
``{IDP_ISSUER}/login/upstream/NAME/logged-out`` and a signed ``state`` naming where MotID's logout was
going; :func:`continue_to` reads it back when the upstream returns the browser.
"""
from __future__ import annotations

import logging
from urllib.parse import urlencode

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import delete, select

from ...db import db
from ..models import SsoSession
from .discovery import cache, secure_url
from .errors import UpstreamError
from .identity import UpstreamIdentity
from .models import UpstreamLogoutToken, UpstreamSession
from .registry import UpstreamRegistry

log = logging.getLogger(__name__)
STATE_MAX_AGE = 3600  # an upstream may ask the person to confirm; the way back stays open an hour


def logged_out_url(name: str) -> str:
    """The ``post_logout_redirect_uri`` to register at the upstream."""
    return current_app.config["IDP_ISSUER"].rstrip("/") + f"/login/upstream/{name}/logged-out"


def remember(session: SsoSession, identity: UpstreamIdentity, *, now) -> None:
    """Record (committed) the upstream session behind ``session``, which ``identity``'s login opened."""
    master_key = current_app.extensions["idp.master_key"]
    db.session.add(UpstreamSession(
        sso_session_id=session.id, provider=identity.provider, upstream_sid=identity.upstream_sid,
        subject=identity.subject, created_at=now,
        id_token=master_key.encrypt(identity.id_token.encode()) if identity.id_token else None))
    db.session.commit()


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="motid-upstream-logout")


def end_session_url(session: SsoSession, continue_to: str | None) -> str | None:
    """Where to send the browser once ``session`` has ended, if an upstream session is behind it and the
    upstream has an ``end_session_endpoint``; ``continue_to`` is where MotID's logout would have gone
    (None: MotID's logged-out page). An upstream that cannot be reached is logged and skipped: MotID's
    own logout has happened either way."""
    row = db.session.get(UpstreamSession, session.id)
    provider = UpstreamRegistry.from_app().get(row.provider) if row is not None else None
    if provider is None or not provider.enabled:
        return None
    try:
        endpoint = cache().metadata(provider).get("end_session_endpoint")
    except UpstreamError as exc:
        log.warning("upstream %s: no logout there: %s", provider.name, exc.reason)
        return None
    if not secure_url(endpoint, current_app.config):
        return None
    params = {"client_id": provider.client_id, "post_logout_redirect_uri": logged_out_url(provider.name),
              "state": _serializer().dumps({"p": provider.name, "to": continue_to})}
    if row.id_token:
        params["id_token_hint"] = current_app.extensions["idp.master_key"].decrypt(row.id_token).decode()
    return endpoint + ("&" if "?" in endpoint else "?") + urlencode(params)


def continue_to(name: str, state) -> str | None:
    """Where MotID's logout was going, from the ``state`` the upstream sent back; None (MotID's
    logged-out page) for a missing, forged, expired or another provider's ``state``."""
    if not isinstance(state, str) or len(state) > 4000:
        return None
    try:
        data = _serializer().loads(state, max_age=STATE_MAX_AGE)
    except BadData:
        return None
    if not isinstance(data, dict) or data.get("p") != name or not isinstance(data.get("to"), str):
        return None
    return data["to"]


def purge(now) -> int:
    """Forget upstream sessions whose SSO session ended, and logout tokens past their replay window."""
    ended = select(SsoSession.id).where(SsoSession.ended_at.is_not(None))
    count = db.session.execute(delete(UpstreamSession).where(UpstreamSession.sso_session_id.in_(ended))).rowcount
    count += db.session.execute(delete(UpstreamLogoutToken).where(UpstreamLogoutToken.expires_at <= now)).rowcount
    db.session.commit()
    return count
