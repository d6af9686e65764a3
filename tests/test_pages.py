"""Language, security headers, error pages and assets."""
from __future__ import annotations

import pathlib
import re

import pytest


def test_vietnamese_by_default(client):
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="vi">' in page and "Đăng nhập" in page


def test_accept_language_english(client):
    page = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.8"}).get_data(as_text=True)
    assert '<html lang="en">' in page and "Log in" in page


def test_explicit_choice_beats_accept_language(client):
    response = client.get("/lang/vi?next=/register")
    assert response.headers["Location"] == "/register"
    page = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="vi">' in page


def test_unknown_language_is_404(client):
    assert client.get("/lang/fr").status_code == 404


def test_language_switch_does_not_open_redirect(client):
    assert client.get("/lang/en?next=https://evil.example").headers["Location"] == "/account"


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in response.headers  # http loopback issuer


@pytest.mark.parametrize("path, code", [("/nowhere", 404), ("/healthz", 200)])
def test_error_pages_are_translated(client, path, code):
    response = client.get(path)
    assert response.status_code == code


def test_404_page_in_both_languages(client):
    assert "Không tìm thấy trang" in client.get("/nowhere").get_data(as_text=True)
    english = client.get("/nowhere", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Page not found" in english


def test_405_page(client):
    response = client.put("/login")
    assert response.status_code == 405 and "<html" in response.get_data(as_text=True)


def test_json_errors_on_api_paths(client):
    response = client.get("/api/nothing")
    assert response.status_code == 404 and response.is_json and response.json["status"] == 404


def test_unexpected_error_is_a_500_page_without_trace(app):
    @app.route("/boom")
    def boom():
        raise RuntimeError("secret detail")

    response = app.test_client().get("/boom")
    text = response.get_data(as_text=True)
    assert response.status_code == 500 and "secret detail" not in text and "Traceback" not in text
    assert "Đã có lỗi" in text


def test_templates_load_nothing_from_outside():
    root = pathlib.Path(__file__).resolve().parent.parent / "idp"
    for path in list(root.glob("templates/**/*.html")) + list(root.glob("static/*")):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), path
        assert "<script>" not in text and " style=" not in text, path  # CSP forbids inline code


def test_static_css_is_served(client):
    response = client.get("/static/style.css")
    assert response.status_code == 200 and "max-width" in response.get_data(as_text=True)


def test_mobile_viewport(client):
    assert 'name="viewport" content="width=device-width' in client.get("/login").get_data(as_text=True)


@pytest.mark.parametrize("code, vietnamese", [(400, "Không hiểu được yêu cầu"), (403, "không có quyền"),
                                              (429, "Quá nhiều lần thử"), (503, "tạm thời gián đoạn")])
def test_every_error_page_has_a_translated_text(app, code, vietnamese):
    from flask import abort

    @app.route(f"/fail/{code}")
    def fail():
        abort(code)

    response = app.test_client().get(f"/fail/{code}")
    assert response.status_code == code and vietnamese in response.get_data(as_text=True)
