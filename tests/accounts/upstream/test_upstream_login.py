"""The person's side of upstream login, over HTTP through the Flask test client against the real node
oidc-provider speaking the VNeID profile (and the Zalo-shaped server): accounts created just in time,
linked, refused on conflict; the login page, the security page, and a relying party's code flow."""
from __future__ import annotations

from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from idp.accounts.assurance import LOA1, LOA2
from idp.accounts.models import Account, SsoSession
from idp.accounts.upstream.models import UpstreamLink
from idp.db import db
from idp.events import AuditEvent
from tests.accounts.upstream.conftest import HOA
from tests.accounts.upstream.test_zalo_and_outages import _register_zalo
from tests.conftest import CSRF_RE, PASSWORD, login
from tests.oidc.helpers import auth_params, authorize, callback, decode, exchange, make_client

pytestmark = pytest.mark.interop
NUMBER = HOA["SoDinhDanh"]


def _upstream(client, node_op, account="hoa", acr="2", next_url=None, headers=None):
    response = client.get("/login/upstream/vneid" + (f"?next={quote(next_url, safe='')}" if next_url else ""))
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    args = node_op.login(response.headers["Location"], account, acr)
    return client.get("/login/upstream/vneid/callback?" + urlencode(args), headers=headers or {})


def _zalo(client, path="/login/upstream/zalo"):
    response = client.get(path)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    upstream = requests.get(response.headers["Location"], allow_redirects=False, timeout=10)
    args = {k: v[0] for k, v in parse_qs(urlsplit(upstream.headers["location"]).query).items()}
    return client.get("/login/upstream/zalo/callback?" + urlencode(args))


def _sessions(app):
    with app.app_context():
        return [(s.account.sub, s.acr, s.amr) for s in db.session.scalars(
            select(SsoSession).where(SsoSession.ended_at.is_(None)).order_by(SsoSession.created_at))]


def _count(app, model, *where):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _events(app, tag):
    with app.app_context():
        return [e.details for e in db.session.scalars(select(AuditEvent).where(AuditEvent.tag == tag))]


def test_level_two_first_login_creates_the_account_and_the_same_person_comes_back(app, client, vneid, node_op):
    response = _upstream(client, node_op, next_url="/account")
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.citizen_id == NUMBER))
        assert account.full_name == "Nguyễn Thị Hoa" and account.password_hash is None
        assert account.gender == "female" and str(account.birthdate) == "2001-02-15"
        sub = account.sub
    [(owner, acr, amr)] = _sessions(app)
    assert (owner, acr, amr) == (sub, LOA2, ["fed"])
    client.delete_cookie("motid_sso")
    _upstream(client, node_op)
    assert {row[0] for row in _sessions(app)} == {sub}
    assert _count(app, Account) == 1 and _count(app, UpstreamLink) == 1
    assert len(_events(app, "account:upstream:link")) == 1 and len(_events(app, "account:upstream:login")) == 1


def test_level_two_login_matching_a_password_account_links_it(app, client, vneid, node_op, accounts):
    existing = accounts()
    _upstream(client, node_op)
    assert _sessions(app)[0][:2] == (existing["sub"], LOA2)
    assert _count(app, Account) == 1 and _count(app, UpstreamLink, UpstreamLink.account_id == existing["id"]) == 1


def test_level_one_login_asks_for_the_password_first_and_links_after(app, client, vneid, node_op, accounts):
    existing = accounts()
    response = _upstream(client, node_op, acr="1", next_url="/account/security")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?")
    assert _sessions(app) == [] and _count(app, UpstreamLink) == 0
    response = login(client, NUMBER, PASSWORD)
    assert response.status_code == 302
    assert _count(app, UpstreamLink, UpstreamLink.account_id == existing["id"]) == 1
    client.delete_cookie("motid_sso")
    _upstream(client, node_op, acr="1")
    assert _sessions(app)[-1] == (existing["sub"], LOA1, ["fed"])


def test_level_one_login_without_an_account_creates_nothing(app, client, vneid, node_op):
    response = _upstream(client, node_op, acr="1")
    assert response.status_code == 400 and _count(app, Account) == 0


def test_a_disabled_account_is_a_conflict_with_nothing_written(app, client, vneid, node_op, accounts):
    existing = accounts()
    with app.app_context():
        db.session.get(Account, existing["id"]).status = "disabled"
        db.session.commit()
    response = _upstream(client, node_op)
    assert response.status_code == 409 and 'data-problem="upstream.disabled"' in response.get_data(as_text=True)
    assert _count(app, UpstreamLink) == 0 and _sessions(app) == []
    assert _events(app, "account:upstream:conflict") == [{"provider": "vneid", "reason": "disabled"}]


def test_two_accounts_for_one_identity_is_a_conflict(app, client, vneid, node_op, accounts):
    accounts()
    accounts(kind="business", tax_code="0100109106", business_name="Công ty TNHH Hòa Bình", email="hb@example.vn")
    node_op.accounts(both={**HOA, "MaSoThue": "0100109106"})
    response = _upstream(client, node_op, account="both")
    assert response.status_code == 409
    assert "Nothing was changed" not in response.get_data(as_text=True)  # Vietnamese first
    assert _count(app, UpstreamLink) == 0 and _count(app, Account) == 2 and _sessions(app) == []
    assert _events(app, "account:upstream:conflict")[0]["reason"] == "two_accounts"


def test_a_link_to_another_account_is_a_conflict(app, client, vneid, node_op, accounts):
    accounts()
    other = accounts(citizen_id="001099012345", email="khac@example.vn")
    with app.app_context():
        db.session.add(UpstreamLink(account_id=other["id"], provider="vneid", subject="hoa",
                                    created_at=app.config["CLOCK"]()))
        db.session.commit()
    assert _upstream(client, node_op).status_code == 409 and _sessions(app) == []
    assert _events(app, "account:upstream:conflict")[0]["reason"] == "linked_elsewhere"


@pytest.mark.parametrize("language, text", [("vi", "Đăng nhập không hoàn tất"),
                                            ("en", "The login could not be completed")])
def test_an_upstream_error_is_a_page_in_the_persons_language(app, client, vneid, node_op, language, text):
    response = client.get("/login/upstream/vneid/callback?state=" + "x" * 43,
                          headers={"Accept-Language": language})
    assert response.status_code == 400 and text in response.get_data(as_text=True)
    assert _count(app, Account) == 0


def test_an_unknown_provider_is_a_page_not_a_500(client, app):
    assert client.get("/login/upstream/nothing").status_code == 400


def test_the_login_page_offers_vneid_first_and_keeps_next(app, client, vneid, zalo_server):
    _register_zalo(app, zalo_server)
    page = client.get("/login?next=/authorize%3Fclient_id%3Dx%26login_hint%3Dy").get_data(as_text=True)
    vneid_at, zalo_at = page.index("Đăng nhập bằng VNeID"), page.index("Zalo")
    assert vneid_at < zalo_at < page.index('name="password"')
    assert "/login/upstream/vneid?next=/authorize?client_id%3Dx%26login_hint%3Dy" in page.replace("&amp;", "&")


def test_zalo_creates_nothing_without_a_link(app, client, zalo_server):
    _register_zalo(app, zalo_server)
    response = _zalo(client)
    assert response.status_code == 400 and _count(app, Account) == 0 and _sessions(app) == []


def test_zalo_linked_from_the_security_page_logs_in_at_level_one_and_unlinks(app, client, zalo_server, accounts):
    existing = accounts()
    _register_zalo(app, zalo_server)
    login(client, NUMBER, PASSWORD)
    assert "Zalo" in client.get("/account/security").get_data(as_text=True)
    response = _zalo_linked(client)
    assert response.status_code == 302 and response.headers["Location"] == "/account/security"
    assert _count(app, UpstreamLink, UpstreamLink.account_id == existing["id"]) == 1
    client.delete_cookie("motid_sso")
    _zalo(client)
    assert _sessions(app)[-1] == (existing["sub"], LOA1, ["fed"])
    with app.app_context():
        link_id = db.session.scalar(select(UpstreamLink.id))
    _post_security(client, f"/account/security/upstream/unlink/{link_id}", {"password": "sai"})
    assert _count(app, UpstreamLink) == 1
    _post_security(client, f"/account/security/upstream/unlink/{link_id}", {"password": PASSWORD})
    assert _count(app, UpstreamLink) == 0 and len(_events(app, "account:upstream:unlink")) == 1


def test_the_last_way_to_log_in_cannot_be_unlinked(app, client, vneid, node_op):
    _upstream(client, node_op)
    with app.app_context():
        link_id = db.session.scalar(select(UpstreamLink.id))
    response = _post_security(client, f"/account/security/upstream/unlink/{link_id}", {})
    assert response.status_code == 302 and _count(app, UpstreamLink) == 1


def test_a_relying_party_gets_an_id_token_with_fed(app, client, vneid, node_op):
    client_id, secret = make_client(app)
    params = auth_params(client_id)
    response = client.get("/authorize?" + urlencode(params))
    assert response.status_code == 302
    start = urlsplit(response.headers["Location"])
    next_url = parse_qs(start.query)["next"][0]
    response = _upstream(client, node_op, next_url=next_url)
    assert response.headers["Location"] == next_url
    result = callback(authorize(client, params))
    tokens = exchange(client, client_id, secret, result["code"]).get_json()
    claims = decode(app, tokens["id_token"]).claims
    assert "fed" in claims["amr"] and claims["acr"] == LOA2


def _csrf(client) -> str:
    return CSRF_RE.search(client.get("/account/security").get_data(as_text=True)).group(1)


def _post_security(client, path, data):
    return client.post(path, data={"csrf_token": _csrf(client), **data})


def _zalo_linked(client):
    response = client.post("/account/security/upstream/zalo/link", data={"csrf_token": _csrf(client)})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    upstream = requests.get(response.headers["Location"], allow_redirects=False, timeout=10)
    args = {k: v[0] for k, v in parse_qs(urlsplit(upstream.headers["location"]).query).items()}
    return client.get("/login/upstream/zalo/callback?" + urlencode(args))


def _level_one_session(app, client, node_op):
    """A person whose VNeID link exists (made by a level-2 login, then logged out), now logged in at
    level 1 through it."""
    _upstream(client, node_op)
    with app.app_context():
        for session in db.session.scalars(select(SsoSession)):
            session.ended_at = app.config["CLOCK"]()
        db.session.commit()
    client.delete_cookie("motid_sso")
    _upstream(client, node_op, acr="1")


def _step_up_request(client, client_id):
    """A client asks for level 2 while the session is at level 1: MotID sends the person back to VNeID
    asking for level 2 (not to a second factor the person does not have)."""
    params = auth_params(client_id, acr_values=LOA2)
    response = client.get("/authorize?" + urlencode(params))
    assert response.status_code == 302
    start = urlsplit(response.headers["Location"])
    assert start.path == "/login/upstream/vneid" and parse_qs(start.query)["acr"] == [LOA2]
    response = client.get(response.headers["Location"])
    assert response.status_code == 302
    assert parse_qs(urlsplit(response.headers["Location"]).query)["acr_values"] == ["2"]
    return params, response.headers["Location"], parse_qs(start.query)["next"][0]


def test_a_step_up_goes_back_to_vneid_and_the_same_session_rises(app, client, vneid, node_op):
    client_id, secret = make_client(app)
    _level_one_session(app, client, node_op)
    [(sub, acr, _)] = _sessions(app)
    assert acr == LOA1
    with app.app_context():
        sid = db.session.scalar(select(SsoSession.sid).where(SsoSession.ended_at.is_(None)))
    params, upstream_url, next_url = _step_up_request(client, client_id)
    args = node_op.login(upstream_url, "hoa", "2")
    response = client.get("/login/upstream/vneid/callback?" + urlencode(args))
    assert response.status_code == 302 and response.headers["Location"] == next_url
    assert _sessions(app) == [(sub, LOA2, ["fed"])]
    with app.app_context():  # the same session (same sid): every application keeps its session
        assert db.session.scalar(select(SsoSession.sid).where(SsoSession.ended_at.is_(None))) == sid
    result = callback(authorize(client, params))
    claims = decode(app, exchange(client, client_id, secret, result["code"]).get_json()["id_token"]).claims
    assert claims["acr"] == LOA2 and claims["amr"] == ["fed"] and claims["sub"] == sub


def test_a_step_up_that_vneid_answers_at_level_one_is_refused_and_the_session_stays(app, client, vneid,
                                                                                      node_op):
    client_id, _ = make_client(app)
    _level_one_session(app, client, node_op)
    _, upstream_url, _ = _step_up_request(client, client_id)
    args = node_op.login(upstream_url, "hoa", "1")
    response = client.get("/login/upstream/vneid/callback?" + urlencode(args))
    assert response.status_code == 400
    assert "không xác nhận được mức độ" in response.get_data(as_text=True)
    assert [row[1] for row in _sessions(app)] == [LOA1]


def test_a_session_not_from_an_upstream_never_goes_to_the_upstream_for_a_step_up(app, client, vneid, accounts):
    """A password session without a second factor cannot reach level 2: the client hears so, as before."""
    client_id, _ = make_client(app)
    accounts(citizen_id="096301001234")
    login(client, "096301001234", PASSWORD)
    response = client.get("/authorize?" + urlencode(auth_params(client_id, acr_values=LOA2)))
    assert callback(response)["error"] == "unmet_authentication_requirements"
