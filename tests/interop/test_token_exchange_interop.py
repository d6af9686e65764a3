"""Token exchange (RFC 8693) with Authlib's OAuth 2.0 client against the live server: a portal registered
and allowed through the ``idp`` CLI logs a citizen in, then exchanges the citizen's access token with
``OAuth2Session.fetch_token(grant_type=…token-exchange)`` for a token for an LGSP service; the result is
verified against the published JWKS and by introspection, and a service outside the table is refused."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwk, jwt

from tests.interop.conftest import HTTP_TIMEOUT, _idp

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
HOSO = "https://lgsp.camau.gov.vn/hoso"
SCOPE = "openid profile email"


def test_authlib_client_exchanges_a_citizen_token(live_server, browser_login):
    meta = live_server.metadata()
    assert GRANT in meta["grant_types_supported"]
    redirect_uri = "http://127.0.0.1/interop/exchange/callback"
    out = _idp(live_server.env, "clients", "create", "--name", "Interop exchange", "--redirect-uri", redirect_uri,
               "--grant-type", "authorization_code", "--grant-type", GRANT, "--auth-method", "client_secret_basic",
               "--scope", SCOPE, "--first-party")
    client_id = re.search(r"^client_id: (\S+)", out, re.M).group(1)
    secret = re.search(r"^client_secret: (\S+)", out, re.M).group(1)
    _idp(live_server.env, "clients", "exchange-allow", client_id, HOSO, "--scope", "profile email")

    session = OAuth2Session(client_id, secret, scope=SCOPE, redirect_uri=redirect_uri, code_challenge_method="S256",
                            default_timeout=HTTP_TIMEOUT)
    verifier = generate_token(48)
    url, state = session.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier,
                                                  nonce=generate_token(20))
    callback = browser_login(url, redirect_uri)
    assert "code" in parse_qs(urlsplit(callback).query), f"{callback}\n{live_server.log_tail()}"
    citizen = session.fetch_token(meta["token_endpoint"], authorization_response=callback, state=state,
                                  code_verifier=verifier)

    exchanged = OAuth2Session(client_id, secret, default_timeout=HTTP_TIMEOUT).fetch_token(
        meta["token_endpoint"], grant_type=GRANT, subject_token=citizen["access_token"],
        subject_token_type=ACCESS, resource=HOSO, scope="email")
    assert exchanged["issued_token_type"] == ACCESS and exchanged["token_type"].lower() == "bearer"
    assert exchanged["scope"] == "email" and exchanged["expires_in"] > 0 and "refresh_token" not in exchanged

    keys = jwk.KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=HTTP_TIMEOUT).json())
    algorithms = meta["id_token_signing_alg_values_supported"]
    claims = jwt.decode(exchanged["access_token"], keys, algorithms=algorithms).claims
    assert claims["iss"] == meta["issuer"] and claims["aud"] == HOSO and claims["sub"] == live_server.sub
    assert claims["act"] == {"sub": client_id} and claims["client_id"] == client_id
    seen = requests.post(meta["introspection_endpoint"], data={"token": exchanged["access_token"]},
                         auth=(client_id, secret), timeout=HTTP_TIMEOUT).json()
    assert seen["active"] is True and seen["aud"] == HOSO
    userinfo = requests.get(meta["userinfo_endpoint"], timeout=HTTP_TIMEOUT,
                            headers={"Authorization": "Bearer " + exchanged["access_token"]})
    assert userinfo.status_code == 401

    with pytest.raises(OAuthError) as refused:
        OAuth2Session(client_id, secret, default_timeout=HTTP_TIMEOUT).fetch_token(
            meta["token_endpoint"], grant_type=GRANT, subject_token=citizen["access_token"],
            subject_token_type=ACCESS, audience="lgsp-thue")
    assert refused.value.error == "invalid_target"
