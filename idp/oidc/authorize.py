"""Authorization endpoint (RFC 6749 §3.1, OIDC Core §3.1.2): GET and POST, code flow only.

Order of checks: client and redirect URI first (a bad one is never redirected to: the person sees
an error page), then a pushed request (RFC 9126, :mod:`.pushed_requests`), the request object, then
everything else (:func:`validate`, shared with ``/par``), whose errors go back to the client with
``state`` and ``iss`` (RFC 9207). Then sign-up (``prompt=create``), authentication (``prompt``,
``max_age``, ``id_token_hint``), the account chooser (``prompt=select_account``), consent, and the
code, in ``query`` or ``form_post`` response mode.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import AccessDeniedError, InvalidRequestError, OAuth2Error
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oidc.core.errors import (AccountSelectionRequiredError, ConsentRequiredError, InteractionRequiredError,
                                     LoginRequiredError)
from flask import current_app, g, redirect, request, url_for
from joserfc import jwt
from joserfc.errors import JoseError

from ..accounts import assurance
from ..accounts.upstream import step_up as upstream_step_up
from ..accounts.navigation import current_account, sessions
from ..clock import now
from ..keys import ALGORITHMS
from . import consent, pushed_requests, request_object, resources, role_assurance
from .claims import InvalidClaimsRequest, parse_claims_parameter, scopes_for_claims
from .interaction import (DECISION, RESPONSE_MODES, account_chooser, check_decision_csrf, consent_page, error_page,
                          login_redirect, registration_redirect, respond, resume_url, resumed_after, set_ui_locale,
                          shown_matches)
from .pairwise import names_account



class AuthorizationRequest(OAuth2Request):
    def __init__(self, params: dict, datalist: dict):
        super().__init__(request.method, request.base_url, headers=request.headers)
        self.payload = BasicOAuth2Payload(params)
        self.payload._datalist = datalist


def raw_params() -> tuple[dict, dict]:
    source = request.form if request.method == "POST" else request.args
    datalist = {key: source.getlist(key) for key in source}
    params = {key: values[0] for key, values in datalist.items() if values}
    return params, datalist


def handle():
    raw, datalist = raw_params()
    server = current_app.extensions["idp.oauth"]
    checked = Checked(raw)
    try:
        client = find_client(server, raw)
        outer_redirect = raw.get("redirect_uri")
        if outer_redirect is not None and client.check_redirect_uri(outer_redirect):
            checked.redirect_uri = outer_redirect  # errors in the request object may go back there
        outer, params, datalist = pushed_requests.resolve(client, raw, datalist, checked.redirect_uri)
        checked.params = params
        validate(server, client, params, datalist, checked)
        if checked.obj is not None:  # carried by value from now on: fetched once, what consent shows is what is granted
            outer = {**{k: v for k, v in outer.items() if k not in ("request", "request_uri")},
                     "request": checked.obj.raw}
        return proceed(client, outer, checked)
    except OAuth2Error as error:
        if error.state is None:
            error.state = checked.params.get("state")
        if not getattr(error, "redirect_uri", None) and checked.redirect_uri and not isinstance(error, ClientError):
            error.redirect_uri = checked.redirect_uri  # the client and redirect URI were already verified
        if not getattr(error, "redirect_uri", None):
            return error_page(error)
        return respond(error.redirect_uri, dict(error.get_body()), checked.params, error.state)


@dataclass
class Checked:
    """What is verified so far: ``params`` in force (the request object's once it is verified), the
    redirect URI errors may go to, and, once valid, the request object, the grant and the checked values."""

    params: dict
    redirect_uri: str | None = None
    obj: request_object.RequestObject | None = None
    grant: object = None
    scopes: set = field(default_factory=set)
    claims: dict | None = None
    prompts: set = field(default_factory=set)
    resources: list = field(default_factory=list)  # RFC 8707, checked against the client's table


def validate(server, client, params: dict, datalist: dict, checked: Checked) -> Checked:
    """Every check made before authentication, in order; shared with the pushed authorization request
    endpoint (RFC 9126 §2.1: validated as the authorization endpoint would)."""
    checked.obj = request_object.load(params, client, checked.redirect_uri)
    checked.params = merged = request_object.merge(params, checked.obj)
    checked.redirect_uri = validate_redirect_uri(client, params, merged)
    if merged.get("response_type") != "code":  # Authlib would echo the value into error_description
        raise UnsupportedResponseType()
    oauth_request = AuthorizationRequest(merged, datalist)
    grant = server.get_authorization_grant(oauth_request)
    grant.validate_no_multiple_request_parameter(oauth_request)
    checked.redirect_uri = grant.validate_authorization_request()
    checked.grant = grant
    checked.scopes, checked.claims, checked.prompts = checked_parameters(grant, merged, checked.redirect_uri)
    checked.resources = requested_resources(grant, client, merged, checked.redirect_uri,
                                            from_object=checked.obj is not None)
    return checked


class UnsupportedResponseType(OAuth2Error):
    """RFC 6749 §4.1.2.1, with a fixed description: the offending value is never reflected."""

    error = "unsupported_response_type"
    description = "Only the response type code is supported."


class ClientError(InvalidRequestError):
    """The client or its redirect URI is wrong: shown to the person, never redirected."""


def find_client(server, params):
    client = server.query_client(params.get("client_id"))
    if client is None:
        raise ClientError("Unknown client_id.")
    return client


def validate_redirect_uri(client, outer: dict, merged: dict) -> str:
    """The redirect URI to answer to: the request object's when it has one (RFC 9101 §6.3), which an
    outer value must then equal; it must be registered exactly."""
    redirect_uri = merged.get("redirect_uri")
    if not redirect_uri:
        raise ClientError("redirect_uri is required.")
    if outer.get("redirect_uri") not in (None, redirect_uri):
        raise ClientError("redirect_uri does not match the one in the request object.")
    if not client.check_redirect_uri(redirect_uri):
        raise ClientError("redirect_uri is not registered for this client.")
    return redirect_uri


def checked_parameters(grant, params: dict, redirect_uri: str) -> tuple[set, dict | None, set]:
    """The requested scopes, ``claims`` and ``prompt`` values, or the OAuth error that goes back to the client."""
    if params.get("response_mode", "query") not in RESPONSE_MODES:
        raise InvalidRequestError("Unsupported response_mode.", redirect_uri=redirect_uri)
    scopes = set((grant.request.scope or "").split())
    if "openid" not in scopes:
        raise InvalidRequestError("The scope must include openid.", redirect_uri=redirect_uri)
    try:
        claims_request = parse_claims_parameter(params.get("claims"))
    except InvalidClaimsRequest as exc:
        raise InvalidRequestError(str(exc), redirect_uri=redirect_uri) from None
    prompts = set(params.get("prompt", "").split())
    if prompts == {"none", "select_account"}:  # OIDC Core §3.1.2.6: a choice is asked for without any page
        raise AccountSelectionRequiredError(redirect_uri=redirect_uri)
    if "none" in prompts and len(prompts) > 1:
        raise InvalidRequestError("prompt=none cannot be combined with other values.", redirect_uri=redirect_uri)
    return scopes, claims_request, prompts


def requested_resources(grant, client, params: dict, redirect_uri: str, *, from_object: bool) -> list[str]:
    """RFC 8707 §2: the ``resource`` (a string; in a request object also an array of one), an absolute URI
    without a fragment and in the client's table, else ``invalid_target`` back to the client. One per
    request: the login and consent round trips carry one value per parameter."""
    raw = params.get("resource") if from_object else grant.request.payload.datalist.get("resource")
    if isinstance(raw, str):
        raw = [raw]
    if raw is not None and not isinstance(raw, list):
        raise resources.InvalidTargetError("resource must be a string or an array of strings.",
                                           redirect_uri=redirect_uri)
    values = resources.requested(raw, redirect_uri)
    if len(values) > 1:
        raise resources.InvalidTargetError("Name one resource per authorization request.", redirect_uri=redirect_uri)
    resources.check_allowed(client.client_id, values, redirect_uri)
    return values


def proceed(client, outer: dict, checked: Checked):
    params, redirect_uri, prompts = checked.params, checked.redirect_uri, checked.prompts
    scopes, claims_request = checked.scopes, checked.claims
    g.oidc_claims = claims_request
    g.oidc_resources = checked.resources
    set_ui_locale(params.get("ui_locales"))
    detour_done = resumed_after(params) is not None  # back from registration, login or the account chooser
    if "create" in prompts and not detour_done:  # Initiating User Registration via OpenID Connect 1.0 §4
        return registration_redirect(outer)
    if needs_login(client, params, prompts, redirect_uri):
        if "none" in prompts:
            raise LoginRequiredError(redirect_uri=redirect_uri)
        return login_redirect(outer, params)
    if "select_account" in prompts and not detour_done:  # one session per browser: confirm it or change it
        return account_chooser(outer, params)

    allowed = set(client.meta.get("scope", "").split())
    wanted = scopes | (scopes_for_claims(claims_request) & allowed)
    wanted_acr = requested_acr(client, params, claims_request, redirect_uri)
    session = sessions().current(now())
    roles_asked = "officer" in (wanted & allowed)  # the roles claim can reach this client
    if roles_asked:
        wanted_acr = role_assurance.required_level(session.account, client.client_id, wanted_acr, session.acr,
                                                   now=now())
    if not assurance.satisfies(session.acr, wanted_acr):
        return step_up(session, wanted_acr, prompts, outer, redirect_uri)

    account = current_account()
    page = consent_needed(account, client, wanted, outer, prompts, redirect_uri)
    if page is not None:
        return page
    request_object.consume(checked.obj, client, redirect_uri)
    pushed_requests.finish(outer, client, redirect_uri)
    if roles_asked:
        role_assurance.record_withheld(account, client.client_id, session.acr, now=now())
    _, _, headers = checked.grant.create_authorization_response(redirect_uri, account)
    issued = dict(parse_qsl(urlsplit(dict(headers)["Location"]).query))
    return respond(redirect_uri, {"code": issued["code"]}, params, params.get("state"))


def consent_needed(account, client, wanted: set, outer: dict, prompts: set, redirect_uri: str):
    """The consent page when the person must (still) answer it; None when consent is given or not needed.
    An answer is recorded only if it came with the form's CSRF token and for exactly what the page listed."""
    decision = outer.get(DECISION)
    if decision is not None:
        check_decision_csrf()
        if not shown_matches(outer, client, wanted):
            return consent_page(client, wanted, outer)  # not what the page the person answered listed
        if decision != "allow":
            raise AccessDeniedError(redirect_uri=redirect_uri)
        consent.give(account, client.client_id, wanted, now=now())
    elif not client.first_party and ("consent" in prompts or not consent.has_consent(account.id, client.client_id,
                                                                                        wanted)):
        if "none" in prompts:
            raise ConsentRequiredError(redirect_uri=redirect_uri)
        return consent_page(client, wanted, outer)
    return None


def step_up(session, wanted_acr: str, prompts: set, outer: dict, redirect_uri: str):
    """Raise the session to ``wanted_acr`` on the same login, then come back here."""
    if "none" in prompts:
        raise InteractionRequiredError(redirect_uri=redirect_uri)
    upstream = upstream_step_up.route(session, wanted_acr)
    if upstream is not None:  # back to the national e-ID the session came from, asking for the level
        return redirect(url_for("upstream.start", name=upstream, acr=wanted_acr, next=resume_url(outer)))
    if not role_assurance.reachable(session.account, wanted_acr, now=now()):
        raise UnmetAuthenticationRequirements(redirect_uri=redirect_uri)
    if wanted_acr == assurance.LOA3:  # only a bound digital-signature certificate reaches it
        return redirect(url_for("certificates.login", next=resume_url(outer)))
    return redirect(url_for("accounts.second_factor", next=resume_url(outer)))


class UnmetAuthenticationRequirements(OAuth2Error):
    """OpenID Connect Core errata: the requested assurance cannot be reached for this person."""

    error = "unmet_authentication_requirements"
    description = "The requested authentication level cannot be reached."


def requested_acr(client, params, claims_request, redirect_uri) -> str | None:
    """The level the client requires (acr_values, an essential acr claim, or its registered default)."""
    values = (params.get("acr_values") or "").split()
    acr_claim = ((claims_request or {}).get("id_token") or {}).get("acr") or {}
    if acr_claim.get("essential"):
        values = acr_claim.get("values") or ([acr_claim["value"]] if "value" in acr_claim else values)
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise InvalidRequestError("claims.id_token.acr values must be strings.", redirect_uri=redirect_uri)
    if not values:
        values = client.meta.get("default_acr_values") or []
    if not values:
        return None
    wanted = assurance.strongest_supported(values)
    if wanted is None:
        raise UnmetAuthenticationRequirements(redirect_uri=redirect_uri)
    return wanted


def needs_login(client, params, prompts, redirect_uri) -> bool:
    session = sessions().current(now())
    if session is None:
        return True
    fresh = resumed_after(params) is not None and session.auth_time >= resumed_after(params)
    if "login" in prompts and not fresh:
        return True
    max_age = params.get("max_age", client.meta.get("default_max_age"))
    if max_age is not None:
        try:
            seconds = int(max_age)
        except (TypeError, ValueError):
            raise InvalidRequestError("max_age must be a number of seconds.", redirect_uri=redirect_uri) from None
        if not 0 <= seconds <= 10**9:
            raise InvalidRequestError("max_age must be between 0 and 10^9 seconds.", redirect_uri=redirect_uri)
        if now() - session.auth_time > timedelta(seconds=seconds) and not fresh:
            return True
    hint = params.get("id_token_hint")
    if hint:
        if not names_account(hint_claims(hint, redirect_uri), session.account.sub):
            return True
    return False


def hint_claims(hint: str, redirect_uri) -> dict:
    """The claims of an ID token we issued (expired ones accepted: it is only a hint)."""
    keys = current_app.extensions["idp.keys"]
    try:
        claims = jwt.decode(hint, keys.verification_keys(now()), algorithms=list(ALGORITHMS)).claims
    except (JoseError, ValueError, TypeError):
        raise InvalidRequestError("id_token_hint is not an ID token issued here.", redirect_uri=redirect_uri) from None
    if claims.get("iss") != current_app.config["IDP_ISSUER"] or not isinstance(claims.get("sub"), str):
        raise InvalidRequestError("id_token_hint is not an ID token issued here.", redirect_uri=redirect_uri)
    return claims
