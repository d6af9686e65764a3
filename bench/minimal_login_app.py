"""The least a password login can be on MotID's stack: the floor that ``login_bench.py --server minimal``
measures beside the real server.

Flask, a Flask-WTF form (CSRF token in the ``motid_ui`` session cookie), a small Jinja page, one
SQLAlchemy Core lookup of the account in MotID's own database, the same argon2id verification
(:func:`idp.accounts.passwords.make_hasher`, the same settings) and one row inserted in
``sso_sessions`` before a 302 that sets ``motid_sso``. Nothing else: no rate limits, no lockout, no
audit event, no second factor, no translations, no security headers. It is not part of MotID and
serves nothing but this benchmark; run it only through ``login_bench.py``.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from datetime import datetime, timedelta, timezone

from flask import Flask, redirect, render_template_string, request
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import create_engine, text
from wtforms import PasswordField, StringField

from idp.accounts.passwords import make_hasher
from idp.config import from_environ
from idp.security import load_master_key

PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>Đăng nhập · MotID</title></head>
<body><h1>Đăng nhập</h1>
<form method="post" novalidate>{{ form.hidden_tag() }}
<p>{{ form.identifier.label() }} {{ form.identifier(autocomplete="username") }}</p>
<p>{{ form.password.label() }} {{ form.password(autocomplete="current-password") }}</p>
<button type="submit">Đăng nhập</button></form></body></html>"""


class LoginForm(FlaskForm):
    identifier = StringField("Số định danh, email hoặc số điện thoại")
    password = PasswordField("Mật khẩu")


def create_app() -> Flask:
    settings = from_environ(os.environ)
    url = settings["IDP_DATABASE_URL"] or "sqlite:///" + os.path.join(settings["IDP_INSTANCE_PATH"],
                                                                     "motid.sqlite3")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    engine = create_engine(url)
    hasher = make_hasher(settings)
    app = Flask(__name__)
    # MotID's own cookie-signing key: every worker must accept the cookie another one signed (a new
    # connection's POST may reach another worker than its GET did), so no per-process random key.
    app.secret_key = load_master_key(settings).derive("flask-session")
    app.config["SESSION_COOKIE_NAME"] = "motid_ui"
    CSRFProtect(app)

    @app.route("/healthz")
    def healthz():
        return "ok"

    @app.route("/account")
    def account():
        return redirect("/login")

    @app.route("/login", methods=["GET", "POST"])
    def login():
        form = LoginForm()
        if form.validate_on_submit():
            with engine.begin() as conn:
                row = conn.execute(text("SELECT id, password_hash FROM accounts WHERE citizen_id = :value"),
                                   {"value": form.identifier.data.strip()}).first()
                if row is None or not _verify(hasher, row.password_hash, form.password.data):
                    return render_template_string(PAGE, form=form), 200
                token, now = secrets.token_urlsafe(32), datetime.now(timezone.utc).replace(tzinfo=None)
                conn.execute(text(
                    "INSERT INTO sso_sessions (id, sid, account_id, auth_time, amr, acr, ip, user_agent, "
                    "created_at, last_seen_at, expires_at) VALUES (:id, :sid, :account, :now, :amr, :acr, :ip, "
                    ":ua, :now, :now, :expires)"),
                    {"id": hashlib.sha256(token.encode()).hexdigest(), "sid": secrets.token_urlsafe(24),
                     "account": row.id, "now": now, "amr": '["pwd"]', "acr": "urn:motid:loa:1",
                     "ip": request.remote_addr, "ua": request.user_agent.string[:300],
                     "expires": now + timedelta(hours=10)})
            response = redirect("/account")
            response.set_cookie("motid_sso", token, httponly=True, samesite="Lax")
            return response
        return render_template_string(PAGE, form=form)

    return app


def _verify(hasher, stored: str, password: str) -> bool:
    from argon2.exceptions import VerificationError
    try:
        return hasher.verify(stored, password)
    except VerificationError:
        return False
