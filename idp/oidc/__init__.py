"""The OpenID Connect provider: one module per endpoint or grant, named after its specification.

Only this package imports Authlib's server classes; it may import ``idp.accounts``, never the reverse.
"""
from __future__ import annotations


def init_app(app) -> None:
    """Register the protocol endpoints and wire the wing to the rest (called by :func:`idp.create_app`)."""
    from ..extensions import csrf
    from .. import retention
    from ..limits import apply as apply_limits
    from ..worker import every_round
    from . import device, device_views, logout, purges, registration, revocation
    from .client_auth import purge_spent_jtis
    from . import views as oidc_views
    from .. import metrics
    from .delivery import deliver_due, outbox_depth
    from .end_session import logged_out_page
    from .pushed_requests import purge_expired as purge_pushed_requests

    # Protocol endpoints are called by other sites; CSRF on them is the protocol's business
    # (the consent decision checks its own token).
    for view in (oidc_views.authorize, oidc_views.par, oidc_views.token, oidc_views.userinfo, oidc_views.introspect,
                 oidc_views.revoke, oidc_views.end_session, device_views.authorize):
        csrf.exempt(view)
    app.register_blueprint(oidc_views.bp)
    app.register_blueprint(device_views.bp)
    apply_limits(app, device_views.LIMITS)
    retention.job(app, device.purge)
    registration.init_app(app)
    purges.init_app(app)
    logout.init_app(app)
    revocation.init_app(app)
    retention.job(app, purge_spent_jtis)  # client assertions, request objects and DPoP proofs
    retention.job(app, purge_pushed_requests)
    every_round(app, deliver_due)  # after the sessions sweep (registered first): the sessions it ends are told
    app.extensions["idp.logged_out_page"] = logged_out_page
    metrics.gauge_source("backchannel_outbox_pending", "Back-channel logouts waiting to be delivered.", outbox_depth)

