"""MotID: a single sign-on OpenID Connect provider for provincial e-government."""
from __future__ import annotations

import logging
import os

from flask import Flask, g, request
from werkzeug.exceptions import SecurityError
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config as settings
from . import db, errors, i18n, limits, logs, metrics
from .accounts.passwords import Passwords, make_hasher
from .accounts.services import AccountService
from .accounts.sessions import SessionService
from .extensions import csrf
from .mail import Mailer
from .worker import every_round
from .security import apply_security_headers, load_master_key


def create_app(config: dict | None = None) -> Flask:
    """Build an application from the ``IDP_*`` environment, overridden by ``config`` (tests)."""
    values = settings.from_environ()
    values.update(config or {})
    settings.validate(values)
    instance_path = os.path.abspath(values["IDP_INSTANCE_PATH"])
    app = Flask(__name__, instance_path=instance_path)
    app.config.update(values)
    app.config.update(
        DEBUG=values["IDP_DEBUG"],
        MAX_CONTENT_LENGTH=1024 * 1024,
        MAX_FORM_MEMORY_SIZE=256 * 1024,
        SESSION_COOKIE_NAME="motid_ui",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=values["IDP_ISSUER"].startswith("https://"),
        PREFERRED_URL_SCHEME="https" if values["IDP_ISSUER"].startswith("https://") else "http",
        WTF_CSRF_TIME_LIMIT=3600,
        # Requests for any other Host get a plain 400 (see _refuse_untrusted_hosts); links in mail never
        # read the Host header (idp.mail.issuer_link).
        TRUSTED_HOSTS=settings.trusted_hosts(values),
    )
    _refuse_untrusted_hosts(app)
    master_key = load_master_key(values)
    app.secret_key = master_key.derive("flask-session")
    app.extensions["idp.master_key"] = master_key
    from .oidc.published import PublishedDocuments
    app.wsgi_app = PublishedDocuments(app, app.wsgi_app)  # inside ProxyFix: it sees the client's host
    if values["IDP_PROXY_HOPS"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=values["IDP_PROXY_HOPS"], x_proto=values["IDP_PROXY_HOPS"],
                                x_host=values["IDP_PROXY_HOPS"])

    db.init_app(app)
    i18n.init_app(app)
    limits.init_app(app)
    csrf.init_app(app)
    errors.init_app(app)
    _init_services(app, values)
    _register_blueprints(app)
    from .accounts.rate_limits import LIMITS
    limits.apply(app, LIMITS)
    _add_page_hooks(app, https=values["IDP_ISSUER"].startswith("https://"))
    _register_commands(app)
    logging.getLogger("idp").setLevel(logging.INFO)
    logs.configure(app)
    metrics.init_app(app)  # last: its timing wraps every other layer
    return app


def _add_page_hooks(app, *, https: bool) -> None:
    """Every response: the SSO cookie when it changed, security headers. Every page: language and session."""
    app.jinja_env.add_extension("jinja2.ext.do")
    from .accounts.devices import describe
    app.jinja_env.filters["device"] = describe

    @app.after_request
    def finish(response):
        app.extensions["idp.sessions"].write_cookie(response)
        return apply_security_headers(response, https)

    @app.context_processor
    def template_globals():
        from flask_babel import get_locale
        return {"current_locale": str(get_locale() or i18n.DEFAULT), "languages": i18n.LANGUAGES,
                "sso_session": g.get("sso_session")}


def _refuse_untrusted_hosts(app) -> None:
    """End a request for a host not in ``TRUSTED_HOSTS`` first, as a plain 400: Flask could not bind its URL
    adapter, so no later hook (CSRF, rate limits) nor any page that builds a URL may run."""

    def check_host():
        if isinstance(request.routing_exception, SecurityError):
            raise request.routing_exception

    app.before_request_funcs.setdefault(None, []).insert(0, check_host)

    @app.errorhandler(SecurityError)
    def untrusted_host(exc):
        return str(errors.TITLES[400]) + "\n", 400, {"Content-Type": "text/plain; charset=utf-8"}


def _init_services(app, values) -> None:
    from .keys import KeyService
    from .oidc.clients import ClientService
    from .oidc.server import build_server
    from .oidc.tokens import TokenIssuer
    from .versions import init_app as init_versions

    master_key = app.extensions["idp.master_key"]
    versions = init_versions(app)
    keys = KeyService(master_key, max_token_seconds=max(values["IDP_ACCESS_TOKEN_SECONDS"],
                                                        values["IDP_ID_TOKEN_SECONDS"]),
                      rotation_delay_seconds=values["IDP_KEY_ROTATION_DELAY_SECONDS"], versions=versions)
    app.extensions["idp.keys"] = keys
    clients = app.extensions["idp.clients"] = ClientService(master_key, versions)
    app.extensions["idp.tokens"] = TokenIssuer(keys, values)
    from .oidc.dpop import DPoP
    app.extensions["idp.dpop"] = DPoP(master_key, values)
    app.extensions["idp.oauth"] = build_server(app, clients)
    from .accounts.totp import TotpService
    app.extensions["idp.totp"] = TotpService(master_key)
    passwords = Passwords(make_hasher(values))
    app.extensions["idp.passwords"] = passwords
    app.extensions["idp.accounts"] = AccountService(passwords, values)
    app.extensions["idp.sessions"] = sessions = SessionService(values)
    every_round(app, sessions.sweep_expired)  # before logout delivery: the sessions it ends are told at once
    from .accounts.login_flow import LoginFlow
    app.extensions["idp.login_flow"] = LoginFlow(app.extensions["idp.accounts"], sessions, app.extensions["idp.totp"])
    app.extensions["idp.mailer"] = Mailer(values["IDP_SMTP_URL"], values["IDP_MAIL_FROM"])


def _register_commands(app) -> None:
    """The wings' command groups under ``idp`` (``serve`` is on the group itself, in :mod:`idp.cli`)."""
    from .accounts.cli import accounts_cli
    from .accounts.upstream.cli import upstreams_cli
    from .demo import demo_cli
    from .retention import purge_command
    from .oidc.cli import clients_cli, deliveries_cli, keys_cli

    for command in (accounts_cli, upstreams_cli, demo_cli, clients_cli, keys_cli, deliveries_cli, purge_command):
        if command.name not in app.cli.commands:  # a wing's richer group of the same name (admin) stays
            app.cli.add_command(command)


def _register_blueprints(app) -> None:
    from .accounts import passkey_views, second_factor, views  # noqa: F401  (they add routes to the accounts blueprint)
    from .accounts.navigation import bp as accounts_bp
    from .health import bp as health_bp

    app.register_blueprint(health_bp)
    from .accounts import purges
    purges.init_app(app)
    app.register_blueprint(accounts_bp)
    from .oidc import init_app as init_oidc
    init_oidc(app)
    # -- further areas register here, one line each --
    from .accounts.certificates import init_app as init_certificates
    init_certificates(app)
    from .accounts.upstream import init_app as init_upstreams
    init_upstreams(app)
    from .admin import init_app as init_admin
    init_admin(app)
