"""Device Authorization Grant (RFC 8628): the device authorization endpoint (§3.1, §3.2), user codes
(§6.1) and the person's decision on the verification page (§3.3).

Kiosks and counter screens of a one-stop centre start the flow here; the person approves on a phone.
Both codes are stored as digests. The user code is 8 letters of RFC 8628 §6.1's alphabet without
vowels and look-alikes (BCDFGHJKLMNPQRSTVWXZ, about 2^34.6 values), shown as XXXX-XXXX and compared
without case or dashes. A decision is recorded by one conditional UPDATE, so a code is approved or
denied once; the token endpoint's redemption (:mod:`.grants.device_code`) is another.
"""
from __future__ import annotations

from datetime import timedelta

from authlib.consts import default_json_headers
from authlib.oauth2.rfc6749.errors import InvalidRequestError, InvalidScopeError, UnauthorizedClientError
from authlib.oauth2.rfc8628 import DeviceAuthorizationEndpoint
from authlib.oauth2.rfc8628.endpoint import create_string_user_code
from flask import current_app, url_for
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..clock import now
from ..db import db
from ..security import digest, new_token
from .claims import InvalidClaimsRequest, parse_claims_parameter, scopes_for_claims
from .clients import AUTH_METHODS, DEVICE_CODE
from .logout import record_sign_in
from .models import DeviceAuthorization

USER_CODE_ALPHABET = frozenset("BCDFGHJKLMNPQRSTVWXZ")
USER_CODE_LENGTH = 8
ROWS = DeviceAuthorization.__table__.c


def normalise_user_code(value) -> str | None:
    """The user code as stored (its 8 letters, upper case), or None when it cannot be one."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    letters = "".join(ch for ch in value.upper() if ch not in "- \t")
    if len(letters) != USER_CODE_LENGTH or not set(letters) <= USER_CODE_ALPHABET:
        return None
    return letters


def user_code_digest(value) -> str | None:
    letters = normalise_user_code(value)
    return digest("user_code:" + letters) if letters else None


def refuse_repeated(request, names) -> None:
    """RFC 6749 §3.2 (and RFC 8628 §3.1, §3.4 after it): parameters MUST NOT be sent more than once."""
    for name in names:
        if len(request.payload.datalist.get(name) or []) > 1:
            raise InvalidRequestError(f"The parameter {name} must not be repeated.")


def verification_uri() -> str:
    return current_app.config["IDP_ISSUER"] + url_for("device.verify")


class DeviceEndpoint(DeviceAuthorizationEndpoint):
    """``POST /device/authorize``: client authentication as at the token endpoint (a public kiosk sends
    only its ``client_id``); the client must be registered for the device code grant."""

    CLIENT_AUTH_METHODS = list(AUTH_METHODS)

    def create_endpoint_response(self, request):
        refuse_repeated(request, ("client_id", "scope", "claims"))
        client = self.authenticate_client(request)
        if not client.check_grant_type(DEVICE_CODE):
            raise UnauthorizedClientError("This client is not registered for the device code grant.")
        scope = request.payload.scope
        if not isinstance(scope, str) or not scope.split():
            raise InvalidScopeError("The scope is required.")
        if not set(scope.split()) <= set(client.meta.get("scope", "").split()):
            raise InvalidScopeError("The requested scope is not allowed for this client.")
        scope = " ".join(dict.fromkeys(scope.split()))
        try:  # OIDC Core §5.5 here too: a kiosk may ask for the person's name in the ID token
            claims = parse_claims_parameter(request.payload.data.get("claims"))
        except InvalidClaimsRequest as exc:
            raise InvalidRequestError(str(exc)) from None
        device_code, user_code = self.save(client.client_id, scope, claims)
        uri = verification_uri()
        body = {"device_code": device_code, "user_code": user_code, "verification_uri": uri,
                "verification_uri_complete": f"{uri}?user_code={user_code}",
                "expires_in": current_app.config["IDP_DEVICE_CODE_SECONDS"],
                "interval": current_app.config["IDP_DEVICE_POLL_SECONDS"]}
        return 200, body, default_json_headers

    def save(self, client_id: str, scope: str, claims: dict | None) -> tuple[str, str]:
        """A new row with fresh codes; a user code that collides with a stored one is drawn again."""
        moment = now()
        for _attempt in range(5):
            device_code, user_code = new_token(32), create_string_user_code()
            db.session.add(DeviceAuthorization(
                device_digest=digest(device_code), user_digest=user_code_digest(user_code), client_id=client_id,
                scope=scope, claims=claims, created_at=moment, interval=current_app.config["IDP_DEVICE_POLL_SECONDS"],
                expires_at=moment + timedelta(seconds=current_app.config["IDP_DEVICE_CODE_SECONDS"])))
            try:
                db.session.commit()
                return device_code, user_code
            except IntegrityError:
                db.session.rollback()
        raise InvalidRequestError("No user code could be allocated; try again.")  # pragma: no cover (~never)


def consented_scopes(row, client) -> set[str]:
    """What the person is asked to allow: the scope, and the scopes of the claims asked for that the
    client may have (as at the authorization endpoint)."""
    allowed = set(client.meta.get("scope", "").split())
    return set(row.scope.split()) | (scopes_for_claims(row.claims) & allowed)


def pending(user_code) -> DeviceAuthorization | None:
    """The live, undecided request behind a user code, or None (unknown, expired, decided: one answer)."""
    code_digest = user_code_digest(user_code)
    if code_digest is None:
        return None
    return db.session.execute(select(DeviceAuthorization).where(
        ROWS.user_digest == code_digest, ROWS.decision.is_(None), ROWS.expires_at > now())).scalar_one_or_none()


def decide(user_code, session, allow: bool) -> DeviceAuthorization | None:
    """Record the person's decision once (one conditional UPDATE); None when the code is no longer
    pending. Approval copies the session's ``sid``, ``auth_time``, ``acr`` and ``amr`` (caller commits)."""
    code_digest = user_code_digest(user_code)
    if code_digest is None:
        return None
    moment = now()
    values = {"decision": "allow" if allow else "deny", "decided_at": moment, "account_id": session.account_id}
    if allow:
        values.update(sid=session.sid, auth_time=session.auth_time, acr=session.acr, amr=session.amr)
    row_id = db.session.execute(
        update(DeviceAuthorization.__table__)
        .where(ROWS.user_digest == code_digest, ROWS.decision.is_(None), ROWS.expires_at > moment)
        .values(**values).returning(ROWS.id)).scalar()
    if row_id is None:
        db.session.rollback()
        return None
    row = db.session.get(DeviceAuthorization, row_id)
    if allow:
        record_sign_in(session.sid, row.client_id, moment)
    return row


def purge(moment) -> int:
    """Forget device authorizations a day after they expired (the worker's housekeeping): until then a
    late poll still gets ``expired_token`` rather than ``invalid_grant``."""
    table = DeviceAuthorization.__table__
    deleted = db.session.execute(table.delete().where(table.c.expires_at <= moment - timedelta(days=1))).rowcount
    db.session.commit()
    return deleted
