"""Upstream identity providers: MotID as an OpenID Connect relying party towards the national e-ID
(VNeID), the national public-service portal's SSO (DVCQG), any OpenID provider, and Zalo (OAuth 2).

What a login view calls (the view itself, account creation and linking live elsewhere):

- :func:`idp.accounts.upstream.flow.begin` ``(provider, next_url, acr_values=None) -> str``: the
  authorization URL to redirect the browser to;
- :func:`idp.accounts.upstream.flow.finish` ``(provider, args) -> UpstreamIdentity``: the callback; raises
  an :class:`idp.accounts.upstream.errors.UpstreamError` subclass, never returns a half-built identity.

Providers are kept by :class:`idp.accounts.upstream.registry.UpstreamRegistry` (``idp upstreams …``).
"""
from __future__ import annotations


def init_app(app) -> None:
    """Wire the upstream logins to the application: their models, their pages (and the login page's
    buttons), logout to and from the upstream, and the purges of the worker's housekeeping. Called by :func:`idp.create_app`."""
    from ...extensions import csrf
    from ... import retention
    from . import logout, models  # noqa: F401  (the tables are part of the application's metadata)
    from .buttons import login_buttons
    from .pending import purge
    from .views import backchannel_logout, bp
    retention.job(app, purge, logout.purge)
    csrf.exempt(backchannel_logout)  # the upstream posts it, server to server (Back-Channel Logout §2.5)
    app.register_blueprint(bp)
    # The OpenID Provider's end-session endpoint asks, after MotID's logout, whether to go on upstream.
    app.extensions["idp.upstream_logout"] = logout.end_session_url
    app.context_processor(lambda: {"upstream_buttons": login_buttons})
