"""Liveness, readiness, and behaviour when the database is gone."""
from __future__ import annotations

from tests.conftest import csrf_token


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_readyz_with_database(client):
    assert client.get("/readyz").json == {"status": "ready", "database": "ok"}


def test_database_down(make_app):
    """A stopped database: readiness says 503 and pages answer 503 in the user's language, never 500."""
    app = make_app(IDP_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/motid",
                   IDP_MASTER_KEY=app_key())
    client = app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json["database"] == "unreachable"
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"csrf_token": token, "identifier": "096301001234",
                                           "password": "whatever-password"})
    assert response.status_code == 503
    assert "tạm thời gián đoạn" in response.get_data(as_text=True)
    client.set_cookie("motid_sso", "a" * 43)
    assert client.get("/account").status_code == 503


def app_key():
    from cryptography.fernet import Fernet
    return Fernet.generate_key().decode()
