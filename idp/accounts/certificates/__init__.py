"""Digital-signature certificates: bind one to an account, log in with it at level 3 (``docs/certificates.md``).

``service`` binds and logs in (proof of possession in ``possession``), ``validation`` judges a
certificate against ``trust_store`` and ``revocation_status`` (OCSP, CRLs), ``identity`` reads who
it names, ``proxy`` reads the TLS client certificate nginx forwards; ``views`` and ``cli`` are the
pages and commands, ``models`` the tables. This module only wires them into the application.
"""
from __future__ import annotations

import os


def init_app(app) -> None:
    """Services, pages, rate limits and commands for certificates (one line in ``create_app``)."""
    from ...limits import setting
    from ... import retention
    from ...worker import housekeeping
    from . import cli, views
    from .revocation_status import RevocationChecker
    from .service import CertificateService
    from .trust_store import TrustStore
    from .validation import CertificateValidator

    trust = app.extensions["idp.trust"] = TrustStore(os.path.join(app.config["IDP_KEYS_PATH"], "trust"),
                                                     app.extensions.get("idp.versions"))
    validator = CertificateValidator(trust, RevocationChecker(trust, app.config), app.config)
    app.extensions["idp.certificates"] = CertificateService(validator, app.config)
    app.register_blueprint(views.bp)
    limiter = app.extensions["idp.limiter"]
    for endpoint in ("certificates.login", "certificates.login_tls", "certificates.manage"):
        app.view_functions[endpoint] = limiter.limit(setting("IDP_LOGIN_LIMIT_PER_IP"), methods=["POST"])(
            app.view_functions[endpoint])
    cli.register(app)
    # Run by ``idp worker`` every IDP_HOUSEKEEPING_SECONDS: expiry warnings go out without a cron job.
    housekeeping(app, cli.send_expiry_warnings)
    retention.job(app, cli.purge_records)
