"""The login page's upstream buttons: each enabled provider in ``position`` order, VNeID first and
most prominent (issue 14), as plain links that keep where the login was going."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy.exc import SQLAlchemyError

from ...db import db
from .registry import UpstreamRegistry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Button:
    url: str
    label: str
    primary: bool


def login_buttons(next_url: str | None) -> list[Button]:
    """Called by the login template; ``next_url`` (the page's own ``next``) is checked again at the start.
    With the database unreachable the page still shows, without buttons: submitting it answers 503."""
    try:
        enabled = UpstreamRegistry.from_app().list(enabled_only=True)
    except SQLAlchemyError as exc:
        log.error("login page without upstream buttons: %s", type(exc).__name__)
        db.session.rollback()
        return []
    providers = sorted(enabled, key=lambda p: p.profile != "vneid")
    return [Button(url_for("upstream.start", name=p.name, next=next_url),
                   _("Log in with VNeID") if p.profile == "vneid" else _("Log in with %(name)s", name=p.display_name),
                   p.profile == "vneid")
            for p in providers]


def linkable(linked: set[str]) -> list:
    """Providers the security page offers to link (enabled, not linked yet)."""
    return [p for p in UpstreamRegistry.from_app().list(enabled_only=True) if p.name not in linked]
