"""Who is calling the API: a MotID access token (RFC 6750 header only, or a DPoP-bound token with its
proof, RFC 9449 §7, checked as at UserInfo by :mod:`idp.oidc.dpop_resource`), an administrator's own
(its session at assurance level 2; the actor's roles still apply) or an application's
client-credentials token. The token's ``admin:*`` scopes bound what either may do."""
from __future__ import annotations

from flask import Response, current_app, g, request
from flask_babel import gettext as _

from ...accounts import assurance
from ...clock import now
from ...oidc.dpop_resource import ResourceRefusal, authorization, check_holder, holder_proof
from ...oidc.lookup import live_access_token
from ...oidc.mtls import holder_matches
from ..authz import ADMIN_SCOPES, Actor, refuse
from .blueprint import bp
from .responses import problem

MAX_TOKEN = 4096
CERTIFICATE_NOT_PRESENTED = "The access token is bound to a client certificate that was not presented (RFC 8705)."


def _unauthorized(description: str) -> Response:
    return problem(401, "invalid_token", description,
                   headers={"WWW-Authenticate": f'Bearer realm="MotID", error="invalid_token", '
                                                f'error_description="{description}"'})


def _dpop_refused(refusal: ResourceRefusal) -> Response:
    return problem(401, refusal.error, refusal.description, headers=refusal.headers())


@bp.before_request
def authenticate():
    if request.endpoint == "admin_api.openapi":
        return None
    scheme, token = authorization()
    if not token or len(token) > MAX_TOKEN:
        return problem(401, "invalid_token", _("An access token is required."),
                       headers={"WWW-Authenticate": 'Bearer realm="MotID"'})
    app = current_app
    try:
        proof = holder_proof(scheme, token)  # RFC 9449 §7: the proof first, as at /userinfo
    except ResourceRefusal as refusal:
        return _dpop_refused(refusal)
    found = live_access_token(token, app.extensions["idp.keys"], app.config["IDP_ISSUER"], now(), with_account=True,
                              ours=True)
    if found is None:
        if scheme == "dpop":
            return _dpop_refused(ResourceRefusal("invalid_token", "The access token is invalid, expired or revoked."))
        return _unauthorized("The access token is invalid, expired or revoked.")
    scopes = set(found.scope.split()) & set(ADMIN_SCOPES)
    account = found.account
    if account is not None and account.status != "active":
        return _unauthorized("The account behind this token is not active.")
    actor = (Actor.for_account(account, scopes=scopes, client_id=found.client_id) if account is not None
             else Actor.for_client(found.client_id, scopes))
    g.admin_actor = actor
    action = f"api.{request.endpoint}"
    try:
        check_holder(found.cnf_jkt, proof)
    except ResourceRefusal as refusal:
        # A genuine DPoP-bound token without its key may have been stolen: recorded, as for a certificate.
        refuse(actor, action, "invalid_token", refusal.description, status=401, extra={"cause": "dpop_key_not_proven"})
        return _dpop_refused(refusal)
    if not holder_matches(found.cnf_x5t):
        # RFC 8705 §3: a certificate-bound token is only good with its certificate, as at /userinfo. A
        # genuine token without it may have been stolen: recorded, like every refusal of a known actor.
        raise refuse(actor, action, "invalid_token", CERTIFICATE_NOT_PRESENTED, status=401,
                     extra={"cause": "certificate_not_presented"})
    if not scopes:
        raise refuse(actor, action, "insufficient_scope", _("The access token has no admin scope."))
    if account is not None and not assurance.satisfies(found.acr, assurance.LOA2):
        raise refuse(actor, action, "insufficient_user_authentication",
                     _("Administration needs a login with a second factor (assurance level 2)."), status=401)
    if account is not None and not actor.roles:
        raise refuse(actor, action, "forbidden", _("This account is not an administrator."))
    return None


def actor() -> Actor:
    return g.admin_actor
