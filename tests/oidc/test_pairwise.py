"""Pairwise subject identifiers (OIDC Core §8.1) and the sector_identifier_uri (OIDC Registration §5)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlencode

import pytest

from idp.config import ConfigError
from idp.oidc import delivery
from tests.conftest import login
from tests.oidc.helpers import REDIRECT, auth_params, authorize, basic, callback, decode, exchange, make_client
from tests.oidc.test_logout import Receiver, receiver  # noqa: F401  (fixture)

OTHER_HOST_REDIRECT = "https://app.rp.example.vn/cb"


class _Sector(BaseHTTPRequestHandler):
    documents: dict = {}

    def do_GET(self):  # noqa: N802 (http.server's naming)
        body = type(self).documents.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write((body or "").encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def sector():
    """A relying party's web server publishing sector documents: ``sector("/s.json", [...])`` gives the URL."""
    server = HTTPServer(("127.0.0.1", 0), _Sector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Sector.documents = {}

    def publish(path, uris):
        _Sector.documents[path] = uris if isinstance(uris, str) else json.dumps(uris)
        return f"http://127.0.0.1:{server.server_port}{path}"
    yield publish
    server.shutdown()


@pytest.fixture
def person(accounts):
    return accounts(email="hoa@example.vn")


def tokens(browser, client_id, secret, **extra):
    result = callback(authorize(browser, auth_params(client_id, **extra)))
    return exchange(browser, client_id, secret, result["code"]).json


def test_each_sector_sees_its_own_sub_in_every_token_and_response(app, client, person, sector, receiver):
    portal = make_client(app, subject_type="pairwise", refresh_token_online=True,
                         backchannel_logout_uri=receiver.url, post_logout_redirect_uris=["https://rp.example.vn/bye"])
    same_host = make_client(app, subject_type="pairwise")
    other_sector = make_client(app, subject_type="pairwise",
                               sector_identifier_uri=sector("/sector.json", [REDIRECT, OTHER_HOST_REDIRECT]),
                               redirect_uris=[REDIRECT, OTHER_HOST_REDIRECT])
    public = make_client(app)
    login(client, "hoa@example.vn")
    body = tokens(client, *portal)
    sub = decode(app, body["id_token"]).claims["sub"]
    assert sub != person["sub"] and decode(app, body["access_token"]).claims["sub"] == sub
    assert decode(app, tokens(client, *same_host)["id_token"]).claims["sub"] == sub
    elsewhere = decode(app, tokens(client, *other_sector)["id_token"]).claims["sub"]
    assert elsewhere not in (sub, person["sub"])
    assert decode(app, tokens(client, *public)["id_token"]).claims["sub"] == person["sub"]
    # UserInfo and introspection of both kinds of token say the same.
    assert client.get("/userinfo", headers={"Authorization": "Bearer " + body["access_token"]}).json["sub"] == sub
    for token in (body["access_token"], body["refresh_token"]):
        info = client.post("/introspect", data={"token": token}, headers=basic(*portal)).json
        assert info["active"] and info["sub"] == sub
    refreshed = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
                            headers=basic(*portal)).json
    assert decode(app, refreshed["id_token"]).claims["sub"] == sub
    assert decode(app, refreshed["access_token"]).claims["sub"] == sub
    # The ID token with its pairwise sub is a working id_token_hint at the end-session endpoint, and the
    # back-channel logout token carries the same sub.
    response = client.get("/connect/logout?" + urlencode({"id_token_hint": body["id_token"],
                                                          "post_logout_redirect_uri": "https://rp.example.vn/bye"}))
    assert response.status_code == 302 and response.headers["Location"] == "https://rp.example.vn/bye"
    with app.app_context():
        delivery.deliver_due(app.config["CLOCK"]())
    [logout_token] = Receiver.received
    assert decode(app, logout_token).claims["sub"] == sub


def test_an_id_token_hint_with_a_pairwise_sub_names_the_person(app, client, person, accounts):
    portal = make_client(app, first_party=True, subject_type="pairwise")
    login(client, "hoa@example.vn")
    hint = tokens(client, *portal)["id_token"]
    assert "code" in callback(client.get("/authorize", query_string=auth_params(
        portal[0], prompt="none", id_token_hint=hint)))
    accounts(citizen_id="096301009999", email="lan@example.vn")
    other = app.test_client()
    login(other, "lan@example.vn")
    assert callback(other.get("/authorize", query_string=auth_params(
        portal[0], prompt="none", id_token_hint=hint)))["error"] == "login_required"


def test_the_consent_page_says_which_identifier_the_application_gets(app, client, person):
    client.set_cookie("motid_lang", "en")
    login(client, "hoa@example.vn")
    pairwise = make_client(app, subject_type="pairwise")[0]
    page = client.get("/authorize", query_string=auth_params(pairwise)).get_data(as_text=True)
    assert "only applications of rp.example.vn get the same one" in page
    public = make_client(app)[0]
    page = client.get("/authorize", query_string=auth_params(public)).get_data(as_text=True)
    assert "the same identifier for you as every other application" in page
    client.set_cookie("motid_lang", "vi")
    page = client.get("/authorize", query_string=auth_params(pairwise)).get_data(as_text=True)
    assert "chỉ các ứng dụng thuộc rp.example.vn nhận cùng mã này" in page


@pytest.mark.parametrize("case", ["missing redirect", "unreachable", "not an array", "not json", "https elsewhere",
                                  "several hosts without it"])
def test_a_bad_sector_identifier_is_refused(app, client, runner, sector, case):
    uris = [REDIRECT, OTHER_HOST_REDIRECT]
    uri = {"missing redirect": lambda: sector("/s.json", [REDIRECT]),
           "unreachable": lambda: sector("/s.json", uris).replace("/s.json", "/gone.json"),
           "not an array": lambda: sector("/s.json", {"redirect_uris": uris}),
           "not json": lambda: sector("/s.json", "<html>"),
           "https elsewhere": lambda: "http://rp.example.vn/s.json",
           "several hosts without it": lambda: None}[case]()
    token = runner.invoke(args=["clients", "registration-token"]).output.strip()
    meta = {"redirect_uris": uris, "subject_type": "pairwise", "sector_identifier_uri": uri}
    response = client.post("/connect/register", json={k: v for k, v in meta.items() if v is not None},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400 and response.json["error"] == "invalid_client_metadata", response.json
    assert response.headers["Cache-Control"] == "no-store"


def test_a_sector_identifier_lets_several_hosts_share_a_pairwise_sub(app, client, runner, sector):
    token = runner.invoke(args=["clients", "registration-token"]).output.strip()
    uris = [REDIRECT, OTHER_HOST_REDIRECT]
    registered = client.post("/connect/register", json={
        "redirect_uris": uris, "subject_type": "pairwise", "sector_identifier_uri": sector("/s.json", uris)},
        headers={"Authorization": f"Bearer {token}"})
    assert registered.status_code == 201, registered.json
    assert registered.json["subject_type"] == "pairwise"
    # An update that adds a redirect URI the sector does not list is refused (the document is fetched again).
    update = client.put(f"/connect/register/{registered.json['client_id']}", json={
        "client_id": registered.json["client_id"], "redirect_uris": uris + ["https://x.example.vn/cb"],
        "subject_type": "pairwise", "sector_identifier_uri": registered.json["sector_identifier_uri"]},
        headers={"Authorization": f"Bearer {registered.json['registration_access_token']}"})
    assert update.status_code == 400 and update.json["error"] == "invalid_client_metadata"


def test_the_server_default_applies_to_new_clients_only(make_app, config):
    app = make_app(IDP_DEFAULT_SUBJECT_TYPE="pairwise")
    client_id, _ = make_client(app)
    with app.app_context():
        service = app.extensions["idp.clients"]
        row = service.get(client_id)
        assert row.meta["subject_type"] == "pairwise"
        service.update(row, {k: v for k, v in row.meta.items() if k != "subject_type"})
        assert service.get(client_id).meta["subject_type"] == "pairwise"  # an update does not change the subs
        # A client acting only for itself sees no person: it needs no sector.
        service_client, _ = service.create({"grant_types": ["client_credentials"], "scope": "profile"})
        assert service_client.meta["subject_type"] == "pairwise"
    with pytest.raises(ConfigError):
        make_app(IDP_DEFAULT_SUBJECT_TYPE="secret")
