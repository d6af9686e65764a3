"""The administration console: server-rendered pages under ``/admin/``, one module per resource.

Only for administrators whose session reached assurance level 2 (:mod:`.hooks`). Pages show only
what the actor may do, and every action is checked again by the rule modules, which record each
refusal. Every module adds its routes to the one blueprint (:mod:`.blueprint`, imported by all of
them, importing none); importing them here is what registers the routes.
"""
from __future__ import annotations

from . import accounts, audit, clients, exchange, home, hooks, importing, keys, roles, trust, units, upstreams
from .blueprint import bp

# Imported for the routes and hooks they add to bp; listed so that no import looks unused.
PAGES = (hooks, home, accounts, importing, units, roles, clients, exchange, keys, trust, upstreams, audit)


def init_app(app) -> None:
    app.register_blueprint(bp)
