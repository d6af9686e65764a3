"""Issue 11 item 1: ``request_uri`` made the provider fetch any URL for anyone, with no total deadline,
told open ports from closed ones, and fetched again at consent (so a client could widen the scopes
after the person saw the page). Items 16 and 17: a request object's ``jti`` was spent before the login
round trip ended, and its ``redirect_uri`` lost to the query's."""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from joserfc import jwk, jwt

from tests.conftest import login
from tests.oidc.helpers import REDIRECT, callback, exchange, hidden_fields, make_client
from tests.security.hostile import answer, closed_port, cut_short, drip, drip_headers, hostile, not_found

OTHER_REDIRECT = "https://rp.example.vn/other-cb"


@pytest.fixture
def key():
    return jwk.ECKey.generate_key("P-256", auto_kid=True)


def signed(client_id, key, clock, **claims):
    body = {"iss": client_id, "aud": "http://localhost", "exp": int(clock.now.timestamp()) + 300,
            "client_id": client_id, "response_type": "code", "redirect_uri": REDIRECT, "scope": "openid",
            "state": "from-object", "nonce": "n-1", **claims}
    return jwt.encode({"alg": "ES256", "kid": key.kid}, body, key, algorithms=["ES256"])


def authorize(client, client_id, **params):
    query = {"client_id": client_id, "response_type": "code", "scope": "openid", **params}
    return client.get("/authorize?" + urlencode(query))


def registered_client(app, key, *uris, **meta):
    client_id, secret = make_client(app, jwks={"keys": [key.as_dict(private=False)]},
                                    request_uris=list(uris), **meta)
    return client_id, secret


def test_an_unregistered_request_uri_is_never_fetched(app, client, key, clock):
    with hostile(answer) as server:
        server.body = b"not even a JWT"
        client_id, _ = registered_client(app, key, "https://rp.example.vn/registered.jwt")
        result = callback(authorize(client, client_id, redirect_uri=REDIRECT, request_uri=server.url()))
        assert result["error"] == "invalid_request_uri"
        assert server.hits == 0


def test_a_dripping_server_cannot_hold_a_request_past_the_deadline(make_app, key, clock):
    app = make_app(IDP_OUTBOUND_DEADLINE_SECONDS=1)
    client = app.test_client()
    for behaviour in (drip, drip_headers):
        with hostile(behaviour) as server:
            client_id, _ = registered_client(app, key, server.url())
            started = time.monotonic()
            result = callback(authorize(client, client_id, redirect_uri=REDIRECT, request_uri=server.url()))
            assert time.monotonic() - started < 10  # the drip lasts a minute
            assert result["error"] == "invalid_request_uri" and server.hits == 1


def test_failures_look_the_same_whatever_the_port_holds(make_app, key, clock):
    """Closed port, 404, a body cut short, a drip: one answer, so /authorize cannot map the network."""
    app = make_app(IDP_OUTBOUND_DEADLINE_SECONDS=1)
    client = app.test_client()
    answers = set()
    closed = f"http://127.0.0.1:{closed_port()}/request.jwt"
    client_id, _ = registered_client(app, key, closed)
    answers.add(tuple(sorted(callback(authorize(client, client_id, redirect_uri=REDIRECT,
                                                request_uri=closed)).items())))
    for behaviour in (not_found, cut_short, drip):
        with hostile(behaviour) as server:
            client_id, _ = registered_client(app, key, server.url())
            response = authorize(client, client_id, redirect_uri=REDIRECT, request_uri=server.url())
            answers.add(tuple(sorted((k, v) for k, v in callback(response).items() if k != "client_id")))
    assert answers == {(("error", "invalid_request_uri"),
                        ("error_description", "The request_uri could not be fetched."),
                        ("iss", "http://localhost"))}


def test_internal_addresses_are_refused_when_the_issuer_is_public(make_app, key, clock):
    """In production (a public issuer) a request_uri naming loopback is refused before any connection,
    however it is spelled; a client may still have registered it."""
    app = make_app(IDP_ISSUER="https://idp.example.vn", SERVER_NAME="idp.example.vn",
                   IDP_OUTBOUND_DEADLINE_SECONDS=1)
    client = app.test_client()
    with hostile(answer) as server:
        for host in ("127.0.0.1", "localhost", "2130706433", "0x7f.1", "127.1", "[::ffff:127.0.0.1]"):
            uri = server.url(host=host).replace("http:", "https:")  # registrable; refused before any TLS
            client_id, _ = registered_client(app, key, uri)
            result = callback(authorize(client, client_id, redirect_uri=REDIRECT, request_uri=uri))
            assert result["error"] == "invalid_request_uri", host
        assert server.hits == 0


def test_fetched_once_and_consent_grants_what_the_page_showed(app, client, accounts, key, clock):
    """The first fetch says openid; every later one says openid citizen_id. The person sees and allows
    openid only, and that is all the tokens and /userinfo carry."""
    accounts(email="hoa@example.vn")
    with hostile(answer) as server:
        client_id, secret = registered_client(app, key, server.url(), scope="openid profile citizen_id")
        fetched = []

        def body():
            fetched.append(1)
            scope = "openid" if len(fetched) == 1 else "openid citizen_id"
            return signed(client_id, key, clock, scope=scope).encode()

        server.body = body
        first = authorize(client, client_id, redirect_uri=REDIRECT, request_uri=server.url())
        assert first.status_code == 302 and first.headers["Location"].startswith("/login")
        resume = parse_qs(urlsplit(first.headers["Location"]).query)["next"][0]
        login(client, "hoa@example.vn")
        page = client.get(resume)
        text = page.get_data(as_text=True)
        assert page.status_code == 200 and "_motid_consent" in text
        assert "12" not in text.split("<ul", 1)[1].split("</ul>")[0]  # no personal number listed
        result = callback(client.post("/authorize", data={**hidden_fields(text), "_motid_consent": "allow"}))
        assert server.hits == 1
    tokens = exchange(client, client_id, secret, result["code"]).json
    assert tokens["scope"] == "openid"
    info = client.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}).json
    assert "citizen_id" not in info


def test_a_consent_answer_for_other_scopes_grants_nothing(app, client, accounts, key, clock):
    """Answering the page with the request swapped for a wider one shows the page again, no code."""
    accounts(email="hoa@example.vn")
    client_id, _ = registered_client(app, key, scope="openid profile citizen_id")
    login(client, "hoa@example.vn")
    page = authorize(client, client_id, request=signed(client_id, key, clock))
    form = hidden_fields(page.get_data(as_text=True))
    form["request"] = signed(client_id, key, clock, scope="openid citizen_id")
    again = client.post("/authorize", data={**form, "_motid_consent": "allow"})
    assert again.status_code == 200 and "_motid_consent" in again.get_data(as_text=True)


def test_a_request_object_jti_survives_login_and_consent_then_is_spent(app, client, accounts, key, clock):
    accounts(email="hoa@example.vn")
    client_id, _ = registered_client(app, key)
    obj = signed(client_id, key, clock, jti="once-only")
    first = authorize(client, client_id, request=obj)
    resume = parse_qs(urlsplit(first.headers["Location"]).query)["next"][0]
    login(client, "hoa@example.vn")
    page = client.get(resume)
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    result = callback(client.post("/authorize", data={**hidden_fields(page.get_data(as_text=True)),
                                                      "_motid_consent": "allow"}))
    assert "code" in result and result["state"] == "from-object"
    replay = callback(authorize(client, client_id, request=obj))
    assert replay["error"] == "invalid_request_object"


def test_the_request_objects_redirect_uri_wins_and_a_mismatch_is_refused(app, client, accounts, key, clock):
    accounts(email="hoa@example.vn")
    client_id, _ = make_client(app, first_party=True, jwks={"keys": [key.as_dict(private=False)]},
                               redirect_uris=[REDIRECT, OTHER_REDIRECT])
    login(client, "hoa@example.vn")
    inside = signed(client_id, key, clock, redirect_uri=OTHER_REDIRECT)
    mismatch = authorize(client, client_id, redirect_uri=REDIRECT, request=inside)
    assert mismatch.status_code == 400 and "Location" not in mismatch.headers
    alone = authorize(client, client_id, request=inside)
    assert alone.status_code == 302 and alone.headers["Location"].startswith(OTHER_REDIRECT + "?code=")
