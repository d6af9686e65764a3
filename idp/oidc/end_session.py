"""RP-Initiated Logout 1.0: the ``end_session_endpoint``.

A valid ``id_token_hint`` for the current session logs out at once; without one (or for another
person's token) the person is asked to confirm. ``post_logout_redirect_uri`` must exactly match one
the client registered, or nothing is redirected. A modified or foreign hint is refused.
"""
from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from flask import current_app, redirect, render_template, request
from flask_wtf.csrf import validate_csrf
from joserfc import jwt
from joserfc.errors import JoseError
from wtforms.validators import ValidationError

from ..accounts.navigation import sessions
from ..clock import now
from ..keys import ALGORITHMS
from .interaction import set_ui_locale
from .logout import frame_sources, frontchannel_urls
from .pairwise import names_account

CONFIRM = "_motid_logout"


class LogoutError(Exception):
    def __init__(self, description: str):
        super().__init__(description)
        self.description = description


def hint_claims(hint: str) -> dict:
    keys = current_app.extensions["idp.keys"]
    try:
        claims = jwt.decode(hint, keys.verification_keys(now()), algorithms=list(ALGORITHMS)).claims
    except (JoseError, ValueError, TypeError):
        raise LogoutError("id_token_hint is not an ID token issued by MotID.") from None
    if claims.get("iss") != current_app.config["IDP_ISSUER"] or not isinstance(claims.get("sub"), str):
        raise LogoutError("id_token_hint is not an ID token issued by MotID.")
    return claims


def resolve(params: dict):
    """The client, the validated redirect and the hint's claims; raises :class:`LogoutError`."""
    claims = hint_claims(params["id_token_hint"]) if params.get("id_token_hint") else None
    audience = None
    if claims is not None:
        aud = claims.get("aud")
        audience = aud if isinstance(aud, str) else (aud[0] if isinstance(aud, list) and len(aud) == 1 else None)
    client_id = params.get("client_id") or audience
    if params.get("client_id") and audience and params["client_id"] != audience:
        raise LogoutError("client_id does not match the id_token_hint.")
    client = current_app.extensions["idp.clients"].get(client_id) if client_id else None
    if client_id and client is None:
        raise LogoutError("Unknown client_id.")
    redirect_uri = params.get("post_logout_redirect_uri")
    if redirect_uri:
        if client is None:
            raise LogoutError("post_logout_redirect_uri needs client_id or id_token_hint.")
        if redirect_uri not in (client.meta.get("post_logout_redirect_uris") or []):
            raise LogoutError("post_logout_redirect_uri is not registered for this client.")
    return client, redirect_uri, claims


def handle():
    source = request.form if request.method == "POST" else request.args
    params = {key: source.get(key) for key in source if len(source.get(key) or "") <= 8192}
    set_ui_locale(params.get("ui_locales"))
    try:
        client, redirect_uri, claims = resolve(params)
    except LogoutError as error:
        return render_template("oidc/error.html", error="invalid_request", description=error.description), 400
    moment = now()
    session = sessions().current(moment)
    confirmed = request.method == "POST" and request.form.get(CONFIRM) == "yes" and _csrf_ok()
    matches = session is not None and claims is not None and claims.get("sid") == session.sid \
        and names_account(claims, session.account.sub)
    if session is not None and not (matches or confirmed):
        return render_template("oidc/end_session.html", params=params, client=client, account=session.account)
    frames = []
    if session is not None:
        frames = frontchannel_urls(session.sid)
        sessions().logout(moment)
    return logged_out(redirect_uri, params.get("state"), frames, session)


def _csrf_ok() -> bool:
    try:
        validate_csrf(request.form.get("csrf_token"))
        return True
    except ValidationError:
        return False


def logged_out(redirect_uri, state, frames, ended=None):
    """Where the browser goes once ``ended`` (the session, if there was one) has ended: the upstream's
    end-session endpoint first when an upstream login opened it (the accounts wing's
    ``idp.upstream_logout`` says, and brings the browser back to ``target``), then ``target``."""
    target = None
    if redirect_uri:
        target = redirect_uri
        if state:
            target += ("&" if urlsplit(redirect_uri).query else "?") + urlencode({"state": state})
    hook = current_app.extensions.get("idp.upstream_logout")
    upstream = hook(ended, target) if hook is not None and ended is not None else None
    if upstream or target:
        if not frames:
            return redirect(upstream or target)
    return logged_out_page(frames, upstream or target, upstream=bool(upstream))


def logged_out_page(frames, target=None, upstream=False):
    """The logged-out page, loading each client's front-channel logout URI in an iframe; ``upstream``:
    ``target`` is the upstream's end-session endpoint, where the logout continues."""
    response = current_app.make_response(render_template("accounts/logged_out.html", frames=frames, target=target,
                                                         upstream=upstream))
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
        f"base-uri 'none'; frame-ancestors 'none'; frame-src {frame_sources(frames)}")
    return response
