"""Self-registration with email verification through a real SMTP server, and the bad inputs a new user tries."""
from __future__ import annotations

import pytest

from idp.accounts.models import Account, AccountToken
from idp.db import db
from tests.conftest import csrf_token, login, post_form

GOOD = {"full_name": "Lê Thị  Mai", "citizen_id": "096 301 005 678", "email": "Mai.Le@Example.vn",
        "phone": "0987654321", "birthdate": "2001-03-04", "password": "Cà-Mau-mùa-nước-nổi", "confirm":
        "Cà-Mau-mùa-nước-nổi"}


def register(client, **changes):
    return post_form(client, "/register", {**GOOD, **changes})


def count_accounts(app):
    with app.app_context():
        return db.session.query(Account).count()


def test_register_verify_then_login(mail_app, smtp):
    client = mail_app.test_client()
    response = register(client)
    assert response.status_code == 200
    assert "mai.le@example.vn" in response.get_data(as_text=True)
    [message] = smtp.messages
    assert message["To"] == "mai.le@example.vn"
    assert message["Subject"] == "Xác nhận địa chỉ email cho MotID"
    link = smtp.last_link("/verify-email/")

    # Before verification the account cannot log in.
    assert client.get_cookie("motid_sso") is None
    assert "motid_sso" not in login(client, "096301005678", GOOD["password"]).headers.get("Set-Cookie", "")

    assert client.get(link).status_code == 200
    with mail_app.app_context():
        account = db.session.query(Account).one()
        assert account.email_verified and account.full_name == "Lê Thị Mai"
        assert account.phone == "+84987654321" and account.kind == "citizen"
        assert account.password_hash.startswith("$argon2id$")
        token = db.session.query(AccountToken).one()
        assert token.digest not in link and token.used_at is not None
    assert login(client, "096301005678", GOOD["password"]).status_code == 302


def test_reused_verification_link_is_refused(mail_app, smtp):
    client = mail_app.test_client()
    register(client)
    link = smtp.last_link("/verify-email/")
    assert client.get(link).status_code == 200
    again = client.get(link)
    assert again.status_code == 400
    assert "Liên kết này không còn dùng được" in again.get_data(as_text=True)


def test_expired_verification_link_is_refused(mail_app, smtp, clock):
    client = mail_app.test_client()
    register(client)
    clock.advance(hours=24, seconds=1)
    assert client.get(smtp.last_link("/verify-email/")).status_code == 400


def test_wrong_verification_link(client):
    assert client.get("/verify-email/not-a-token").status_code == 400


def test_resend_verification_sends_a_fresh_link(mail_app, smtp):
    client = mail_app.test_client()
    register(client)
    response = post_form(client, "/login", {"identifier": "096301005678", "password": GOOD["password"]})
    assert response.status_code == 200
    token = csrf_token(client, "/login")
    response = client.post("/verify-email", data={"csrf_token": token, "email": "mai.le@example.vn"})
    assert response.status_code == 200
    assert len(smtp.messages) == 2
    assert client.get(smtp.last_link("/verify-email/")).status_code == 200


def test_smtp_down_keeps_the_account_and_says_so(make_app):
    app = make_app(IDP_SMTP_URL="smtp://127.0.0.1:1")
    client = app.test_client()
    response = register(client)
    assert response.status_code == 200
    assert "không gửi được email" in response.get_data(as_text=True)
    assert count_accounts(app) == 1


@pytest.mark.parametrize("changes, message", [
    ({"citizen_id": "12345"}, "đúng 12 chữ số"),
    ({"citizen_id": "0963010056789"}, "đúng 12 chữ số"),
    ({"citizen_id": "999301005678"}, "mã tỉnh"),
    ({"citizen_id": "09630100567a"}, "đúng 12 chữ số"),
    ({"email": "not-an-email"}, "Địa chỉ email không hợp lệ"),
    ({"phone": "12345"}, "số điện thoại Việt Nam hợp lệ"),
    ({"password": "short", "confirm": "short"}, "ít nhất 10 ký tự"),
    ({"password": "password123", "confirm": "password123"}, "quá phổ biến"),
    ({"password": "mk-096301005678", "confirm": "mk-096301005678"}, "không được chứa"),
    ({"password": "Mai.Le-secret-1", "confirm": "Mai.Le-secret-1"}, "không được chứa"),
    ({"password": "Cà-Mau-mùa-nước-nổi", "confirm": "different-password"}, "không khớp"),
    ({"full_name": ""}, "bắt buộc"),
    ({"full_name": "x" * 201}, "quá dài"),
    ({"full_name": "Lê\x00Mai"}, "không được phép"),
    ({"email": "a\x07@example.vn"}, "không được phép"),
])
def test_bad_registration_input_gets_a_clear_message_and_no_account(client, app, changes, message):
    response = register(client, **changes)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert count_accounts(app) == 0


@pytest.mark.parametrize("field, value", [("citizen_id", "096301001234"), ("email", "HOA@example.vn"),
                                          ("phone", "+84912345678")])
def test_duplicates_are_refused(client, app, accounts, field, value):
    accounts(email="hoa@example.vn", phone="0912345678")
    response = register(client, **{field: value})
    assert response.status_code == 200
    assert "đã" in response.get_data(as_text=True)
    assert count_accounts(app) == 1


def test_form_without_csrf_token_is_refused(client, app):
    response = client.post("/register", data=GOOD)
    assert response.status_code == 400
    assert "Biểu mẫu này đã hết hạn" in response.get_data(as_text=True)
    assert count_accounts(app) == 0


def test_stale_csrf_token_is_refused(client, app):
    token = csrf_token(client, "/register")
    app.config["WTF_CSRF_TIME_LIMIT"] = -1  # any age is now too old
    response = client.post("/register", data={"csrf_token": token, **GOOD})
    assert response.status_code == 400
    assert count_accounts(app) == 0


def test_csrf_token_from_another_session_is_refused(app):
    token = csrf_token(app.test_client(), "/register")
    response = app.test_client().post("/register", data={"csrf_token": token, **GOOD})
    assert response.status_code == 400


def test_non_utf8_body_is_handled(client, app):
    token = csrf_token(client, "/register")
    body = ("csrf_token=" + token + "&full_name=").encode() + b"\xff\xfe\xc3" + b"&citizen_id=096301005678"
    response = client.post("/register", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code in (200, 400)
    assert count_accounts(app) == 0


def test_oversized_body_gets_413_page(client):
    response = client.post("/register", data={"full_name": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413
    assert "quá lớn" in response.get_data(as_text=True)


def test_english_page_on_request(client, app):
    response = post_form(client, "/register", {**GOOD, "citizen_id": "12"},
                         headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "exactly 12 digits" in response.get_data(as_text=True)
