"""Helpers for protocol tests: register clients, log a browser in, run the authorization step."""
from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt

from tests.conftest import CSRF_RE, PASSWORD, login

REDIRECT = "https://rp.example.vn/cb"


def make_client(app, *, first_party=False, require_pkce=False, **meta):
    meta.setdefault("client_name", "Cổng dịch vụ công")
    meta.setdefault("redirect_uris", [REDIRECT])
    meta.setdefault("grant_types", ["authorization_code", "refresh_token"])
    with app.app_context():
        client, secret = app.extensions["idp.clients"].create(meta, first_party=first_party,
                                                              require_pkce=require_pkce)
        return client.client_id, secret


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def auth_params(client_id, **extra):
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
              "scope": "openid profile email", "state": "st-" + secrets.token_hex(4), "nonce": "n-0S6_WzA2Mj"}
    params.update(extra)
    return {k: v for k, v in params.items() if v is not None}


def callback(response) -> dict:
    """The parameters sent to the client's redirect URI by a 302."""
    assert response.status_code == 302, (response.status_code, response.get_data(as_text=True)[:500])
    location = response.headers["Location"]
    assert location.startswith(REDIRECT), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


HIDDEN_RE = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def hidden_fields(page: str) -> dict:
    """The hidden inputs of a page's form, as a browser would submit them."""
    return {name: html.unescape(value) for name, value in HIDDEN_RE.findall(page)}


def authorize(browser, params, *, consent=True):
    """Run the authorization request in a logged-in browser; answer the consent page if shown."""
    response = browser.get("/authorize?" + urlencode(params))
    if response.status_code == 200 and "_motid_consent" in response.get_data(as_text=True):
        if not consent:
            return response
        form = {**hidden_fields(response.get_data(as_text=True)), "_motid_consent": "allow"}
        response = browser.post("/authorize", data=form)
    return response


def code_for(app, browser, client_id, identifier="096301001234", **extra):
    login(browser, identifier, PASSWORD)
    params = auth_params(client_id, **extra)
    result = callback(authorize(browser, params))
    assert result["state"] == params["state"], result
    return result["code"], params


def exchange(client, client_id, secret, code, **extra):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **extra}
    headers = {}
    if secret:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    else:
        data["client_id"] = client_id
    return client.post("/token", data=data, headers=headers)


def basic(client_id, secret):
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def decode(app, token):
    with app.app_context():
        keys = app.extensions["idp.keys"].verification_keys(app.config["CLOCK"]())
    return jwt.decode(token, keys, algorithms=["ES256", "RS256", "EdDSA"])
