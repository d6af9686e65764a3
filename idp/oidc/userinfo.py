"""UserInfo endpoint (OIDC Core §5.3): bearer token in the header (GET, POST) or the form body (POST,
RFC 6750 §2.2), or a DPoP-bound token with its proof (RFC 9449 §7, :mod:`.dpop_resource`); a signed
JWT when the client registered ``userinfo_signed_response_alg``."""
from __future__ import annotations

import json

from flask import Response, current_app, request

from ..clock import now
from ..db import autocommit_reads
from .claims import release, scopes_for_claims
from .dpop_resource import ResourceRefusal, authorization, check_holder, holder_proof
from .lookup import live_access_token
from .mtls import holder_matches
from .tokens import epoch


def bearer_error(status: int, error: str | None = None, description: str | None = None) -> Response:
    challenge = 'Bearer realm="MotID"'
    body = {}
    if error:
        challenge += f', error="{error}"'
        body["error"] = error
        if description:
            challenge += f', error_description="{description}"'
            body["error_description"] = description
    return Response(json.dumps(body), status=status, mimetype="application/json",
                    headers={"WWW-Authenticate": challenge, "Cache-Control": "no-store"})


def presented_token() -> tuple[str | None, str | None]:
    """The scheme (``bearer``, ``dpop``, or None for the form body) and the token; raises ValueError when
    it came more than one way."""
    scheme, from_header = authorization()
    from_body = request.form.get("access_token") if request.method == "POST" and request.mimetype == \
        "application/x-www-form-urlencoded" else None
    if from_header and from_body:
        raise ValueError("more than one token")
    return (scheme, from_header) if from_header else (None, from_body)


def refused(refusal: ResourceRefusal) -> Response:
    body = {"error": refusal.error, "error_description": refusal.description}
    return Response(json.dumps(body), status=401, mimetype="application/json", headers=refusal.headers())


def userinfo():
    try:
        scheme, token = presented_token()
    except ValueError:
        return bearer_error(400, "invalid_request", "Send the access token one way only.")
    if not token:
        return bearer_error(401)
    try:
        proof = holder_proof(scheme, token)  # before any read: spending its jti is the one write
    except ResourceRefusal as refusal:
        return refused(refusal)
    moment = now()
    app = current_app
    autocommit_reads()  # UserInfo writes nothing more
    found = live_access_token(token, app.extensions["idp.keys"], app.config["IDP_ISSUER"], moment,
                              with_account=True, ours=True)  # not a token for another service (RFC 8707)
    if found is None:
        if scheme == "dpop":  # RFC 9449 §7.1: the challenge of the scheme used
            return refused(ResourceRefusal("invalid_token", "The access token is invalid, expired or revoked."))
        return bearer_error(401, "invalid_token", "The access token is invalid, expired or revoked.")
    try:
        check_holder(found.cnf_jkt, proof)
    except ResourceRefusal as refusal:
        return refused(refusal)
    if not holder_matches(found.cnf_x5t):
        return bearer_error(401, "invalid_token", "The access token is bound to a client certificate that "
                                                  "was not presented (RFC 8705).")
    scopes = set(found.scope.split())
    if found.account is None or "openid" not in scopes:
        return bearer_error(403, "insufficient_scope", "The access token was not issued for openid.")
    client = app.extensions["idp.clients"].cached(found.client_id)
    if client is None:
        return bearer_error(401, "invalid_token", "The client of this token no longer exists.")
    requested = (found.grant.claims or {}).get("userinfo") or {}
    allowed = set(client.meta.get("scope", "").split())
    claims = release(found.account, scopes | (scopes_for_claims({"userinfo": requested}) & allowed), requested,
                     client_id=client.client_id, acr=found.grant.acr)
    alg = client.meta.get("userinfo_signed_response_alg")
    if alg:
        claims.update(iss=app.config["IDP_ISSUER"], aud=client.client_id, iat=epoch(moment))
        signed = app.extensions["idp.keys"].sign(claims, alg=alg, now=moment)
        return Response(signed, mimetype="application/jwt", headers={"Cache-Control": "no-store"})
    return Response(json.dumps(claims, ensure_ascii=False), mimetype="application/json",
                    headers={"Cache-Control": "no-store"})
