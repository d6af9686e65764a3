"""Signing keys in the console and API: list with state, rotate (two-phase), retire."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l

from .. import events
from ..clock import now
from ..db import db
from ..keys import ALGORITHMS, SigningKey
from .authz import Actor, refuse, require


def service():
    return current_app.extensions["idp.keys"]


def represent(row: SigningKey, moment) -> dict:
    return {"kid": row.kid, "alg": row.alg, "state": row.state(moment), "created_at": row.created_at.isoformat(),
            "activates_at": row.activates_at.isoformat(),
            "retired_at": row.retired_at.isoformat() if row.retired_at else None,
            "expires_at": row.expires_at.isoformat() if row.expires_at else None}


def listing(actor: Actor) -> list[SigningKey]:
    require(actor, "keys.read", "key.list")
    service().ensure(now())
    return service().list()


def rotate(actor: Actor, alg: str, delay_seconds: int | None = None) -> SigningKey:
    action = "key.rotate"
    require(actor, "keys.write", action)
    if alg not in ALGORITHMS or (delay_seconds is not None and not 0 <= delay_seconds <= 30 * 86400):
        raise refuse(actor, action, "invalid_input", _l("Some fields are not valid."), status=422,
                     fields={"alg": "field.invalid"} if alg not in ALGORITHMS else {"delay": "field.invalid"})
    moment = now()
    row = service().rotate(alg, moment, None if delay_seconds is None else timedelta(seconds=delay_seconds))
    events.record("admin:key:rotate", actor=actor.account_id,
                  details={"kid": row.kid, "alg": alg, "activates_at": row.activates_at.isoformat()}, now=moment)
    db.session.commit()
    return row


def retire(actor: Actor, kid: str) -> SigningKey:
    """Stop signing with a key now. Refused for the only key signing its algorithm: tokens could no
    longer be issued (rotate first, then retire)."""
    action = "key.retire"
    require(actor, "keys.write", action)
    moment = now()
    row = db.session.get(SigningKey, str(kid)[:64])
    if row is None:
        raise refuse(actor, action, "not_found", _l("There is no such key."), status=404, target=kid)
    signing = [k for k in service().list() if k.alg == row.alg and k.state(moment) == "signing" and k.kid != row.kid]
    if row.state(moment) == "signing" and not signing:
        raise refuse(actor, action, "last_signing_key", _l("This is the only key signing with its algorithm. "
                                                           "Rotate first, then retire it."), status=409, target=kid)
    service().retire(row.kid, moment)
    events.record("admin:key:retire", actor=actor.account_id, details={"kid": row.kid, "alg": row.alg}, now=moment)
    db.session.commit()
    return row
