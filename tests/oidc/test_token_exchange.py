"""Token exchange (RFC 8693) at the token endpoint: the happy path, nested actors, the ties to the subject
token's grant, every refusal (§2.2.2), and the administrator's table through the admin API and the CLI."""
from __future__ import annotations

from urllib.parse import urlencode

import pytest

from idp.admin import exchange as rules
from idp.admin.authz import operator
from idp.oidc.models import ExchangePolicy
from tests.oidc.helpers import basic, code_for, decode, exchange, make_client

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
LGSP_DOSSIERS = "https://lgsp.camau.gov.vn/hoso"


@pytest.fixture
def person(accounts):
    return accounts(email="hoa@example.vn")


def allow(app, client_id, audience, scope):
    with app.app_context():
        rules.allow(operator(), app.extensions["idp.clients"].get(client_id), audience, scope)


def service(app, *, grant_types=(GRANT,), **meta):
    """A back-end service: a confidential client allowed to exchange tokens."""
    return make_client(app, grant_types=list(grant_types), redirect_uris=[], **meta)


@pytest.fixture
def portal(app, client, person):
    """The citizen portal (a client that may exchange) with a citizen's access token and refresh token."""
    client_id, secret = make_client(app, grant_types=["authorization_code", "refresh_token", GRANT])
    code, _ = code_for(app, client, client_id, scope="openid profile email offline_access")
    return client_id, secret, exchange(client, client_id, secret, code).json


def exchange_token(client, client_id, secret, subject_token, **extra):
    data = {"grant_type": GRANT, "subject_token": subject_token, "subject_token_type": ACCESS, **extra}
    return client.post("/token", data=data, headers=basic(client_id, secret))


def introspect(client, client_id, secret, token):
    return client.post("/introspect", data={"token": token}, headers=basic(client_id, secret)).json


def test_exchange_for_a_downstream_service(app, client, person, portal):
    client_id, secret, body = portal
    allow(app, client_id, LGSP_DOSSIERS, "profile email")
    response = exchange_token(client, client_id, secret, body["access_token"], resource=LGSP_DOSSIERS,
                              scope="email", requested_token_type=ACCESS)
    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    issued = response.json
    assert set(issued) == {"access_token", "issued_token_type", "token_type", "expires_in", "scope"}
    assert (issued["issued_token_type"], issued["token_type"], issued["scope"]) == (ACCESS, "Bearer", "email")
    assert 0 < issued["expires_in"] <= body["expires_in"]
    decoded = decode(app, issued["access_token"])
    claims, original = decoded.claims, decode(app, body["access_token"]).claims
    assert decoded.header["typ"] == "at+jwt"
    assert claims["aud"] == LGSP_DOSSIERS and claims["sub"] == person["sub"] == original["sub"]
    assert claims["act"] == {"sub": client_id} and claims["client_id"] == client_id
    assert claims["gid"] == original["gid"] and claims["exp"] <= original["exp"]
    # Introspection reports it with its audience and actor; UserInfo (MotID's own resource) refuses it.
    seen = introspect(client, client_id, secret, issued["access_token"])
    assert seen["active"] is True and seen["aud"] == LGSP_DOSSIERS and seen["act"] == {"sub": client_id}
    userinfo = client.get("/userinfo", headers={"Authorization": "Bearer " + issued["access_token"]})
    assert userinfo.status_code == 401 and 'error="invalid_token"' in userinfo.headers["WWW-Authenticate"]


def test_without_scope_the_token_carries_what_subject_and_table_share(app, client, portal):
    client_id, secret, body = portal
    allow(app, client_id, "lgsp-hoso", "email phone")
    issued = exchange_token(client, client_id, secret, body["access_token"], audience="lgsp-hoso").json
    assert issued["scope"] == "email"
    assert decode(app, issued["access_token"]).claims["aud"] == "lgsp-hoso"


def test_a_chain_of_exchanges_nests_the_actors(app, client, person, portal):
    portal_id, portal_secret, body = portal
    hoso_id, hoso_secret = service(app)
    tax_id, tax_secret = service(app)
    allow(app, portal_id, hoso_id, "profile email")  # the dossier service, named by its client_id
    allow(app, hoso_id, tax_id, "email")
    first = exchange_token(client, portal_id, portal_secret, body["access_token"], audience=hoso_id).json
    # The dossier service, the token's audience, exchanges it in turn for the tax service.
    second = exchange_token(client, hoso_id, hoso_secret, first["access_token"], audience=tax_id, scope="email")
    assert second.status_code == 200, second.json
    claims = decode(app, second.json["access_token"]).claims
    assert claims["aud"] == tax_id and claims["sub"] == person["sub"] and claims["client_id"] == hoso_id
    assert claims["act"] == {"sub": hoso_id, "act": {"sub": portal_id}}
    # Only the token's client or audience may present it: the tax service may not go back with it.
    back = exchange_token(client, tax_id, tax_secret, first["access_token"], audience=tax_id)
    assert back.status_code == 400 and back.json["error"] == "invalid_request"


def test_ending_the_subject_grant_ends_the_exchanged_token(app, client, portal):
    client_id, secret, body = portal
    allow(app, client_id, "lgsp-hoso", "email")
    issued = exchange_token(client, client_id, secret, body["access_token"], audience="lgsp-hoso").json
    assert introspect(client, client_id, secret, issued["access_token"])["active"] is True
    assert client.post("/revoke", data={"token": body["refresh_token"]}, headers=basic(client_id, secret)).status_code \
        == 200
    assert introspect(client, client_id, secret, issued["access_token"]) == {"active": False}
    again = exchange_token(client, client_id, secret, body["access_token"], audience="lgsp-hoso")
    assert again.status_code == 400 and again.json["error"] == "invalid_request"


def test_logout_ends_the_exchanged_token(app, client, person):
    client_id, secret = make_client(app, grant_types=["authorization_code", GRANT])
    code, _ = code_for(app, client, client_id, scope="openid email")  # online: ends with the session
    body = exchange(client, client_id, secret, code).json
    allow(app, client_id, "lgsp-hoso", "email")
    issued = exchange_token(client, client_id, secret, body["access_token"], audience="lgsp-hoso").json
    client.get("/connect/logout?" + urlencode({"id_token_hint": body["id_token"]}))
    assert introspect(client, client_id, secret, issued["access_token"]) == {"active": False}


def test_deleting_the_actor_ends_its_exchanged_tokens(app, client, portal):
    client_id, secret, body = portal
    hoso_id, hoso_secret = service(app, introspection_allowed=True)
    allow(app, client_id, "lgsp-hoso", "email")
    issued = exchange_token(client, client_id, secret, body["access_token"], audience="lgsp-hoso").json
    other_id, _ = service(app)
    allow(app, other_id, "lgsp-hoso", "email")
    with app.app_context():
        clients = app.extensions["idp.clients"]
        clients.delete(clients.get(client_id))
        assert ExchangePolicy.query.filter_by(client_id=client_id).count() == 0  # its rules went with it
    assert introspect(client, hoso_id, hoso_secret, issued["access_token"]) == {"active": False}


@pytest.mark.parametrize("extra, error", [
    ({"audience": "lgsp-thue"}, "invalid_target"),  # not in the table
    ({"resource": "lgsp-hoso"}, "invalid_target"),  # not an absolute URI
    ({"resource": LGSP_DOSSIERS + "#x"}, "invalid_target"),  # a fragment
    ({"audience": ["lgsp-hoso", "lgsp-thue"]}, "invalid_target"),  # two services
    ({"audience": None}, "invalid_request"),  # no service named
    ({"scope": "email phone"}, "invalid_scope"),  # beyond the subject token
    ({"scope": "profile"}, "invalid_scope"),  # beyond the table
    ({"subject_token_type": "urn:ietf:params:oauth:token-type:id_token"}, "invalid_request"),
    ({"subject_token_type": None}, "invalid_request"),
    ({"requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"}, "invalid_request"),
    ({"actor_token": "x", "actor_token_type": ACCESS}, "invalid_request"),
    ({"subject_token": None}, "invalid_request"),
    ({"subject_token": "not-a-token"}, "invalid_request"),
])
def test_refusals(app, client, portal, extra, error):
    client_id, secret, body = portal
    allow(app, client_id, "lgsp-hoso", "email")
    data = {"grant_type": GRANT, "subject_token": body["access_token"], "subject_token_type": ACCESS,
            "audience": "lgsp-hoso", "scope": "email"}
    if "resource" in extra:
        data.pop("audience")
    data = {k: v for k, v in {**data, **extra}.items() if v is not None}
    response = client.post("/token", data=data, headers=basic(client_id, secret))
    assert (response.status_code, response.json["error"]) == (400, error), response.json
    assert "access_token" not in response.json and response.headers["Cache-Control"] == "no-store"


def test_expired_and_foreign_subject_tokens(app, client, make_app, portal, clock):
    client_id, secret, body = portal
    allow(app, client_id, "lgsp-hoso", "email")
    elsewhere = make_app(IDP_ISSUER="https://other.example.vn")  # same keys, another issuer
    with elsewhere.app_context():
        foreign = elsewhere.extensions["idp.tokens"].access_token(
            type("G", (), {"handle": decode(app, body["access_token"]).claims["gid"], "client_id": client_id,
                           "scope": "email", "auth_time": None, "sid": None, "cnf_x5t": None, "account_id": 1})(),
            clock(), sub="x")[0]
    assert exchange_token(client, client_id, secret, foreign, audience="lgsp-hoso").json["error"] == "invalid_request"
    clock.advance(seconds=body["expires_in"] + 1)
    expired = exchange_token(client, client_id, secret, body["access_token"], audience="lgsp-hoso")
    assert expired.json["error"] == "invalid_request"


def test_client_credentials_tokens_are_not_subject_tokens(app, client):
    client_id, secret = service(app, grant_types=("client_credentials", GRANT), scope="email")
    allow(app, client_id, "lgsp-hoso", "email")
    own = client.post("/token", data={"grant_type": "client_credentials"}, headers=basic(client_id, secret)).json
    refused = exchange_token(client, client_id, secret, own["access_token"], audience="lgsp-hoso")
    assert refused.json["error"] == "invalid_request"


def test_who_may_exchange(app, client, portal):
    client_id, secret, body = portal
    plain_id, plain_secret = make_client(app)  # not registered for the grant type
    allow(app, plain_id, "lgsp-hoso", "email")
    refused = exchange_token(client, plain_id, plain_secret, body["access_token"], audience="lgsp-hoso")
    assert (refused.status_code, refused.json["error"]) == (400, "unauthorized_client")
    public_id, _ = make_client(app, token_endpoint_auth_method="none")
    anonymous = client.post("/token", data={"grant_type": GRANT, "client_id": public_id, "audience": "lgsp-hoso",
                                            "subject_token": body["access_token"], "subject_token_type": ACCESS})
    assert (anonymous.status_code, anonymous.json["error"]) == (401, "invalid_client")
    wrong = exchange_token(client, client_id, "wrong", body["access_token"], audience="lgsp-hoso")
    assert (wrong.status_code, wrong.json["error"]) == (401, "invalid_client")


def test_public_clients_cannot_register_the_grant(app, client):
    with pytest.raises(ValueError, match="public client cannot use token exchange"):
        make_client(app, token_endpoint_auth_method="none", grant_types=["authorization_code", GRANT])


def test_discovery_advertises_the_grant(client):
    assert GRANT in client.get("/.well-known/openid-configuration").json["grant_types_supported"]


API = "/admin/api/v1"


def events_of(app, tag):
    from idp.events import AuditEvent
    with app.app_context():
        return [event.details for event in AuditEvent.query.filter_by(tag=tag).order_by(AuditEvent.id)]


def test_the_table_through_the_admin_api(app, client, portal):
    from tests.admin.conftest import mint_token
    client_id, secret, body = portal
    headers = {"Authorization": "Bearer " + mint_token(app, scope="admin:clients")}
    path = f"{API}/clients/{client_id}/token-exchange"
    assert client.get(path, headers=headers).json == {"client_id": client_id, "items": []}
    put = client.put(path, json={"audience": LGSP_DOSSIERS, "scope": "email profile"}, headers=headers)
    assert put.status_code == 200 and put.headers["Cache-Control"] == "no-store"
    assert [(r["audience"], r["scope"]) for r in put.json["items"]] == [(LGSP_DOSSIERS, "email profile")]
    changed = client.put(path, json={"audience": LGSP_DOSSIERS, "scope": "email"}, headers=headers).json
    assert [(r["audience"], r["scope"]) for r in changed["items"]] == [(LGSP_DOSSIERS, "email")]
    assert exchange_token(client, client_id, secret, body["access_token"], resource=LGSP_DOSSIERS).json["scope"] \
        == "email"
    for bad in ({"audience": "có dấu cách", "scope": "email"}, {"audience": "x", "scope": "email bogus"},
                {"audience": "x"}, {"audience": "", "scope": "email"}, {"audience": "x", "scope": "email", "y": 1}):
        refused = client.put(path, json=bad, headers=headers)
        assert refused.status_code == 422 and refused.mimetype == "application/problem+json", bad
    # An automation token may not give an admin scope: that is the province administrator's.
    privileged = client.put(path, json={"audience": "x", "scope": "admin:accounts"}, headers=headers)
    assert privileged.status_code == 403
    assert client.delete(f"{path}?audience=nothing", headers=headers).status_code == 404
    assert client.delete(path, headers=headers).status_code == 404
    deleted = client.delete(f"{path}?audience={LGSP_DOSSIERS}", headers=headers)
    assert deleted.status_code == 200 and deleted.json["items"] == []
    gone = exchange_token(client, client_id, secret, body["access_token"], resource=LGSP_DOSSIERS)
    assert gone.json["error"] == "invalid_target"
    assert client.get(f"{API}/clients/nobody/token-exchange", headers=headers).status_code == 404
    reader = {"Authorization": "Bearer " + mint_token(app, scope="admin:audit")}
    assert client.put(path, json={"audience": "x", "scope": "email"}, headers=reader).status_code == 403
    allowed = events_of(app, "admin:client:exchange_allow")
    assert [(e["client_id"], e["audience"], e["scope"]) for e in allowed] == \
        [(client_id, LGSP_DOSSIERS, "email profile"), (client_id, LGSP_DOSSIERS, "email")]
    assert [(e["client_id"], e["audience"]) for e in events_of(app, "admin:client:exchange_deny")] == \
        [(client_id, LGSP_DOSSIERS)]
    paths = client.get(f"{API}/openapi.json").json["paths"]
    assert set(paths["/clients/{client_id}/token-exchange"]) == {"get", "put", "delete"}


def test_the_table_through_the_cli(app, runner):
    client_id, _ = service(app)
    allowed = runner.invoke(args=["clients", "exchange-allow", client_id, LGSP_DOSSIERS, "--scope", "email  profile"])
    assert allowed.exit_code == 0, allowed.output
    listed = runner.invoke(args=["clients", "exchange-list", client_id])
    assert listed.exit_code == 0 and listed.output == f"{LGSP_DOSSIERS}\temail profile\n"
    bad = runner.invoke(args=["clients", "exchange-allow", client_id, "lgsp", "--scope", "nonsense"])
    assert bad.exit_code != 0 and "scope" in bad.output
    denied = runner.invoke(args=["clients", "exchange-deny", client_id, LGSP_DOSSIERS])
    assert denied.exit_code == 0 and runner.invoke(args=["clients", "exchange-list", client_id]).output == ""
    assert runner.invoke(args=["clients", "exchange-deny", client_id, LGSP_DOSSIERS]).exit_code != 0
    assert runner.invoke(args=["clients", "exchange-list", "nobody"]).exit_code != 0
    assert [e["via"] for e in events_of(app, "admin:client:exchange_allow")] == ["cli"]
    created = runner.invoke(args=["clients", "create", "--name", "LGSP", "--grant-type", GRANT,
                                  "--auth-method", "client_secret_basic"])
    assert created.exit_code == 0, created.output


def test_the_grant_type_through_the_admin_api(app, client):
    from tests.admin.conftest import mint_token
    headers = {"Authorization": "Bearer " + mint_token(app, scope="admin:clients")}
    created = client.post(f"{API}/clients", json={"client_name": "Hồ sơ", "grant_types": [GRANT],
                                                  "redirect_uris": []}, headers=headers)
    assert created.status_code == 201 and created.json["metadata"]["grant_types"] == [GRANT]
    public = client.post(f"{API}/clients", json={"client_name": "App", "grant_types": ["authorization_code", GRANT],
                                                 "redirect_uris": ["https://rp.example.vn/cb"],
                                                 "token_endpoint_auth_method": "none"}, headers=headers)
    assert public.status_code == 422
