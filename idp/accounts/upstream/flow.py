"""The relying-party side of the authorization code flow with an upstream (OpenID Connect Core §3.1,
PKCE RFC 7636 S256, RFC 9207 ``iss``), from the redirect to a verified :class:`UpstreamIdentity`.

- :func:`begin` builds the authorization URL and stores the pending login (``state``, ``nonce``, PKCE
  verifier) server-side;
- :func:`finish` takes the callback's query arguments: ``state`` consumed once → ``iss`` → ``error`` →
  code exchanged at the token endpoint → ID token verified → UserInfo (``sub`` must match) → claims
  mapped by the provider's profile. Any failure raises an :class:`UpstreamError` and records
  ``account:upstream:reject``; nothing is half-done.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import re
from urllib.parse import urlencode

from flask import current_app

from ... import events
from ...clock import now as clock_now
from ...db import db
from ...security import new_token
from . import exchange, id_token, pending
from .discovery import cache
from .errors import IssuerMismatch, ProviderUnknown, TokenRejected, UpstreamDenied, UpstreamError
from .identity import UpstreamIdentity
from .models import UpstreamProvider
from .profiles import PROFILES
from .registry import UpstreamRegistry

_ERROR = re.compile(r"^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,100}$")  # RFC 6749 §4.1.2.1 error charset


def callback_url(name: str) -> str:
    """The redirect URI to register at the upstream: ``{IDP_ISSUER}/login/upstream/NAME/callback``."""
    return current_app.config["IDP_ISSUER"].rstrip("/") + f"/login/upstream/{name}/callback"


def provider_named(name_or_provider) -> UpstreamProvider:
    """An enabled provider, or :class:`ProviderUnknown`."""
    if isinstance(name_or_provider, UpstreamProvider):
        provider = name_or_provider
    else:
        provider = UpstreamRegistry.from_app().get(name_or_provider) if isinstance(name_or_provider, str) else None
    if provider is None or not provider.enabled:
        raise ProviderUnknown(f"no enabled upstream provider {name_or_provider!r}")
    return provider


def begin(provider, next_url: str | None, acr_values: str | None = None) -> str:
    """The URL to send the browser to; the pending login is stored (committed) before it returns.
    ``acr_values`` overrides the provider's configured ones (a step-up asks for more). A failure (the
    upstream down or slow, no such provider) is recorded like one at the callback."""
    try:
        return _begin(provider_named(provider), next_url, acr_values)
    except UpstreamError as exc:
        _rejected(getattr(provider, "name", provider), exc, step="start")
        raise


def _begin(provider: UpstreamProvider, next_url: str | None, acr_values: str | None) -> str:
    metadata = cache().metadata(provider)  # UpstreamUnavailable before anything is stored
    verifier = new_token(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    acr_values = acr_values or provider.acr_values
    state, nonce = pending.store(provider.name, code_verifier=verifier, acr_values=acr_values, next_url=next_url,
                                 master_key=current_app.extensions["idp.master_key"], now=clock_now())
    if provider.profile == "zalo":
        params = {"app_id": provider.client_id, "redirect_uri": callback_url(provider.name),
                  "code_challenge": challenge, "state": state}
    else:
        params = {"response_type": "code", "client_id": provider.client_id,
                  "redirect_uri": callback_url(provider.name), "scope": provider.scopes, "state": state,
                  "nonce": nonce, "code_challenge": challenge, "code_challenge_method": "S256"}
        if acr_values:
            params["acr_values"] = acr_values
    endpoint = metadata["authorization_endpoint"]
    return endpoint + ("&" if "?" in endpoint else "?") + urlencode(params)


def finish(provider, args) -> UpstreamIdentity:
    """The callback: the verified identity, or an :class:`UpstreamError` (recorded as an audit event)."""
    name = getattr(provider, "name", provider)
    try:
        return _finish(provider_named(provider), args)
    except UpstreamError as exc:
        _rejected(name, exc)
        raise


def _rejected(name, exc: UpstreamError, **more) -> None:
    db.session.rollback()
    events.record("account:upstream:reject", now=clock_now(),
                  details={"provider": str(name)[:40], "error": exc.code, "reason": exc.reason[:300], **more})
    db.session.commit()


def _finish(provider: UpstreamProvider, args) -> UpstreamIdentity:
    now = clock_now()
    master_key = current_app.extensions["idp.master_key"]
    login = pending.consume(args.get("state"), provider.name, master_key=master_key, now=now)
    metadata = cache().metadata(provider)
    _check_iss(provider, metadata, args.get("iss"))
    if args.get("error") is not None:
        error, description = args.get("error"), args.get("error_description")
        raise UpstreamDenied(error if _ERROR.match(error) else "invalid_error",
                             description[:300] if description and description.isprintable() else None)
    code = args.get("code")
    if not code or len(code) > 2000:
        raise TokenRejected("no authorization code in the callback")
    secret = UpstreamRegistry.from_app().client_secret(provider)
    tokens = exchange.token_request(provider, metadata, code=code, redirect_uri=callback_url(provider.name),
                                    code_verifier=login.code_verifier, secret=secret, now=now)
    profile = PROFILES[provider.profile]
    claims = _id_token_claims(provider, metadata, tokens, login.nonce, now) if profile.openid else {}
    if profile.userinfo and (metadata.get("userinfo_endpoint") or not profile.openid):
        info = exchange.userinfo(provider, metadata, tokens["access_token"])
        if profile.openid and not (isinstance(info.get("sub"), str) and hmac.compare_digest(
                info["sub"].encode(), claims["sub"].encode() if isinstance(claims.get("sub"), str) else b"")):
            raise TokenRejected("userinfo sub is not the ID token's")
        claims = {**info, **claims}  # the signed ID token wins
    identity = profile.map(provider.name, claims, now)
    sid = claims.get("sid") if profile.openid else None
    return dataclasses.replace(identity, next_url=login.next_url,
                               upstream_sid=sid if isinstance(sid, str) and 0 < len(sid) <= 255 else None,
                               id_token=tokens.get("id_token") if profile.openid else None)


def _check_iss(provider: UpstreamProvider, metadata: dict, iss) -> None:
    """RFC 9207 §2.4: when sent, exactly the issuer; required when the provider says it sends it."""
    if iss is None:
        if metadata.get("authorization_response_iss_parameter_supported") is True:
            raise IssuerMismatch("iss missing from the authorization response")
        return
    if not hmac.compare_digest(str(iss).encode(), provider.issuer.encode()):
        raise IssuerMismatch("iss in the authorization response is another issuer")


def _id_token_claims(provider, metadata, tokens, nonce, now) -> dict:
    def keys(refresh: bool):
        return cache().keys(provider, metadata, refresh=refresh)

    return id_token.verify(tokens.get("id_token"), issuer=provider.issuer, client_id=provider.client_id,
                           nonce=nonce, algorithms=PROFILES[provider.profile].algorithms, keys=keys, now=now)
