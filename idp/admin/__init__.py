"""Administration: the console under /admin/, the REST API under /admin/api/v1/, CLI additions.

Views, API and CLI all go through the same rule modules (accounts, units, roles, clients, keys,
trust, audit, importing), which check the actor's reach (:mod:`idp.admin.authz`) before any change.
"""
from __future__ import annotations


def init_app(app) -> None:
    from . import api, cli, models, search, views  # noqa: F401  (models and the name-key listener register here)
    api.init_app(app)
    views.init_app(app)
    cli.register(app)
