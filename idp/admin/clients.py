"""Applications (OIDC clients) as administrators see them: registration, metadata, the secret
(shown once), first-party status, allowed scopes, PKCE, required assurance, token lifetimes,
logout URIs, and the consents people gave them."""
from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from .. import events
from ..accounts import assurance
from ..accounts.models import Account
from ..clock import now
from ..db import db
from ..oidc.clients import ADMIN_SCOPES, ADMIN_SETTINGS, InvalidClientMetadata
from ..oidc.grants.authorization_code import revoke_grant
from ..oidc.models import Client, Consent, Grant
from .authz import Actor, refuse, require

LIFETIMES = {"access_token_lifetime": "IDP_ACCESS_TOKEN_SECONDS", "id_token_lifetime": "IDP_ID_TOKEN_SECONDS",
             "refresh_token_lifetime": "IDP_REFRESH_TOKEN_SECONDS"}
COLUMNS = ("first_party", "require_pkce")
NOT_FOUND = _l("There is no such application.")
PRIVILEGED_ONLY = _l("Only the province administrator changes an application that has admin scopes or is "
                     "first-party.")


def service():
    return current_app.extensions["idp.clients"]


def represent(client: Client) -> dict:
    return {"client_id": client.client_id, "metadata": dict(client.meta), "first_party": client.first_party,
            "require_pkce": client.require_pkce, "dynamic": client.dynamic, "has_secret": client.secret is not None,
            "created_at": client.created_at.isoformat(), "updated_at": client.updated_at.isoformat()}


def listing(actor: Actor) -> list[Client]:
    require(actor, "clients.read", "client.list")
    return list(db.session.scalars(select(Client).order_by(Client.id)))


def get(actor: Actor, client_id: str, *, write: bool = False) -> Client:
    action = "client.update" if write else "client.read"
    require(actor, "clients.write" if write else "clients.read", action)
    client = service().get(client_id)
    if client is None:
        raise refuse(actor, action, "not_found", NOT_FOUND, status=404, target=client_id)
    return client


def _admin_settings(actor: Actor, changes: dict, action: str) -> dict:
    """Check the administrator-only settings; None removes one."""
    errors, out = {}, {}
    for key in ADMIN_SETTINGS:
        if key not in changes:
            continue
        value = changes[key]
        if value is None or value == "" or value == []:
            out[key] = None
        elif key == "default_acr_values":
            if not (isinstance(value, list) and value and all(v in assurance.LEVELS for v in value)):
                errors[key] = "client.acr"
            out[key] = value
        elif key == "introspection_allowed":
            if not isinstance(value, bool):
                errors[key] = "field.invalid"
            out[key] = value
        else:
            limit = current_app.config[LIFETIMES[key]]
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
                errors[key] = "client.lifetime"
            out[key] = value
    for key in COLUMNS:
        if key in changes and not isinstance(changes[key], bool):
            errors[key] = "field.invalid"
    if errors:
        raise refuse(actor, action, "invalid_input", _l("Some fields are not valid."), status=422, fields=errors)
    return out


def privileges(scope, first_party) -> list[str]:
    """Why an application with this scope and first-party flag is privileged: an admin:* scope lets it
    administer MotID, first-party lets it skip the consent page. Empty for an ordinary application."""
    why = ["admin_scope"] if set(str(scope or "").split()) & set(ADMIN_SCOPES) else []
    return why + (["first_party"] if first_party else [])


def privileges_of(client: Client) -> list[str]:
    return privileges(client.meta.get("scope"), client.first_party)


def _privileged(why: list[str]) -> dict:
    """For an event's details: changes to privileged applications can be found (``privileged``)."""
    return {"privileged": why} if why else {}


def _require_privileged(actor: Actor, action: str, target: str | None, why: list[str]) -> None:
    """The one rule for privileged applications (``clients.privileged``, see authz): console, API and CLI
    all pass here before changing, creating or deleting one."""
    if why and not actor.can("clients.privileged"):
        raise refuse(actor, action, "higher_role", PRIVILEGED_ONLY, target=target, extra={"privileged": why})


def _metadata_refused(actor: Actor, action: str, exc: InvalidClientMetadata):
    return refuse(actor, action, "invalid_input", exc.description, status=422, fields={"metadata": exc.error})


def create(actor: Actor, data: dict) -> tuple[Client, str | None]:
    action = "client.create"
    require(actor, "clients.write", action)
    why = privileges(data.get("scope"), data.get("first_party"))
    _require_privileged(actor, action, None, why)
    settings = _admin_settings(actor, data, action)
    meta = {k: v for k, v in data.items() if k not in COLUMNS and k not in ADMIN_SETTINGS}
    meta.update({k: v for k, v in settings.items() if v is not None})
    try:
        client, secret = service().create(meta, first_party=bool(data.get("first_party")),
                                          require_pkce=bool(data.get("require_pkce")))
    except InvalidClientMetadata as exc:
        raise _metadata_refused(actor, action, exc) from None
    events.record("admin:client:create", actor=actor.account_id,
                  details={"client_id": client.client_id, **_privileged(why), **actor.via()}, now=now())
    db.session.commit()
    return client, secret


def update(actor: Actor, client: Client, changes: dict) -> Client:
    """Change some metadata (None removes a field) and settings; all checked before anything is kept."""
    action = "client.update"
    require(actor, "clients.write", action)
    became = privileges(changes.get("scope", client.meta.get("scope")),
                        changes.get("first_party", client.first_party))
    why = sorted(set(privileges_of(client)) | set(became))
    _require_privileged(actor, action, client.client_id, why)
    settings = _admin_settings(actor, changes, action)
    meta_changes = {k: v for k, v in changes.items() if k not in COLUMNS and k not in ADMIN_SETTINGS}
    if "client_id" in meta_changes or "client_secret" in meta_changes:
        raise refuse(actor, action, "invalid_input", _l("Some fields cannot be changed here."), status=422,
                     fields={"client_id": "field.read_only"})
    meta = {**client.meta, **meta_changes, **settings}
    meta = {k: v for k, v in meta.items() if v is not None}
    for key in COLUMNS:
        if key in changes:
            setattr(client, key, changes[key])
    ended_registration = bool(became and client.registration_token)
    if ended_registration:
        # A privileged application is managed by the province administrator alone: its registration
        # access token (RFC 7592) would let whoever holds it change its redirect URIs and keys.
        client.registration_token = None
    try:
        service().update(client, meta)
    except InvalidClientMetadata as exc:
        raise _metadata_refused(actor, action, exc) from None
    events.record("admin:client:update", actor=actor.account_id,
                  details={"client_id": client.client_id, "fields": sorted(changes)[:40], **_privileged(why),
                           **({"registration_ended": True} if ended_registration else {}), **actor.via()},
                  now=now())
    db.session.commit()
    return client


def rotate_secret(actor: Actor, client: Client) -> str:
    action = "client.rotate_secret"
    require(actor, "clients.write", action)
    why = privileges_of(client)
    _require_privileged(actor, action, client.client_id, why)
    if client.meta.get("token_endpoint_auth_method") in ("none", "private_key_jwt"):
        raise refuse(actor, action, "no_secret", _l("This application authenticates without a secret."),
                     status=409, target=client.client_id)
    secret = service().rotate_secret(client)
    events.record("admin:client:rotate_secret", actor=actor.account_id,
                  details={"client_id": client.client_id, **_privileged(why), **actor.via()}, now=now())
    db.session.commit()
    return secret


def delete(actor: Actor, client: Client) -> None:
    """Delete an application; its grants and consents end with it (one transaction with the event)."""
    action = "client.delete"
    require(actor, "clients.write", action)
    why = privileges_of(client)
    _require_privileged(actor, action, client.client_id, why)
    events.record("admin:client:delete", actor=actor.account_id,
                  details={"client_id": client.client_id, **_privileged(why), **actor.via()}, now=now())
    service().delete(client)


def consents(actor: Actor, client: Client, *, limit: int = 50, after: int | None = None):
    require(actor, "clients.read", "client.consents")
    stmt = (select(Consent, Account).join(Account, Account.id == Consent.account_id)
            .where(Consent.client_id == client.client_id).order_by(Consent.id.desc()).limit(limit + 1))
    if after is not None:
        stmt = stmt.where(Consent.id < after)
    rows = db.session.execute(stmt).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [{"id": consent.id, "sub": account.sub, "scopes": consent.scopes,
              "granted_at": consent.granted_at.isoformat(),
              "name": account.display_name if actor.sees_personal_data(account) else None}
             for consent, account in rows]
    return items, (rows[-1][0].id if more and rows else None)


def revoke_consent(actor: Actor, client: Client, sub: str) -> None:
    """Withdraw a person's consent on their behalf; everything issued from it ends (as at /account/consents)."""
    action = "client.revoke_consent"
    require(actor, "clients.write", action)
    row = db.session.execute(select(Consent, Account).join(Account, Account.id == Consent.account_id)
                             .where(Consent.client_id == client.client_id, Account.sub == str(sub)[:64])).first()
    if row is None:
        raise refuse(actor, action, "not_found", _l("This person has not consented to this application."),
                     status=404, target=sub)
    consent, account = row
    moment = now()
    db.session.delete(consent)
    for grant_id in db.session.scalars(select(Grant.id).where(Grant.account_id == account.id,
                                                              Grant.client_id == client.client_id,
                                                              Grant.revoked_at.is_(None))):
        revoke_grant(grant_id, "consent_revoked_by_admin", moment)
    events.record("admin:consent:revoke", subject=account, actor=actor.account_id,
                  details={"client_id": client.client_id}, now=moment)
    db.session.commit()
