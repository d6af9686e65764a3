"""Pushed authorization requests (RFC 9126) once pushed: stored, consumed, carried, finished.

§2.2: the ``request_uri`` is ``urn:ietf:params:oauth:request_uri:`` and 256 random bits, stored only as a
digest, valid for ``LIFETIME`` seconds. §4: at the authorization endpoint only ``client_id`` and
``request_uri`` count; the request is consumed by one conditional UPDATE, and only by the client that
pushed it. The parameters stay on the server: what travels through the login and consent pages is a
signed reference to the consumed row (kept ``CARRY_SECONDS`` more), so what was pushed never reaches the
front channel; the row is deleted, once, by one conditional DELETE when the code is issued.
"""
from __future__ import annotations

import secrets
from datetime import timedelta

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc9101.errors import InvalidRequestUriError
from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import bindparam, delete, select, update

from ..clock import now
from ..db import db
from ..security import digest
from .interaction import DECISION, RESUME, SHOWN
from .models import PushedRequest

URN_PREFIX = "urn:ietf:params:oauth:request_uri:"
LIFETIME = 90  # §2.2: short; long enough for the client to redirect the browser
CARRY = "_motid_par"  # the signed reference to the consumed request, while the person logs in and consents
CARRY_SECONDS = 3600  # as long as the login detour's resume marker (interaction.RESUME) stays valid
# The parameters of the interaction itself, which keep travelling beside the pushed request.
INTERACTION = (RESUME, DECISION, SHOWN, "csrf_token")

TABLE = PushedRequest.__table__
CONSUME = (update(TABLE)
           .where(TABLE.c.digest == bindparam("key"), TABLE.c.client_id == bindparam("client"),
                  TABLE.c.used_at.is_(None), TABLE.c.expires_at > bindparam("moment"))
           .values(used_at=bindparam("moment"), expires_at=bindparam("carry_until"))
           .returning(TABLE.c.params))
CONSUMED = (TABLE.c.digest == bindparam("key"), TABLE.c.client_id == bindparam("client"),
            TABLE.c.used_at.is_not(None), TABLE.c.expires_at > bindparam("moment"))
CARRIED = select(TABLE.c.params).where(*CONSUMED)
FINISH = delete(TABLE).where(*CONSUMED)


def store(client_id: str, params: dict) -> str:
    request_uri = URN_PREFIX + secrets.token_urlsafe(32)
    moment = now()
    db.session.add(PushedRequest(digest=digest(request_uri), client_id=client_id, params=params,
                                 created_at=moment, expires_at=moment + timedelta(seconds=LIFETIME)))
    db.session.commit()
    return request_uri


def is_pushed(request_uri) -> bool:
    return isinstance(request_uri, str) and request_uri.startswith(URN_PREFIX)


def consume(client, request_uri: str, redirect_uri) -> dict:
    """§4: the pushed parameters, once, for the client that pushed them (one atomic statement), which keeps
    the row for the rest of this authorization."""
    moment = now()
    params = db.session.execute(CONSUME, {"key": digest(request_uri), "client": client.client_id, "moment": moment,
                                          "carry_until": moment + timedelta(seconds=CARRY_SECONDS)}
                                ).scalar_one_or_none()
    db.session.commit()
    if not isinstance(params, dict):
        raise InvalidRequestUriError("The request_uri is unknown, expired, already used or not this client's.",
                                     redirect_uri=redirect_uri)
    return params


def required(client) -> bool:
    """RFC 9126 §5 and §6: the server's setting, or the client's registered metadata."""
    return bool(current_app.config["IDP_REQUIRE_PAR"] or client.meta.get("require_pushed_authorization_requests"))


def _serializer():
    return URLSafeTimedSerializer(current_app.secret_key, salt="motid-par-carried")


def carried_key(value, client, redirect_uri) -> str:
    """The key of the consumed request a signed reference names, for this client only."""
    try:
        data = _serializer().loads(value, max_age=CARRY_SECONDS)
    except (BadSignature, TypeError, ValueError):
        data = None
    if not isinstance(data, dict) or data.get("client_id") != client.client_id or not isinstance(data.get("key"), str):
        raise InvalidRequestUriError("The pushed authorization request is no longer valid.", redirect_uri=redirect_uri)
    return data["key"]


def carried(value, client, redirect_uri) -> dict:
    """The parameters of a consumed request carried through login and consent, while it is not finished."""
    params = db.session.execute(CARRIED, {"key": carried_key(value, client, redirect_uri), "client": client.client_id,
                                          "moment": now()}).scalar_one_or_none()
    if not isinstance(params, dict):
        raise InvalidRequestUriError("The pushed authorization request was used or has expired.",
                                     redirect_uri=redirect_uri)
    return params


def resolve(client, raw: dict, datalist: dict, redirect_uri) -> tuple[dict, dict, dict]:
    """The request in force at the authorization endpoint, as ``(outer, params, datalist)``: ``outer`` is
    what travels through login and consent. A pushed request (by its ``request_uri`` or carried) replaces
    every other parameter (§4); without one, a client that must push is refused (§6)."""
    request_uri = raw.get("request_uri")
    if is_pushed(request_uri):
        params = consume(client, request_uri, redirect_uri)
        value = _serializer().dumps({"client_id": client.client_id, "key": digest(request_uri)})
    elif CARRY in raw:
        value = raw[CARRY]
        params = carried(value, client, redirect_uri)
    elif required(client):
        raise InvalidRequestError("This client must use a pushed authorization request (RFC 9126).",
                                  redirect_uri=redirect_uri)
    else:
        return raw, raw, datalist
    outer = {key: raw[key] for key in INTERACTION if key in raw}
    outer.update({"client_id": client.client_id, CARRY: value})
    return outer, params, {key: [item] for key, item in params.items()}


def finish(outer: dict, client, redirect_uri) -> None:
    """When the code is issued: a pushed request serves one authorization only (one conditional DELETE)."""
    if CARRY not in outer:
        return
    key = carried_key(outer[CARRY], client, redirect_uri)
    deleted = db.session.execute(FINISH, {"key": key, "client": client.client_id, "moment": now()}).rowcount
    db.session.commit()
    if deleted != 1:
        raise InvalidRequestUriError("The pushed authorization request was used before.", redirect_uri=redirect_uri)


def purge_expired(moment) -> int:
    """Delete pushed requests past their lifetime, used or not (the worker's housekeeping)."""
    deleted = db.session.execute(TABLE.delete().where(TABLE.c.expires_at <= moment)).rowcount
    db.session.commit()
    return deleted
