"""Device code grant at the token endpoint (RFC 8628 §3.4, §3.5).

- ``authorization_pending`` until the person decides; ``slow_down`` when the device polls sooner than
  its interval after its last poll, and the interval, stored with the request, grows by 5 seconds;
  ``access_denied`` after a denial, on every later poll; ``expired_token`` after ``expires_in``.
- An approved device code is redeemed by one conditional UPDATE. As with authorization codes, the
  winner's row lock is held until its grant and tokens are committed with the spent code, so a
  concurrent or later second use waits, finds the code spent, gets ``invalid_grant`` and revokes the
  grant the first use produced (a device code presented twice has leaked).
- A device code is bound to its client: another client's poll is ``invalid_grant`` and changes nothing.
- The tokens carry the approving session's ``sid``, ``auth_time``, ``acr`` and ``amr``.
"""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from authlib.oauth2.rfc6749.errors import (AccessDeniedError, InvalidGrantError, InvalidRequestError,
                                           UnauthorizedClientError)
from authlib.oauth2.rfc8628 import DeviceCodeGrant as BaseDeviceCodeGrant
from authlib.oauth2.rfc8628.errors import AuthorizationPendingError, ExpiredTokenError, SlowDownError
from flask import current_app
from sqlalchemy import bindparam, select, update

from ...accounts.models import Account
from ...clock import now
from ...db import db
from ...security import digest
from ..clients import AUTH_METHODS, DEVICE_CODE
from ..device import refuse_repeated
from ..mtls import binding_for
from ..models import DeviceAuthorization, Grant, new_handle
from .family import revoke_grant

ROWS, GRANTS, ACCOUNTS = DeviceAuthorization.__table__.c, Grant.__table__.c, Account.__table__.c
LOOKUP = select(ROWS.id, ROWS.client_id, ROWS.decision, ROWS.used_at, ROWS.expires_at, ROWS.interval,
                ROWS.last_polled_at).where(ROWS.device_digest == bindparam("presented"))
CONSUME = (update(DeviceAuthorization.__table__)
           .where(ROWS.id == bindparam("row"), ROWS.decision == "allow", ROWS.used_at.is_(None),
                  ROWS.expires_at > bindparam("moment"))
           .values(used_at=bindparam("moment"))
           .returning(ROWS.account_id, ROWS.sid, ROWS.scope, ROWS.claims, ROWS.auth_time, ROWS.acr, ROWS.amr))
SPENT_GRANT = select(ROWS.grant_id).where(ROWS.id == bindparam("row"))
ACCOUNT = select(ACCOUNTS.id, ACCOUNTS.sub, ACCOUNTS.status).where(ACCOUNTS.id == bindparam("account"))
NEW_GRANT = Grant.__table__.insert().returning(GRANTS.id)
LINK = update(DeviceAuthorization.__table__).where(ROWS.id == bindparam("row")).values(grant_id=bindparam("grant"))
INVALID = "The device code is not valid."


class DeviceCodeGrant(BaseDeviceCodeGrant):
    GRANT_TYPE = DEVICE_CODE
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)

    def validate_token_request(self):
        refuse_repeated(self.request, ("client_id", "device_code"))
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(DEVICE_CODE):
            raise UnauthorizedClientError("This client is not registered for the device code grant.")
        device_code = self.request.form.get("device_code")
        if not device_code:
            raise InvalidRequestError("Missing 'device_code' in request.")
        if not isinstance(device_code, str) or len(device_code) > 200:
            raise InvalidGrantError(INVALID)
        self.request.client = client
        self.approved = self._poll(client, digest(device_code))

    def _poll(self, client, presented: str):
        """The approved request, consumed; or the RFC 8628 §3.5 error this poll gets."""
        moment = now()
        connection = db.session.connection()
        row = connection.execute(LOOKUP, {"presented": presented}).first()
        if row is None or row.client_id != client.client_id:
            db.session.rollback()
            raise InvalidGrantError(INVALID)
        if row.used_at is not None:
            self._replayed(row.id, moment)
        if row.expires_at <= moment:
            db.session.rollback()
            raise ExpiredTokenError("The device code has expired.")
        if row.decision == "deny":
            db.session.rollback()
            raise AccessDeniedError("The person denied the request.")
        if row.decision == "allow":
            approved = connection.execute(CONSUME, {"row": row.id, "moment": moment}).first()
            if approved is None:  # another poll redeemed it first (its transaction is committed now)
                self._replayed(row.id, moment)
            return SimpleNamespace(row_id=row.id, **approved._asdict())
        self._pending(row, moment)

    @staticmethod
    def _pending(row, moment) -> None:
        """Record this poll; too soon after the previous one, add 5 seconds to the interval (§3.5).
        Compare-and-set on the previous poll's time: of two polls at once, one is too soon."""
        too_soon = row.last_polled_at is not None and moment < row.last_polled_at + timedelta(seconds=row.interval)
        same_poll = (ROWS.last_polled_at.is_(None) if row.last_polled_at is None
                     else ROWS.last_polled_at == row.last_polled_at)
        changed = db.session.execute(
            update(DeviceAuthorization.__table__).where(ROWS.id == row.id, ROWS.decision.is_(None), same_poll)
            .values(last_polled_at=moment, interval=ROWS.interval + 5 if too_soon else ROWS.interval)).rowcount
        if changed != 1 and not too_soon:  # a concurrent poll: this one is too soon after it
            db.session.execute(update(DeviceAuthorization.__table__).where(ROWS.id == row.id)
                               .values(interval=ROWS.interval + 5))
            too_soon = True
        db.session.commit()
        if too_soon:
            raise SlowDownError("Polling too fast: wait 5 seconds more between requests.")
        raise AuthorizationPendingError("The person has not decided yet.")

    @staticmethod
    def _replayed(row_id, moment) -> None:
        grant_id = db.session.execute(SPENT_GRANT, {"row": row_id}).scalar()
        revoke_grant(grant_id, "device_code_replay", moment)
        db.session.commit()
        raise InvalidGrantError(INVALID)

    def create_token_response(self):
        """The grant, its tokens and the request's ``grant_id`` are committed with the spent device code."""
        client, approved = self.request.client, self.approved
        connection = db.session.connection()
        account = connection.execute(ACCOUNT, {"account": approved.account_id}).first()
        if account is None or account.status == "disabled":
            db.session.commit()
            raise InvalidGrantError("The account behind this device code is not available.")
        moment = now()
        values = {"handle": new_handle(), "client_id": client.client_id, "account_id": account.id,
                  "sid": approved.sid, "scope": approved.scope, "claims": approved.claims,
                  "auth_time": approved.auth_time, "acr": approved.acr, "amr": approved.amr, "created_at": moment,
                  "cnf_x5t": binding_for(client, approved.sid)}
        grant_id = connection.execute(NEW_GRANT, values).scalar_one()
        connection.execute(LINK, {"row": approved.row_id, "grant": grant_id})
        grant = SimpleNamespace(id=grant_id, **values)
        scopes = approved.scope.split()
        body = current_app.extensions["idp.tokens"].response(
            client, grant, now=moment, id_token="openid" in scopes, sub=account.sub,
            refresh=client.check_grant_type("refresh_token") and (
                "offline_access" in scopes or client.meta.get("refresh_token_online") is True))
        db.session.commit()
        return 200, body, self.TOKEN_RESPONSE_HEADER
