"""Issue 11, item 18: what a dynamically registered client may register (RFC 7591, RFC 7592, OIDC
Registration §2, Back-Channel Logout 1.0 §2.2, Front-Channel Logout 1.0 §2), from the client's side.

Before the fix the logout metadata was silently dropped (such clients got no logout at all), a
non-https ``initiate_login_uri`` on loopback was accepted, and a loopback ``jwks_uri`` was refused
even in development, when the issuer itself is loopback.
"""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs

import pytest

from idp.db import db
from idp.oidc import delivery
from idp.oidc.models import Client, LogoutDelivery
from tests.conftest import post_form
from tests.oidc.helpers import REDIRECT, code_for, decode, exchange

REGISTER = "/connect/register"
PRODUCTION = "idp.camau.gov.vn"
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_META = {"backchannel_logout_uri": "https://rp.example.vn/backchannel",
               "backchannel_logout_session_required": True,
               "frontchannel_logout_uri": "https://rp.example.vn/frontchannel",
               "frontchannel_logout_session_required": False}


def initial_access_token(app) -> str:
    result = app.test_cli_runner().invoke(args=["clients", "registration-token"])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def register(browser, token, **meta):
    body = {"client_name": "Cổng dịch vụ công Cà Mau", "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"], **meta}
    return browser.post(REGISTER, json=body, headers={"Authorization": "Bearer " + token})


def refused(response):
    assert response.status_code == 400, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.json["error"] == "invalid_client_metadata"
    assert isinstance(response.json["error_description"], str) and response.json["error_description"]
    return response.json["error_description"]


def client_count(app) -> int:
    with app.app_context():
        return db.session.query(Client).count()


@pytest.fixture
def production(make_app):
    """An https issuer: loopback targets are not a development convenience any more."""
    app = make_app(IDP_ISSUER=f"https://{PRODUCTION}", SERVER_NAME=PRODUCTION)
    return app, app.test_client(), initial_access_token(app)


# -- logout metadata ------------------------------------------------------------------------------

def test_logout_metadata_is_kept_returned_and_readable(app, client):
    response = register(client, initial_access_token(app), **LOGOUT_META)
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.json
    for field, value in LOGOUT_META.items():  # RFC 7591 §3.2.1: the registered values come back
        assert body[field] == value, field
    path = body["registration_client_uri"].removeprefix("http://localhost")
    read = client.get(path, headers={"Authorization": "Bearer " + body["registration_access_token"]})
    assert read.status_code == 200 and {f: read.json.get(f) for f in LOGOUT_META} == LOGOUT_META  # RFC 7592
    with app.app_context():
        meta = db.session.query(Client).filter_by(client_id=body["client_id"]).one().meta
        assert {f: meta.get(f) for f in LOGOUT_META} == LOGOUT_META


BAD_LOGOUT_META = [
    ("backchannel_logout_uri", "http://rp.example.vn/backchannel"),  # http off loopback
    ("backchannel_logout_uri", "https://rp.example.vn/backchannel#x"),  # Back-Channel Logout §2.2: no fragment
    ("backchannel_logout_uri", "https://10.0.0.5/backchannel"),  # a private address MotID would POST to
    ("backchannel_logout_uri", "https://169.254.169.254/latest"),
    ("backchannel_logout_uri", "javascript:alert(1)"),
    ("backchannel_logout_uri", ["https://rp.example.vn/backchannel"]),
    ("backchannel_logout_session_required", "yes"),
    ("frontchannel_logout_uri", "http://rp.example.vn/frontchannel"),
    ("frontchannel_logout_uri", "https://rp.example.vn/frontchannel#x"),
    ("frontchannel_logout_uri", "javascript:alert(1)"),
    ("frontchannel_logout_uri", 5),
    ("frontchannel_logout_session_required", 1),
]


@pytest.mark.parametrize("field,value", BAD_LOGOUT_META, ids=[f"{f}={v}" for f, v in BAD_LOGOUT_META])
def test_invalid_logout_metadata_is_refused(app, client, field, value):
    refused(register(client, initial_access_token(app), **{field: value}))
    assert client_count(app) == 0


def test_invalid_logout_metadata_is_refused_on_update_too(app, client):
    body = register(client, initial_access_token(app), **LOGOUT_META).json
    path = body["registration_client_uri"].removeprefix("http://localhost")
    update = {"client_id": body["client_id"], "redirect_uris": [REDIRECT],
              "backchannel_logout_uri": "http://rp.example.vn/backchannel"}
    refused(client.put(path, json=update, headers={"Authorization": "Bearer " + body["registration_access_token"]}))
    with app.app_context():
        meta = db.session.query(Client).filter_by(client_id=body["client_id"]).one().meta
        assert meta["backchannel_logout_uri"] == LOGOUT_META["backchannel_logout_uri"]


# -- initiate_login_uri: OIDC Registration §2, "MUST use the https scheme" ----------------------------

@pytest.mark.parametrize("uri", ["http://127.0.0.1:8080/login", "http://localhost/login", "http://[::1]/login",
                                 "http://rp.example.vn/login", "vn.gov.camau.app:/login"])
def test_initiate_login_uri_must_be_https(app, client, uri):
    assert "initiate_login_uri" in refused(register(client, initial_access_token(app), initiate_login_uri=uri))
    assert client_count(app) == 0


def test_https_initiate_login_uri_is_kept(app, client):
    response = register(client, initial_access_token(app), initiate_login_uri="https://rp.example.vn/login")
    assert response.status_code == 201 and response.json["initiate_login_uri"] == "https://rp.example.vn/login"


# -- URLs MotID itself calls: loopback only while the issuer is loopback ------------------------------

def key_client(**meta):
    return {"token_endpoint_auth_method": "private_key_jwt", "grant_types": ["client_credentials"],
            "redirect_uris": None, **meta}


@pytest.mark.parametrize("uri", ["http://127.0.0.1:8081/jwks.json", "https://localhost:8443/jwks.json"])
def test_loopback_jwks_uri_is_accepted_when_the_issuer_is_loopback(app, client, uri):
    response = register(client, initial_access_token(app), **key_client(jwks_uri=uri))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.json["jwks_uri"] == uri


@pytest.mark.parametrize("field,uri", [
    ("jwks_uri", "http://127.0.0.1:6379/"), ("jwks_uri", "https://localhost/jwks.json"),
    ("jwks_uri", "https://[::1]/jwks.json"), ("backchannel_logout_uri", "http://127.0.0.1:9/backchannel"),
    ("backchannel_logout_uri", "https://localhost/backchannel"),
    ("request_uris", "https://127.0.0.1/request.jwt"), ("request_uris", "http://localhost:8080/request.jwt"),
])
def test_loopback_server_targets_are_refused_in_production(production, field, uri):
    app, browser, token = production
    meta = key_client(jwks_uri=uri) if field == "jwks_uri" else {field: [uri] if field == "request_uris" else uri}
    response = browser.post(REGISTER, json={"client_name": "x", "redirect_uris": [REDIRECT], **meta},
                            headers={"Authorization": "Bearer " + token}, base_url=f"https://{PRODUCTION}")
    assert field in refused(response)
    assert client_count(app) == 0


def test_registered_request_uris_are_returned_and_used(app, client):
    uri = "https://rp.example.vn/request.jwt"
    response = register(client, initial_access_token(app), request_uris=[uri])
    assert response.status_code == 201 and response.json["request_uris"] == [uri]


# -- the point of it all: a dynamically registered client is logged out ------------------------------

class Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        type(self).received.append(parse_qs(self.rfile.read(length).decode()).get("logout_token", [None])[0])
        self.send_response(200)
        self.send_header("Cache-Control", "no-store")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/backchannel"
    server.shutdown()


def test_dynamically_registered_client_is_logged_out(app, client, accounts, receiver):
    accounts(email="hoa@example.vn")
    body = register(client, initial_access_token(app), backchannel_logout_uri=receiver,
                    backchannel_logout_session_required=True, frontchannel_logout_uri="https://rp.example.vn/fc",
                    frontchannel_logout_session_required=True).json
    client_id, secret = body["client_id"], body["client_secret"]
    code, _ = code_for(app, client, client_id)
    sid = decode(app, exchange(client, client_id, secret, code).json["id_token"]).claims["sid"]
    page = post_form(client, "/logout", {}).get_data(as_text=True)
    assert '<iframe src="https://rp.example.vn/fc?iss=http%3A%2F%2Flocalhost&amp;sid=' + sid in page
    with app.app_context():
        [row] = db.session.query(LogoutDelivery).all()
        assert (row.client_id, row.uri, row.sid) == (client_id, receiver, sid)
        assert delivery.deliver_due(app.config["CLOCK"]()) == 1
    [token] = Receiver.received
    claims = decode(app, token).claims
    assert claims["aud"] == client_id and claims["sid"] == sid and LOGOUT_EVENT in claims["events"]
