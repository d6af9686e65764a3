"""Administration: the console under /admin/ (:mod:`.console`), the REST API under /admin/api/v1/
(:mod:`.api`), CLI additions (:mod:`.cli`, :mod:`.client_cli`).

Console, API and CLI all go through the same rule modules here (accounts, units, roles, clients, keys,
trust, audit, importing), which check the actor's reach (:mod:`idp.admin.authz`) before any change.
Both web faces have one module per resource beside these rules.
"""
from __future__ import annotations


def init_app(app) -> None:
    from . import api, cli, console, models, search  # noqa: F401  (models and the name-key listener register here)
    api.init_app(app)
    console.init_app(app)
    cli.register(app)
