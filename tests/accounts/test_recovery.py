"""Password reset by emailed single-use link, and change of password."""
from __future__ import annotations

from idp.accounts.models import SsoSession
from idp.db import db
from tests.conftest import PASSWORD, csrf_token, login, post_form

NEW = "Một-mật-khẩu-mới-2026"


def forgot(client, email):
    return post_form(client, "/password/forgot", {"email": email})


def live_sessions(app):
    with app.app_context():
        return db.session.query(SsoSession).filter(SsoSession.ended_at.is_(None)).count()


def test_reset_by_link_then_login(mail_app, smtp, accounts):
    accounts(email="hoa@example.vn")
    other = mail_app.test_client()
    login(other, "096301001234")
    client = mail_app.test_client()
    response = forgot(client, "HOA@example.vn")
    assert "Hãy kiểm tra email" in response.get_data(as_text=True)
    [message] = smtp.messages
    assert message["Subject"] == "Đặt lại mật khẩu MotID"
    link = smtp.last_link("/password/reset/")
    assert client.get(link).status_code == 200
    response = post_form(client, link, {"password": NEW, "confirm": NEW})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert live_sessions(mail_app) == 0  # every session ended with the old password
    assert other.get("/account").status_code == 302
    assert "motid_sso" not in login(client, "096301001234", PASSWORD).headers.get("Set-Cookie", "")
    assert login(client, "096301001234", NEW).status_code == 302


def test_unknown_email_gets_the_same_answer_and_no_mail(mail_app, smtp, accounts):
    accounts(email="hoa@example.vn")
    client = mail_app.test_client()
    known = forgot(client, "hoa@example.vn").get_data(as_text=True)
    unknown = forgot(client, "nobody@example.vn").get_data(as_text=True)
    assert known.split("<main>")[1] == unknown.split("<main>")[1]
    assert len(smtp.messages) == 1


def test_reset_link_is_single_use(mail_app, smtp, accounts):
    accounts(email="hoa@example.vn")
    client = mail_app.test_client()
    forgot(client, "hoa@example.vn")
    link = smtp.last_link("/password/reset/")
    token = csrf_token(client, link)
    assert client.post(link, data={"csrf_token": token, "password": NEW, "confirm": NEW}).status_code == 302
    assert client.get(link).status_code == 400
    response = client.post(link, data={"csrf_token": token, "password": NEW + "x", "confirm": NEW + "x"})
    assert response.status_code == 400


def test_reset_link_expires(mail_app, smtp, accounts, clock):
    accounts(email="hoa@example.vn")
    client = mail_app.test_client()
    forgot(client, "hoa@example.vn")
    clock.advance(hours=1, seconds=1)
    response = client.get(smtp.last_link("/password/reset/"))
    assert response.status_code == 400
    assert "đã hết hạn" in response.get_data(as_text=True)


def test_older_reset_links_die_with_the_used_one(mail_app, smtp, accounts):
    accounts(email="hoa@example.vn")
    client = mail_app.test_client()
    forgot(client, "hoa@example.vn")
    first = smtp.last_link("/password/reset/")
    forgot(client, "hoa@example.vn")
    second = smtp.last_link("/password/reset/")
    assert post_form(client, second, {"password": NEW, "confirm": NEW}).status_code == 302
    assert client.get(first).status_code == 400


def test_weak_new_password_keeps_the_link_alive(mail_app, smtp, accounts):
    accounts(email="hoa@example.vn")
    client = mail_app.test_client()
    forgot(client, "hoa@example.vn")
    link = smtp.last_link("/password/reset/")
    response = post_form(client, link, {"password": "1234567890", "confirm": "1234567890"})
    assert response.status_code == 200 and "quá phổ biến" in response.get_data(as_text=True)
    assert post_form(client, link, {"password": NEW, "confirm": NEW}).status_code == 302


def test_wrong_reset_link(client):
    assert client.get("/password/reset/forged").status_code == 400


def test_change_password_needs_the_current_one(app, client, accounts):
    accounts()
    other = app.test_client()
    login(other, "096301001234")
    login(client, "096301001234")
    wrong = post_form(client, "/account/password", {"current_password": "nope-nope-nope", "password": NEW,
                                                    "confirm": NEW})
    assert "Mật khẩu hiện tại không đúng" in wrong.get_data(as_text=True)
    ok = post_form(client, "/account/password", {"current_password": PASSWORD, "password": NEW, "confirm": NEW})
    assert ok.status_code == 302
    assert client.get("/account").status_code == 200  # this session continues
    assert other.get("/account").status_code == 302  # the others end
    assert live_sessions(app) == 1
