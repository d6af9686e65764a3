"""What the authorization endpoint shows the person or sends back: the detour through the login page (or
the sign-up page, or the account chooser) and the signed marker that brings the request back, the consent
page with the signed list of what it showed, the ``ui_locales`` choice, the response in ``query`` or
``form_post`` mode (with ``iss``, RFC 9207), and the error page for a request that cannot be answered to
the client."""
from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlencode, urlsplit

from authlib.oauth2.rfc6749.errors import OAuth2Error
from flask import current_app, g, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError, validate_csrf
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..accounts.navigation import current_account
from ..clock import now
from . import consent, pairwise

RESUME = "_motid_resume"
DECISION = "_motid_consent"
SHOWN = "_motid_shown"  # signed: the client and scopes the consent page listed
RESPONSE_MODES = ("query", "form_post")


def _serializer():
    return URLSafeTimedSerializer(current_app.secret_key, salt="motid-authorize-resume")


def resumed_after(params):
    """When this request returned from a login it started, the time it started (signed marker)."""
    if "_resume_cache" in g:
        return g._resume_cache
    value = None
    marker = request.values.get(RESUME)
    if marker:
        try:
            value = datetime.fromtimestamp(_serializer().loads(marker, max_age=3600), timezone.utc)
        except (BadSignature, TypeError, ValueError, OverflowError):
            value = None
    g._resume_cache = value
    return value


def resume_url(outer: dict) -> str:
    """This authorization request as a URL to come back to, marked with when it started."""
    resume = {k: v for k, v in outer.items() if k not in (RESUME, DECISION, SHOWN, "csrf_token")}
    resume[RESUME] = request.values.get(RESUME) or _serializer().dumps(int(now().timestamp()))
    return url_for("oidc.authorize") + "?" + urlencode(resume)


def login_redirect(outer: dict, params: dict):
    target = resume_url(outer)
    login_args = {"next": target}
    for name in ("login_hint", "ui_locales"):
        if params.get(name):
            login_args[name] = params[name]
    return redirect(url_for("accounts.login", **login_args))


def registration_redirect(outer: dict):
    """``prompt=create``: the citizens' sign-up page, then (after confirming the email) the login page, back here."""
    return redirect(url_for("accounts.register", next=resume_url(outer)))


def account_chooser(outer: dict, params: dict):
    """``prompt=select_account``: a browser holds one session, so the choice is to go on with it or to log in
    with another account; either way the request comes back marked as answered."""
    target = resume_url(outer)
    another = {"next": target, **({"login_hint": params["login_hint"]} if params.get("login_hint") else {})}
    return render_template("oidc/select_account.html", account=current_account(), continue_url=target,
                           another_url=url_for("accounts.login", **another))


def check_decision_csrf() -> None:
    try:
        validate_csrf(request.form.get("csrf_token"))
    except Exception as exc:  # flask-wtf raises ValidationError for every kind of bad token
        raise CSRFError(str(exc)) from None


def set_ui_locale(ui_locales) -> None:
    for tag in (ui_locales or "").split():
        language = tag.split("-")[0].lower()
        if language in ("vi", "en"):
            g.ui_locale = language
            return


def _shown_serializer():
    return URLSafeTimedSerializer(current_app.secret_key, salt="motid-consent-shown")


def shown_matches(outer: dict, client, scopes: set) -> bool:
    """Whether the consent being answered listed exactly this client and these scopes."""
    try:
        shown = _shown_serializer().loads(outer.get(SHOWN, ""), max_age=3600)
    except (BadSignature, TypeError, ValueError):
        return False
    return shown == [client.client_id, sorted(scopes)]


def consent_page(client, scopes, outer):
    hidden = {k: v for k, v in outer.items() if k not in (DECISION, SHOWN, "csrf_token")}
    hidden[SHOWN] = _shown_serializer().dumps([client.client_id, sorted(scopes)])
    ordered = [s for s in consent.SCOPE_TEXT if s in scopes]
    sector = None  # a public sub, or the sector whose applications share this pairwise sub (OIDC Core §8.1)
    if client.meta.get("subject_type") == pairwise.PAIRWISE:
        sector = pairwise.sector_of(client.meta) or client.client_id
    return render_template("oidc/consent.html", client=client, scopes=ordered, texts=consent.SCOPE_TEXT,
                           hidden=hidden, account=current_account(), subject_sector=sector)


def respond(redirect_uri: str, body: dict, params: dict, state):
    """Send the result to the client in the requested response mode, with ``iss`` (RFC 9207)."""
    body = {k: v for k, v in body.items() if v is not None}
    if state is not None:
        body["state"] = state
    body["iss"] = current_app.config["IDP_ISSUER"]
    if params.get("response_mode") == "form_post":
        response = current_app.make_response(render_template("oidc/form_post.html", action=redirect_uri,
                                                             fields=body))
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(redirect_uri))
        response.headers["Content-Security-Policy"] = (
            f"default-src 'none'; script-src 'self'; style-src 'self'; form-action {origin}; "
            "frame-ancestors 'none'; base-uri 'none'")
        return response
    separator = "&" if urlsplit(redirect_uri).query else "?"
    return redirect(redirect_uri + separator + urlencode(body), code=302)


def error_page(error: OAuth2Error):
    return render_template("oidc/error.html", error=error.error, description=error.description), 400

