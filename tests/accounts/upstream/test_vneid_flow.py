"""The code flow against a real OpenID provider (node oidc-provider speaking the VNeID profile): what the
login view will get back from ``begin`` and ``finish``, and every bad input as a typed error."""
from __future__ import annotations

import base64
import hashlib
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select, update

from idp.accounts.assurance import LOA1, LOA2
from idp.accounts.upstream import flow
from idp.accounts.upstream.errors import (ClaimsInvalid, IssuerMismatch, StateInvalid, TokenRejected,
                                          UpstreamDenied, UpstreamError)
from idp.accounts.upstream.models import UpstreamLink, UpstreamLogin
from idp.db import db
from idp.events import AuditEvent
from idp.security import digest

pytestmark = pytest.mark.interop


def _begin(app, name="vneid", next_url="/authorize?client_id=portal", **kwargs) -> str:
    with app.app_context():
        return flow.begin(name, next_url, **kwargs)


def _finish(app, args, name="vneid"):
    with app.app_context():
        return flow.finish(name, args)


def _login(app, node_op, account="hoa", acr="2", **kwargs):
    return _finish(app, node_op.login(_begin(app), account, acr, **kwargs))


def _rejections(app) -> list[dict]:
    with app.app_context():
        return [e.details for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.tag == "account:upstream:reject").order_by(AuditEvent.id))]


def test_begin_sends_pkce_s256_state_and_nonce(app, vneid, node_op):
    url = _begin(app, acr_values="2")
    assert url.startswith(node_op.issuer + "/auth?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["response_type"] == "code" and query["client_id"] == "motid-camau"
    assert query["redirect_uri"] == "http://localhost/login/upstream/vneid/callback"
    assert query["scope"] == "openid profile" and query["acr_values"] == "2"
    assert query["code_challenge_method"] == "S256" and len(query["state"]) >= 43 and len(query["nonce"]) >= 43
    with app.app_context():
        login = db.session.get(UpstreamLogin, digest(query["state"]))
        verifier = app.extensions["idp.master_key"].decrypt(login.code_verifier)
        assert query["state"] not in login.state_digest and login.nonce == query["nonce"]
        assert login.next_url == "/authorize?client_id=portal" and login.consumed_at is None
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
    assert query["code_challenge"] == challenge


@pytest.mark.parametrize("acr, level", [("1", LOA1), ("2", LOA2)])
def test_a_full_login_gives_the_mapped_identity(app, vneid, node_op, acr, level):
    identity = _login(app, node_op, acr=acr)
    assert (identity.provider, identity.subject, identity.acr, identity.amr) == ("vneid", "hoa", level, ("fed",))
    assert identity.citizen_id == "096301001234" and identity.name == "Nguyễn Thị Hoa"
    assert identity.birthdate == date(2001, 2, 15) and identity.gender == "female"
    assert identity.tax_code is None and identity.next_url == "/authorize?client_id=portal"
    assert abs((identity.auth_time - app.config["CLOCK"]()).total_seconds()) < 60
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(UpstreamLink)) == 0  # linking is the view's


def test_an_organisation_account_brings_its_tax_code(app, vneid, node_op):
    node_op.accounts(org={"MaSoThue": "0100109106", "HoVaTen": "Công ty TNHH Hòa Bình"})
    identity = _login(app, node_op, account="org")
    assert identity.tax_code == "0100109106" and identity.citizen_id is None


def test_the_upstream_rotates_its_key(app, vneid, node_op):
    assert _login(app, node_op).subject == "hoa"  # its JWKS is now cached
    node_op.admin("rotate")
    assert _login(app, node_op).subject == "hoa"  # unknown kid: the JWKS is fetched again once


def test_an_unknown_kid_even_after_a_refetch_is_refused(app, vneid, node_op):
    node_op.admin("rotate?publish=0")
    with pytest.raises(TokenRejected, match="unknown key"):
        _login(app, node_op)
    assert _rejections(app)[-1] == {"provider": "vneid", "error": "token",
                                    "reason": "id_token signed with an unknown key"}


def test_a_bad_signature_is_refused(app, vneid, node_op):
    node_op.admin("jwks?mode=forged")
    with pytest.raises(TokenRejected, match="signature does not verify"):
        _login(app, node_op)


def test_a_wrong_or_missing_iss_is_refused(app, vneid, node_op):
    args = node_op.login(_begin(app), "hoa")
    with pytest.raises(IssuerMismatch, match="another issuer"):
        _finish(app, {**args, "iss": "https://evil.example"})
    args = node_op.login(_begin(app), "hoa")
    del args["iss"]  # the provider says it always sends iss (RFC 9207)
    with pytest.raises(IssuerMismatch, match="missing"):
        _finish(app, args)


def test_an_expired_id_token_is_refused(app, vneid, node_op):
    args = node_op.login(_begin(app), "hoa")
    app.config["CLOCK"].advance(minutes=3)  # the ID token lives 60 s; 60 s of skew; the state 10 min
    with pytest.raises(TokenRejected, match="expired"):
        _finish(app, args)


def test_an_id_token_from_the_future_is_refused(app, vneid, node_op):
    args = node_op.login(_begin(app), "hoa")
    app.config["CLOCK"].advance(minutes=-3)
    with pytest.raises(TokenRejected, match="future"):
        _finish(app, args)


def test_a_wrong_nonce_is_refused(app, vneid, node_op):
    args = node_op.login(_begin(app), "hoa")
    with app.app_context():  # the upstream answers a different login than the one this state started
        db.session.execute(update(UpstreamLogin).values(nonce="another-nonce"))
        db.session.commit()
    with pytest.raises(TokenRejected, match="nonce"):
        _finish(app, args)


def test_a_state_is_used_once_and_must_be_there(app, vneid, node_op):
    args = node_op.login(_begin(app), "hoa")
    assert _finish(app, args).subject == "hoa"
    with pytest.raises(StateInvalid, match="unknown, used or expired"):
        _finish(app, args)
    with pytest.raises(StateInvalid, match="missing"):
        _finish(app, {k: v for k, v in args.items() if k != "state"})
    with pytest.raises(StateInvalid):
        _finish(app, {**args, "state": "x" * 43})


def test_an_expired_state_is_refused(app, vneid, node_op):
    url = _begin(app)
    app.config["CLOCK"].advance(minutes=11)
    with pytest.raises(StateInvalid):
        _finish(app, {"state": parse_qs(urlsplit(url).query)["state"][0], "code": "x", "iss": node_op.issuer})


def test_the_person_refuses_at_the_upstream(app, vneid, node_op):
    with pytest.raises(UpstreamDenied) as caught:
        _login(app, node_op, abort=True)
    assert caught.value.error == "access_denied" and caught.value.description == "End-User aborted"
    assert _rejections(app)[-1]["error"] == "denied"


@pytest.mark.parametrize("claims, reason", [
    ({"SoDinhDanh": "09630100123"}, "SoDinhDanh: citizen_id.shape"),
    ({"SoDinhDanh": "999301001234"}, "SoDinhDanh: citizen_id.province"),
    ({"HoVaTen": "<script>alert(1)</script>"}, "HoVaTen: markup"),
    ({"HoVaTen": "Nguyễn\u0000Hoa"}, "HoVaTen: control characters"),
    ({"NgayThangNamSinh": "20010230"}, "NgayThangNamSinh: impossible date"),
    ({"NgayThangNamSinh": "15/02/2001"}, "NgayThangNamSinh: not YYYYMMDD"),
])
def test_bad_claims_fail_the_whole_login(app, vneid, node_op, claims, reason):
    from tests.accounts.upstream.conftest import HOA
    node_op.accounts(bad={**HOA, "preferred_username": None, **claims})
    with pytest.raises(ClaimsInvalid) as caught:
        _login(app, node_op, account="bad")
    assert caught.value.reason.startswith(reason)
    assert _rejections(app)[-1]["error"] == "claims"


def test_a_nfd_name_arrives_nfc(app, vneid, node_op):
    import unicodedata
    from tests.accounts.upstream.conftest import HOA
    node_op.accounts(nfd={**HOA, "HoVaTen": unicodedata.normalize("NFD", "Nguyễn Thị Hoa")})
    assert _login(app, node_op, account="nfd").name == unicodedata.normalize("NFC", "Nguyễn Thị Hoa")


def test_a_disabled_or_unknown_provider_is_refused(app, vneid, node_op):
    from idp.accounts.upstream.errors import ProviderUnknown
    from idp.accounts.upstream.registry import UpstreamRegistry
    with pytest.raises(ProviderUnknown):
        _begin(app, name="nobody")
    with app.app_context():
        UpstreamRegistry.from_app().update("vneid", enabled=False)
    with pytest.raises(ProviderUnknown):
        _begin(app)
    assert issubclass(ProviderUnknown, UpstreamError)


def test_private_key_jwt_signs_with_motids_own_key(app, node_op, real_clock):
    """The upstream knows MotID's public keys (in production: ``{IDP_ISSUER}/jwks.json``)."""
    from idp.accounts.upstream.registry import UpstreamRegistry
    with app.app_context():
        keys = app.extensions["idp.keys"]
        keys.ensure(real_clock())
        jwks = keys.jwks(real_clock())
        UpstreamRegistry.from_app().add("vneid-pkj", issuer=node_op.issuer, client_id="motid-pkj",
                                        token_auth_method="private_key_jwt", profile="vneid")
    node_op.admin("clients", {"client_id": "motid-pkj", "token_endpoint_auth_method": "private_key_jwt",
                              "jwks": jwks, "redirect_uris": ["http://localhost/login/upstream/vneid-pkj/callback"]})
    args = node_op.login(_begin(app, name="vneid-pkj"), "hoa", "2")
    identity = _finish(app, args, name="vneid-pkj")
    assert (identity.provider, identity.subject, identity.acr) == ("vneid-pkj", "hoa", LOA2)
