"""The back channel of a code flow: the token request with the provider's client authentication
(RFC 6749 §4.1.3, §2.3.1; RFC 7523 ``private_key_jwt``) and UserInfo (OpenID Connect Core §5.3).
Zalo Login v4 spells both its own way (vietnam-context.md §4): ``app_id`` and a ``secret_key`` header
at the token endpoint, the access token in an ``access_token`` header at ``/v2.0/me``.
"""
from __future__ import annotations

import base64
from datetime import timedelta
from urllib.parse import quote

from flask import current_app

from ...security import new_token
from .discovery import fetch_json
from .errors import TokenRejected, UpstreamUnavailable

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = timedelta(seconds=60)


def token_request(provider, metadata: dict, *, code: str, redirect_uri: str, code_verifier: str,
                  secret: str | None, now) -> dict:
    """The token response for ``code``; :class:`TokenRejected` when the upstream refuses it."""
    endpoint = metadata["token_endpoint"]
    form = {"grant_type": "authorization_code", "code": code, "code_verifier": code_verifier}
    headers: dict = {}
    if provider.profile == "zalo":
        form["app_id"] = provider.client_id
        headers["secret_key"] = secret or ""
    else:
        form["redirect_uri"] = redirect_uri
        _authenticate(provider, form, headers, secret=secret, audience=endpoint, now=now)
    status, document = fetch_json("POST", endpoint, data=form, headers=headers, ok_statuses=(200, 400, 401))
    if status != 200 or document.get("error") not in (None, 0):
        raise TokenRejected(f"token endpoint refused the code: {str(document.get('error'))[:100]}")
    if not isinstance(document.get("access_token"), str):
        raise TokenRejected("token response without an access token")
    return document


def _authenticate(provider, form: dict, headers: dict, *, secret, audience: str, now) -> None:
    method = provider.token_auth_method
    if method == "client_secret_basic":
        # RFC 6749 §2.3.1: both parts form-urlencoded before base64.
        pair = f"{quote(provider.client_id, safe='')}:{quote(secret or '', safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    elif method == "client_secret_post":
        form.update(client_id=provider.client_id, client_secret=secret or "")
    else:  # private_key_jwt, signed with MotID's own RS256 key (published at /jwks.json)
        claims = {"iss": provider.client_id, "sub": provider.client_id, "aud": audience, "jti": new_token(),
                  "iat": int(now.timestamp()), "exp": int((now + ASSERTION_LIFETIME).timestamp())}
        form.update(client_id=provider.client_id, client_assertion_type=ASSERTION_TYPE,
                    client_assertion=current_app.extensions["idp.keys"].sign(claims, alg="RS256", now=now))


def userinfo(provider, metadata: dict, access_token: str) -> dict:
    """The UserInfo claims (JSON only; a signed UserInfo response is not asked for)."""
    endpoint = metadata.get("userinfo_endpoint")
    if not endpoint:
        raise UpstreamUnavailable(f"{provider.name}: no userinfo_endpoint")
    if provider.profile == "zalo":
        headers = {"access_token": access_token}
    else:
        headers = {"Authorization": f"Bearer {access_token}"}
    _, document = fetch_json("GET", endpoint, headers=headers)
    if document.get("error") not in (None, 0):
        raise TokenRejected(f"userinfo refused the access token: {str(document.get('error'))[:100]}")
    return document
