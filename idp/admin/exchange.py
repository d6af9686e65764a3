"""The services an application may obtain tokens for, and with which scopes at most: the table that
token exchange (RFC 8693) and resource indicators (RFC 8707) read (:mod:`idp.oidc.resources`).

The console, the API and the CLI call these rules; every change and every refusal is audited
(``admin:client:exchange_allow`` / ``exchange_deny``). A rule with an admin scope, or on a privileged
application, is the province administrator's (the same rule as for the application itself).
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import events
from ..clock import now
from ..db import db
from ..oidc.clients import SCOPES
from ..oidc.models import Client, ExchangePolicy
from ..oidc.resources import MAX_LENGTH
from .authz import Actor, refuse, require
from .clients import _privileged, _require_privileged, privileges, privileges_of

NO_RULE = _l("This application has no rule for this service.")


def represent(rule: ExchangePolicy) -> dict:
    return {"audience": rule.audience, "scope": rule.scope, "created_at": rule.created_at.isoformat(),
            "updated_at": rule.updated_at.isoformat()}


def rules(actor: Actor, client: Client) -> list[ExchangePolicy]:
    require(actor, "clients.read", "client.exchange_list")
    return list(db.session.scalars(select(ExchangePolicy).where(ExchangePolicy.client_id == client.client_id)
                                   .order_by(ExchangePolicy.audience)))


def _checked(actor: Actor, action: str, audience, scope) -> tuple[str, str]:
    errors = {}
    if not isinstance(audience, str) or not audience or len(audience) > MAX_LENGTH or not audience.isascii() \
            or not audience.isprintable() or " " in audience:
        errors["audience"] = "exchange.audience"
    scopes = scope.split() if isinstance(scope, str) else []
    if not scopes or not set(scopes) <= set(SCOPES):
        errors["scope"] = "exchange.scope"
    if errors:
        raise refuse(actor, action, "invalid_input", _l("Some fields are not valid."), status=422, fields=errors)
    return audience, " ".join(dict.fromkeys(scopes))


def _find(client: Client, audience) -> ExchangePolicy | None:
    return db.session.scalars(select(ExchangePolicy).where(ExchangePolicy.client_id == client.client_id,
                                                           ExchangePolicy.audience == str(audience))).first()


def allow(actor: Actor, client: Client, audience, scope) -> ExchangePolicy:
    """Let ``client`` obtain tokens for ``audience`` with at most ``scope`` (a new rule, or a changed one)."""
    action = "client.exchange_allow"
    require(actor, "clients.write", action)
    audience, scope = _checked(actor, action, audience, scope)
    why = sorted(set(privileges_of(client)) | set(privileges(scope, False)))
    _require_privileged(actor, action, client.client_id, why)
    moment = now()
    rule = _find(client, audience)
    if rule is None:
        rule = ExchangePolicy(client_id=client.client_id, audience=audience, created_at=moment)
        db.session.add(rule)
    rule.scope, rule.updated_at = scope, moment
    events.record("admin:client:exchange_allow", actor=actor.account_id,
                  details={"client_id": client.client_id, "audience": audience[:200], "scope": scope,
                           **_privileged(why), **actor.via()}, now=moment)
    try:
        db.session.commit()
    except IntegrityError:  # the same rule made at the same moment by someone else
        raise refuse(actor, action, "conflict", _l("Someone changed this rule at the same time. Try again."),
                     status=409, target=client.client_id) from None
    return rule


def deny(actor: Actor, client: Client, audience) -> None:
    """Remove ``client``'s rule for ``audience``: no new token for that service (issued ones run out)."""
    action = "client.exchange_deny"
    require(actor, "clients.write", action)
    why = privileges_of(client)
    _require_privileged(actor, action, client.client_id, why)
    rule = _find(client, audience)
    if rule is None:
        raise refuse(actor, action, "not_found", NO_RULE, status=404, target=client.client_id)
    db.session.delete(rule)
    events.record("admin:client:exchange_deny", actor=actor.account_id,
                  details={"client_id": client.client_id, "audience": rule.audience[:200], **_privileged(why),
                           **actor.via()}, now=now())
    db.session.commit()
