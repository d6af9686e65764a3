"""Issue 11, item 3: links in mail must not take the request's Host header.

An attacker asks for a password reset (or a verification mail) for someone else's address while
sending ``Host: evil.example``. Before the fix the mail carried
``http://evil.example/password/reset/<token>``: one click by the victim handed the token to the
attacker. Now a request for a host that is not the issuer's (nor in ``IDP_TRUSTED_HOSTS``) is refused
with a plain 400 before anything runs, and every link in mail is built from ``IDP_ISSUER`` alone.
The mail goes through a real SMTP server (aiosmtpd) and is read back as the victim would.
"""
from __future__ import annotations

import pytest

from tests.admin.conftest import token, world  # noqa: F401  (fixtures)
from tests.conftest import CSRF_RE

EVIL = "evil.example"
VICTIM = "hoa@example.vn"


@pytest.fixture
def app(make_app, smtp):
    return make_app(IDP_SMTP_URL=smtp.url)


def form_session(client) -> tuple[str, str]:
    """What the attacker gets from the real site: the form's session cookie and CSRF token."""
    page = client.get("/password/forgot")
    return client.get_cookie("motid_ui").value, CSRF_RE.search(page.get_data(as_text=True)).group(1)


def post_as(client, path: str, host: str, data: dict, **headers):
    """A valid form post, sent with ``Host: host`` (and its session cookie, as a raw HTTP client would)."""
    cookie, csrf = form_session(client)
    client.set_cookie("motid_ui", cookie, domain=host.split(":")[0])
    return client.post(path, data={"csrf_token": csrf, **data}, base_url=f"http://{host}", headers=headers)


def assert_refused(response):
    assert response.status_code == 400
    assert response.mimetype == "text/plain"
    assert EVIL not in response.get_data(as_text=True)


def links(smtp) -> list[str]:
    return [message.get_body().get_content() for message in smtp.messages]


def test_forgot_password_for_a_foreign_host_is_refused_and_mails_nothing(app, accounts, smtp):
    accounts(email=VICTIM)
    client = app.test_client()
    assert_refused(client.get("/password/forgot", base_url=f"http://{EVIL}"))
    assert_refused(post_as(client, "/password/forgot", EVIL, {"email": VICTIM}))
    assert_refused(post_as(client, "/password/forgot", f"{EVIL}:443", {"email": VICTIM}))
    assert smtp.messages == []
    # The same request for the issuer's own host: the link leads to the issuer.
    assert post_as(client, "/password/forgot", "localhost", {"email": VICTIM}).status_code == 200
    [body] = links(smtp)
    assert "http://localhost/password/reset/" in body and EVIL not in body


def test_forwarded_host_from_the_proxy_is_checked_too(make_app, accounts, smtp):
    app = make_app(IDP_SMTP_URL=smtp.url, IDP_PROXY_HOPS=1)
    accounts(email=VICTIM)
    client = app.test_client()
    assert_refused(post_as(client, "/password/forgot", "localhost", {"email": VICTIM}, **{"X-Forwarded-Host": EVIL}))
    assert smtp.messages == []


def test_verification_resend_for_a_foreign_host_is_refused(app, accounts, smtp):
    accounts(email=VICTIM, email_verified=False)
    client = app.test_client()
    assert_refused(post_as(client, "/verify-email", EVIL, {"email": VICTIM}))
    assert smtp.messages == []
    assert post_as(client, "/verify-email", "localhost", {"email": VICTIM}).status_code == 200
    [body] = links(smtp)
    assert "http://localhost/verify-email/" in body and EVIL not in body


def test_admin_triggered_reset_for_a_foreign_host_is_refused(app, world, token, smtp):  # noqa: F811
    sub = world.people["an_phu_officer"]["sub"]
    path = f"/admin/api/v1/accounts/{sub}/password-reset"
    client = app.test_client()
    assert_refused(client.post(path, headers={**token("an_phu_admin"), "Host": EVIL}))
    assert smtp.messages == []
    assert client.post(path, headers=token("an_phu_admin")).json == {"ok": True, "link_sent": True}
    [body] = links(smtp)
    assert "http://localhost/password/reset/" in body and EVIL not in body


def test_links_start_with_the_issuer_and_its_path_whatever_trusted_host_was_used(make_app, accounts, smtp):
    app = make_app(IDP_SMTP_URL=smtp.url, IDP_ISSUER="http://localhost/motid", IDP_TRUSTED_HOSTS="idp-lan.example")
    accounts(email=VICTIM)
    client = app.test_client()
    assert post_as(client, "/password/forgot", "idp-lan.example", {"email": VICTIM}).status_code == 200
    [body] = links(smtp)
    assert "\nhttp://localhost/motid/password/reset/" in body and "idp-lan.example" not in body
