"""DPoP, sender-constrained tokens (RFC 9449): the token endpoint, UserInfo, introspection, the admin API.

Every proof here is made as a client would make it (joserfc, a fresh key per holder); what is asserted
is what the client sees over HTTP.
"""
from __future__ import annotations

import base64
import json
import secrets

import pytest
from joserfc import jwk, jws, jwt
from sqlalchemy import select

from idp.accounts.certificates.validation import thumbprint
from idp.db import db
from idp.events import AuditEvent
from idp.oidc.dpop import access_token_hash
from idp.oidc.models import Grant
from tests.conftest import PASSWORD, login
from tests.oidc.helpers import REDIRECT, auth_params, authorize, basic, callback, decode, make_client, pkce_pair
from tests.security.concurrency import at_once
from tests.security.test_admin_api_cnf import PROXY, certificate, presenting

ISSUER = "http://localhost"
TOKEN, USERINFO = ISSUER + "/token", ISSUER + "/userinfo"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Holder:
    """A client's DPoP key and the proofs it signs (RFC 9449 §4.2)."""

    def __init__(self, clock, key=None):
        self.clock = clock
        self.key = key or jwk.ECKey.generate_key("P-256")

    @property
    def jkt(self) -> str:
        return self.key.thumbprint()

    def proof(self, htm="POST", htu=TOKEN, *, token=None, nonce=None, iat=None, jti=None, alg="ES256",
              typ="dpop+jwt", header_jwk=None, signing_key=None) -> str:
        header = {"typ": typ, "alg": alg, "jwk": header_jwk or self.key.as_dict(private=False)}
        claims = {"jti": secrets.token_urlsafe(16) if jti is None else jti, "htm": htm, "htu": htu,
                  "iat": int(self.clock.now.timestamp()) if iat is None else iat}
        if token is not None:
            claims["ath"] = access_token_hash(token)
        if nonce is not None:
            claims["nonce"] = nonce
        return jwt.encode(header, claims, signing_key or self.key, algorithms=[alg])


@pytest.fixture
def person(accounts):
    return accounts(email="hoa@example.vn")


@pytest.fixture
def holder(clock):
    return Holder(clock)


@pytest.fixture
def public_client(app):
    client_id, _ = make_client(app, first_party=True, token_endpoint_auth_method="none")
    return client_id


def new_code(app, client_id, scope="openid offline_access"):
    """A logged-in person's code for ``client_id`` (PKCE S256) and its verifier."""
    browser = app.test_client()
    login(browser, "096301001234", PASSWORD)
    verifier, challenge = pkce_pair()
    params = auth_params(client_id, scope=scope, code_challenge=challenge, code_challenge_method="S256")
    return callback(authorize(browser, params))["code"], verifier


def token_request(app, data, proof=None, *, client_id=None, secret=None):
    headers = {"DPoP": proof} if proof else {}
    if secret:
        headers.update(basic(client_id, secret))
    elif client_id:
        data = {**data, "client_id": client_id}
    return app.test_client().post("/token", data=data, headers=headers)


def redeem(app, client_id, code, verifier, proof=None, secret=None):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier}
    return token_request(app, data, proof, client_id=client_id, secret=secret)


def refresh(app, client_id, refresh_token, proof=None, secret=None):
    return token_request(app, {"grant_type": "refresh_token", "refresh_token": refresh_token}, proof,
                         client_id=client_id, secret=secret)


def dpop_tokens(app, client_id, holder, secret=None):
    code, verifier = new_code(app, client_id)
    response = redeem(app, client_id, code, verifier, holder.proof(), secret)
    assert response.status_code == 200, response.json
    return response.json


def userinfo(app, token, proof=None, scheme="DPoP", method="GET"):
    headers = {"Authorization": f"{scheme} {token}"}
    if proof:
        headers["DPoP"] = proof
    return app.test_client().open("/userinfo", method=method, headers=headers)


def assert_refused(response, error="invalid_dpop_proof", status=400):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.json["error"] == error and response.json["error_description"]
    assert response.headers["Cache-Control"] == "no-store"


def assert_challenge(response, error):
    assert response.status_code == 401, (response.status_code, response.get_data(as_text=True))
    assert response.json["error"] == error
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("DPoP ") and f'error="{error}"' in challenge and 'algs="ES256' in challenge


# -- happy paths -----------------------------------------------------------------------------------

def test_code_flow_binds_tokens_and_a_public_clients_refresh_token_to_the_key(app, person, public_client, holder):
    tokens = dpop_tokens(app, public_client, holder)
    assert tokens["token_type"] == "DPoP"
    assert decode(app, tokens["access_token"]).claims["cnf"] == {"jkt": holder.jkt}
    with app.app_context():
        assert db.session.query(Grant.cnf_jkt).scalar() == holder.jkt
    again = refresh(app, public_client, tokens["refresh_token"], holder.proof())
    assert again.status_code == 200, again.json
    assert again.json["token_type"] == "DPoP"
    assert decode(app, again.json["access_token"]).claims["cnf"] == {"jkt": holder.jkt}
    served = userinfo(app, again.json["access_token"], holder.proof("GET", USERINFO, token=again.json["access_token"]))
    assert served.status_code == 200 and served.json["sub"] == person["sub"]


def test_without_a_proof_tokens_stay_bearer_tokens(app, person, public_client):
    code, verifier = new_code(app, public_client)
    response = redeem(app, public_client, code, verifier)
    assert response.status_code == 200 and response.json["token_type"] == "Bearer"
    assert "cnf" not in decode(app, response.json["access_token"]).claims


def test_introspection_shows_the_binding(app, person, holder):
    client_id, secret = make_client(app, first_party=True)
    tokens = dpop_tokens(app, client_id, holder, secret)
    seen = app.test_client().post("/introspect", data={"token": tokens["access_token"]},
                                  headers=basic(client_id, secret))
    assert seen.status_code == 200
    assert seen.json["active"] is True and seen.json["token_type"] == "DPoP"
    assert seen.json["cnf"] == {"jkt": holder.jkt}
    # A confidential client's refresh without a proof keeps the grant's binding (never a bearer token) …
    kept = refresh(app, client_id, tokens["refresh_token"], secret=secret)
    assert kept.status_code == 200 and kept.json["token_type"] == "DPoP"
    assert decode(app, kept.json["access_token"]).claims["cnf"] == {"jkt": holder.jkt}
    # … and with a proof by a new key binds the new access token to that key (RFC 9449 §5).
    other = Holder(holder.clock)
    moved = refresh(app, client_id, kept.json["refresh_token"], other.proof(), secret=secret)
    assert moved.status_code == 200 and decode(app, moved.json["access_token"]).claims["cnf"] == {"jkt": other.jkt}


@pytest.mark.parametrize("kind", ["ES256", "PS256", "Ed25519"])
def test_client_credentials_tokens_are_bound_too(app, clock, kind):
    """With each family of keys a client may hold (EC, RSA, OKP)."""
    key = {"ES256": lambda: jwk.ECKey.generate_key("P-256"), "PS256": lambda: jwk.RSAKey.generate_key(2048),
           "Ed25519": lambda: jwk.OKPKey.generate_key("Ed25519")}[kind]()
    holder = Holder(clock, key)
    client_id, secret = make_client(app, grant_types=["client_credentials"], redirect_uris=[], scope="profile")
    response = token_request(app, {"grant_type": "client_credentials"}, holder.proof(alg=kind),
                             client_id=client_id, secret=secret)
    assert response.status_code == 200 and response.json["token_type"] == "DPoP"
    assert decode(app, response.json["access_token"]).claims["cnf"] == {"jkt": holder.jkt}


def test_discovery_advertises_the_algorithms(client):
    meta = client.get("/.well-known/openid-configuration").json
    assert meta["dpop_signing_alg_values_supported"] == ["ES256", "ES384", "PS256", "RS256", "Ed25519", "EdDSA"]


# -- bad proofs at the token endpoint: refused before the grant runs --------------------------------

def none_proof(holder):
    header = {"typ": "dpop+jwt", "alg": "none", "jwk": holder.key.as_dict(private=False)}
    claims = {"jti": "j-none", "htm": "POST", "htu": TOKEN, "iat": int(holder.clock.now.timestamp())}
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}."


BAD_PROOFS = {  # what is wrong: (the proof, a word of the refusal's description)
    "wrong htm": (lambda h: h.proof("GET"), "htm"),
    "wrong htu": (lambda h: h.proof(htu=ISSUER + "/userinfo"), "htu"),
    "another host": (lambda h: h.proof(htu="https://evil.example/token"), "htu"),
    "old iat": (lambda h: h.proof(iat=int(h.clock.now.timestamp()) - 61), "iat"),
    "future iat": (lambda h: h.proof(iat=int(h.clock.now.timestamp()) + 6), "iat"),
    "alg none": (none_proof, "alg"),
    "alg HS256": (lambda h: h.proof(alg="HS256", signing_key=jwk.OctKey.generate_key(256)), "alg"),
    "private key in header": (lambda h: h.proof(header_jwk=h.key.as_dict(private=True)), "public key"),
    "signed by another key": (lambda h: h.proof(signing_key=jwk.ECKey.generate_key("P-256")), "signature"),
    "typ JWT": (lambda h: h.proof(typ="JWT"), "typ"),
    "short RSA key": (lambda h: Holder(h.clock, jwk.RSAKey.generate_key(1024)).proof(alg="RS256"), "2048"),
    "no jti": (lambda h: h.proof(jti=""), "jti"),
    "not a JWT": (lambda h: "not-a-jwt", "compact"),
    "claims not an object": (lambda h: jws.serialize_compact(
        {"typ": "dpop+jwt", "alg": "ES256", "jwk": h.key.as_dict(private=False)}, b"[1]", h.key), "JSON object"),
    "a nonce never issued": (lambda h: h.proof(nonce="kh\u00f4ng-c\u00f3"), "nonce"),
}


@pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning")
def test_bad_proofs_are_refused_and_the_code_is_not_spent(app, person, public_client, holder):
    code, verifier = new_code(app, public_client)
    for name, (make, word) in BAD_PROOFS.items():
        response = redeem(app, public_client, code, verifier, make(holder))
        assert_refused(response, "use_dpop_nonce" if "nonce" in name else "invalid_dpop_proof")
        assert word in response.json["error_description"], (name, response.json)
    assert redeem(app, public_client, code, verifier, holder.proof()).status_code == 200


def test_two_dpop_headers_are_refused(app, public_client, holder):
    response = app.test_client().post("/token", data={"grant_type": "refresh_token", "refresh_token": "x",
                                                      "client_id": public_client},
                                      headers=[("DPoP", holder.proof()), ("DPoP", holder.proof())])
    assert_refused(response)


def test_a_proof_is_accepted_once(app, person, public_client, holder):
    proof = holder.proof()
    tokens = dpop_tokens(app, public_client, Holder(holder.clock, holder.key))
    assert refresh(app, public_client, tokens["refresh_token"], proof).status_code == 200
    assert_refused(refresh(app, public_client, tokens["refresh_token"], proof))


def test_spent_proofs_are_forgotten_once_too_old_to_replay(app, person, public_client, holder, clock):
    from idp.oidc.client_auth import purge_spent_jtis
    assert purge_spent_jtis in app.extensions["idp.retention.jobs"]  # run by `idp purge` and `idp worker`
    proof = holder.proof()
    dpop_tokens(app, public_client, Holder(clock, holder.key))  # spends another proof
    tokens = dpop_tokens(app, public_client, holder)
    assert refresh(app, public_client, tokens["refresh_token"], proof).status_code == 200
    with app.app_context():
        assert purge_spent_jtis(clock()) == 0
        clock.advance(minutes=6, seconds=6)
        assert purge_spent_jtis(clock()) == 3
    assert_refused(refresh(app, public_client, tokens["refresh_token"], proof))  # its iat is too old now


def test_a_public_clients_refresh_token_needs_its_key(app, person, public_client, holder):
    tokens = dpop_tokens(app, public_client, holder)
    assert_refused(refresh(app, public_client, tokens["refresh_token"]), "invalid_grant")
    assert_refused(refresh(app, public_client, tokens["refresh_token"], Holder(holder.clock).proof()), "invalid_grant")
    # Neither attempt spent the token: its holder still refreshes.
    assert refresh(app, public_client, tokens["refresh_token"], holder.proof()).status_code == 200


def test_a_client_registered_for_dpop_needs_a_proof(app, person, holder):
    client_id, _ = make_client(app, first_party=True, token_endpoint_auth_method="none",
                               dpop_bound_access_tokens=True)
    code, verifier = new_code(app, client_id)
    assert_refused(redeem(app, client_id, code, verifier))
    assert redeem(app, client_id, code, verifier, holder.proof()).json["token_type"] == "DPoP"


# -- protected resources (RFC 9449 §7) ---------------------------------------------------------------

@pytest.fixture
def bound(app, person, public_client, holder):
    return dpop_tokens(app, public_client, holder)["access_token"]


def test_userinfo_refuses_bad_proofs(app, bound, holder):
    other = Holder(holder.clock)
    assert_challenge(userinfo(app, bound), "invalid_dpop_proof")
    assert_challenge(userinfo(app, bound, holder.proof("POST", USERINFO, token=bound)), "invalid_dpop_proof")
    assert_challenge(userinfo(app, bound, holder.proof("GET", TOKEN, token=bound)), "invalid_dpop_proof")
    assert_challenge(userinfo(app, bound, holder.proof("GET", USERINFO, token=bound + "x")), "invalid_dpop_proof")
    assert_challenge(userinfo(app, bound, holder.proof("GET", USERINFO)), "invalid_dpop_proof")  # no ath
    assert_challenge(userinfo(app, bound, other.proof("GET", USERINFO, token=bound)), "invalid_token")
    proof = holder.proof("GET", USERINFO, token=bound)
    assert userinfo(app, bound, proof).status_code == 200
    assert_challenge(userinfo(app, bound, proof), "invalid_dpop_proof")  # the same jti again


def test_a_dpop_bound_token_is_not_a_bearer_token(app, bound, holder):
    assert_challenge(userinfo(app, bound, scheme="Bearer"), "invalid_token")
    assert_challenge(userinfo(app, bound, holder.proof("GET", USERINFO, token=bound), scheme="Bearer"),
                     "invalid_token")
    in_body = app.test_client().post("/userinfo", data={"access_token": bound})
    assert_challenge(in_body, "invalid_token")


def test_a_bearer_token_is_not_a_dpop_token(app, person, public_client, holder):
    code, verifier = new_code(app, public_client)
    plain = redeem(app, public_client, code, verifier).json["access_token"]
    assert_challenge(userinfo(app, plain, holder.proof("GET", USERINFO, token=plain)), "invalid_token")
    assert userinfo(app, plain, scheme="Bearer").status_code == 200


def test_the_admin_api_checks_the_same_way(app, holder):
    client_id, secret = make_client(app, grant_types=["client_credentials"], redirect_uris=[],
                                    scope="admin:accounts")
    response = token_request(app, {"grant_type": "client_credentials"}, holder.proof(),
                             client_id=client_id, secret=secret)
    token = response.json["access_token"]
    api = ISSUER + "/admin/api/v1/units"
    client = app.test_client()
    refused = client.get(api, headers={"Authorization": "Bearer " + token})
    assert refused.status_code == 401 and refused.json["reason"] == "invalid_token"
    assert refused.headers["WWW-Authenticate"].startswith("DPoP ")
    wrong = client.get(api, headers={"Authorization": "DPoP " + token, "DPoP": holder.proof("GET", api)})
    assert wrong.status_code == 401 and wrong.json["reason"] == "invalid_dpop_proof"
    served = client.get(api, headers={"Authorization": "DPoP " + token, "DPoP": holder.proof("GET", api, token=token)})
    assert served.status_code == 200, served.json
    with app.app_context():  # the genuine token without its key: recorded, as a possible theft
        recorded = [e.details for e in db.session.scalars(select(AuditEvent).where(
            AuditEvent.tag == "admin:request:refuse"))]
    assert [r.get("cause") for r in recorded] == ["dpop_key_not_proven"]


def test_a_token_bound_to_a_certificate_and_a_dpop_key_needs_both(make_app, person, holder):
    """RFC 8705 and RFC 9449 bindings side by side in one ``cnf``; each protected-resource check holds."""
    app = make_app(IDP_CERT_PROXY_ADDRESSES=f"{PROXY}/32")
    client_id, secret = make_client(app, first_party=True)
    cert, code_and_verifier = certificate("Ứng dụng một cửa"), new_code(app, client_id)
    tls = presenting(cert)
    response = app.test_client().post("/token", data={
        "grant_type": "authorization_code", "code": code_and_verifier[0], "redirect_uri": REDIRECT,
        "code_verifier": code_and_verifier[1]}, headers={**basic(client_id, secret), **tls["headers"],
                                                          "DPoP": holder.proof()}, environ_base=tls["environ_base"])
    assert response.status_code == 200 and response.json["token_type"] == "DPoP"
    token = response.json["access_token"]
    assert decode(app, token).claims["cnf"] == {"x5t#S256": thumbprint(cert), "jkt": holder.jkt}
    client = app.test_client()

    def call(with_certificate: bool):
        extra = tls if with_certificate else {"headers": {}, "environ_base": {}}
        return client.get("/userinfo", headers={"Authorization": "DPoP " + token, **extra["headers"],
                                                "DPoP": holder.proof("GET", USERINFO, token=token)},
                          environ_base=extra["environ_base"])

    assert call(with_certificate=False).status_code == 401
    assert call(with_certificate=True).status_code == 200


def test_the_same_proof_sent_ten_times_at_once_wins_once(make_app, bound, holder):
    apps = [make_app(), make_app()]  # two processes' worth of connection pools
    proof = holder.proof("GET", USERINFO, token=bound)
    answers = at_once([lambda n=n: userinfo(apps[n % 2], bound, proof).status_code for n in range(10)])
    assert sorted(answers) == [200] + [401] * 9


# -- server nonces (RFC 9449 §8, §9) --------------------------------------------------------------------

@pytest.fixture
def nonce_app(make_app):
    return make_app(IDP_DPOP_REQUIRE_NONCE=True)


def test_nonces_when_the_server_requires_them(make_app, nonce_app, accounts, clock, holder):
    accounts(email="hoa@example.vn")
    client_id, _ = make_client(nonce_app, first_party=True, token_endpoint_auth_method="none")
    code, verifier = new_code(nonce_app, client_id)
    first = redeem(nonce_app, client_id, code, verifier, holder.proof())
    assert_refused(first, "use_dpop_nonce")
    nonce = first.headers["DPoP-Nonce"]
    tokens = redeem(nonce_app, client_id, code, verifier, holder.proof(nonce=nonce))
    assert tokens.status_code == 200 and tokens.headers["DPoP-Nonce"]
    token = tokens.json["access_token"]
    # Another node with the same master key accepts the nonce (stateless, nothing to share).
    other_node = make_app(IDP_DPOP_REQUIRE_NONCE=True)
    assert userinfo(other_node, token, holder.proof("GET", USERINFO, token=token, nonce=nonce)).status_code == 200
    missing = userinfo(nonce_app, token, holder.proof("GET", USERINFO, token=token))
    assert_challenge(missing, "use_dpop_nonce")
    assert missing.headers["DPoP-Nonce"] == nonce
    clock.advance(seconds=601)  # two periods later the nonce is stale
    stale = userinfo(nonce_app, token, holder.proof("GET", USERINFO, token=token, nonce=nonce))
    assert_challenge(stale, "use_dpop_nonce")
    assert stale.headers["DPoP-Nonce"] != nonce
    assert_refused(refresh(nonce_app, client_id, tokens.json["refresh_token"], holder.proof(nonce=nonce)),
                   "use_dpop_nonce")
    assert_refused(refresh(nonce_app, client_id, tokens.json["refresh_token"], holder.proof(nonce="made-up")),
                   "use_dpop_nonce")


# -- the client setting (RFC 9449 §5.2) -------------------------------------------------------------------

def test_dpop_bound_access_tokens_is_client_metadata(app, holder):
    from idp.oidc.clients import InvalidClientMetadata, validate_metadata
    meta = {"redirect_uris": [REDIRECT], "dpop_bound_access_tokens": True}
    assert validate_metadata(meta)["dpop_bound_access_tokens"] is True
    with pytest.raises(InvalidClientMetadata):
        validate_metadata({**meta, "dpop_bound_access_tokens": "yes"})
