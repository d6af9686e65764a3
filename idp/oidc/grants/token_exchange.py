"""Token exchange (RFC 8693): a service acting for a person calls another service through the LGSP.

An authenticated confidential client (the actor) presents a MotID access token of a person
(``subject_token``) and names one downstream service (``audience`` and/or ``resource``); it gets a JWT
access token (RFC 9068) for that service only: ``aud`` the service, ``sub`` the person, ``client_id``
the actor, ``act`` the actor with, nested, the actors before it (§4.1), and the scopes asked for, never
more than the subject token's nor than the administrator's table allows (:mod:`..resources`). The new
token names the subject token's grant (``gid``): ending that grant (logout, revocation, consent
withdrawn) ends it too. It never outlives the subject token, and no refresh token is issued (§2.2.1).

Who may present a subject token: the client it was issued to, or the service it was issued for
(``aud`` equal to the caller's ``client_id``), which is how a chain of exchanges goes on.

Errors (§2.2.2): a subject token that is not a live MotID access token the caller may present, or one of
an unsupported type, is ``invalid_request`` (the RFC's code, not RFC 6749's ``invalid_grant``); a
service not in the caller's table is ``invalid_target``; a scope beyond the subject token or the table
is ``invalid_scope``. Nothing is written, so a refused request leaves nothing behind.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from authlib.oauth2.rfc6749.errors import InvalidRequestError, InvalidScopeError, UnauthorizedClientError
from authlib.oauth2.rfc6749.grants.base import BaseGrant, TokenEndpointMixin
from flask import current_app

from ...clock import now
from ...db import autocommit_reads
from .. import resources
from ..clients import AUTH_METHODS, TOKEN_EXCHANGE
from ..lookup import live_access_token, names_audience
from ..mtls import binding_for, holder_matches
from ..tokens import epoch

ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # RFC 8693 §3


class TokenExchangeGrant(BaseGrant, TokenEndpointMixin):
    GRANT_TYPE = TOKEN_EXCHANGE
    TOKEN_ENDPOINT_AUTH_METHODS = [m for m in AUTH_METHODS if m != "none"]  # the actor authenticates

    def validate_token_request(self):
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("This client may not use token exchange.")
        self.request.client = client
        data = self.request.payload.data
        check_token_types(data)
        target = self.target = requested_target(self.request.payload.datalist)
        autocommit_reads()  # an exchange writes nothing
        self.subject = presented_subject(client, data.get("subject_token"), now())
        requested = (self.request.payload.scope or "").split()
        if not set(requested) <= set(self.subject.scope.split()):
            raise InvalidScopeError("The requested scope exceeds the subject token's scope.")
        self.scope = resources.narrowed_scope(client.client_id, target, " ".join(requested) or self.subject.scope,
                                              explicit=bool(requested))

    def create_token_response(self):
        client, claims, moment = self.request.client, self.subject.claims, now()
        issuer = current_app.extensions["idp.tokens"]
        act = {"sub": client.client_id, **({"act": claims["act"]} if isinstance(claims.get("act"), dict) else {})}
        auth_time = claims.get("auth_time")
        on_behalf = SimpleNamespace(
            handle=claims["gid"], client_id=client.client_id, scope=self.scope, sid=claims.get("sid"),
            auth_time=datetime.fromtimestamp(auth_time, timezone.utc) if isinstance(auth_time, int) else None,
            acr=claims.get("acr"), amr=claims.get("amr"), cnf_x5t=binding_for(client, None))
        ttl = min(issuer.access_lifetime(client), timedelta(seconds=claims["exp"] - epoch(moment)))
        token, expires_in = issuer.access_token(on_behalf, moment, self.scope, ttl, claims["sub"],
                                                resources.audience_claim(self.target, issuer.issuer), act)
        body = {"access_token": token, "issued_token_type": ACCESS_TOKEN_TYPE, "token_type": "Bearer",
                "expires_in": expires_in, "scope": self.scope}
        return 200, body, self.TOKEN_RESPONSE_HEADER


def check_token_types(data: dict) -> None:
    """RFC 8693 §2.1: MotID exchanges its own access tokens for access tokens; the actor is the client."""
    if not data.get("subject_token"):
        raise InvalidRequestError("subject_token is required.")
    if data.get("subject_token_type") != ACCESS_TOKEN_TYPE:
        raise InvalidRequestError(f"subject_token_type must be {ACCESS_TOKEN_TYPE}.")
    if data.get("requested_token_type") not in (None, ACCESS_TOKEN_TYPE):
        raise InvalidRequestError(f"requested_token_type must be {ACCESS_TOKEN_TYPE}.")
    if data.get("actor_token") is not None or data.get("actor_token_type") is not None:
        raise InvalidRequestError("actor_token is not supported: the authenticated client is the actor.")


def requested_target(datalist) -> list[str]:
    """The one service named by ``audience`` (a logical name) and/or ``resource`` (an absolute URI)."""
    audiences = [value for value in datalist.get("audience") or [] if value]
    if any(len(value) > resources.MAX_LENGTH or not value.isprintable() for value in audiences):
        raise resources.InvalidTargetError("The audience is not a valid service name.")
    named = list(dict.fromkeys(audiences + resources.requested(datalist.get("resource"))))
    if not named:
        raise InvalidRequestError("Name the service with audience or resource.")
    if len(named) > 1:
        raise resources.InvalidTargetError("Name one service per token exchange.")
    return named


def presented_subject(client, token, moment):
    """The live subject token, if this client may present it (RFC 8693 §2.2.2: ``invalid_request``)."""
    app = current_app
    found = live_access_token(token, app.extensions["idp.keys"], app.config["IDP_ISSUER"], moment,
                              with_account=True)
    if found is None or found.grant is None or found.account is None or found.account.status == "disabled":
        raise InvalidRequestError("The subject_token is not a valid access token of a person.")
    if found.client_id != client.client_id and not names_audience(found.claims.get("aud"), client.client_id):
        raise InvalidRequestError("The subject_token was issued neither to nor for this client.")
    if not holder_matches(found.cnf_x5t):
        raise InvalidRequestError("The subject_token is bound to a certificate that was not presented.")
    return found
