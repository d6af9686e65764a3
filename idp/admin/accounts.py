"""Account administration: the rules behind the console, the API and the CLI.

Every method takes the :class:`Actor` first and checks reach before it changes anything;
refusals come back as :class:`Refused` (already recorded). Views only translate.
"""
from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, or_, select

from .. import events
from ..accounts import mails
from ..accounts.identifiers import InvalidIdentifier, normalize_email, normalize_name, normalize_phone
from ..accounts.models import Account, AccountKind, AccountStatus, Passkey, Unit
from ..accounts.services import RESET_PASSWORD, AccountError, NewAccount
from ..clock import now
from ..db import db
from ..events import AuditEvent
from ..mail import issuer_link
from .authz import STAFF_KINDS, Actor, refuse, require

NOT_FOUND = _l("There is no such account, or it is outside your area.")
EDITABLE = ("full_name", "email", "phone", "position", "unit_id", "locale")
CITIZEN_EDITABLE = ("full_name", "email", "phone", "locale")


def accounts():
    return current_app.extensions["idp.accounts"]


def sessions():
    return current_app.extensions["idp.sessions"]


# -- lookups ---------------------------------------------------------------------------------------
def find(actor: Actor, sub: str, *, write: bool = False, action: str = "account.read") -> Account:
    """The account named by ``sub`` if the actor reaches it; otherwise 404, as if it did not exist."""
    require(actor, "accounts.write" if write else "accounts.read", action)
    account = db.session.scalar(select(Account).where(Account.sub == str(sub)[:64]))
    if account is None or not actor.reaches(account):
        reason = "not_found" if account is None else "out_of_scope"
        raise refuse(actor, action, reason, NOT_FOUND, status=404, target=sub)
    if write and not actor.reaches(account, write=True):
        # Visible (e.g. to an auditor, or a peer administrator) but not theirs to change.
        raise refuse(actor, action, "forbidden", _l("You are not allowed to change this account."), target=sub)
    return account


def viewed(actor: Actor, account: Account) -> None:
    """The personal-data law: record who looked at a citizen's or a business's record."""
    if account.kind not in STAFF_KINDS:
        events.record("admin:account:view", subject=account, actor=actor.account_id,
                      details=who(actor, {"masked": not actor.sees_personal_data(account)}), now=now())
        db.session.commit()


def who(actor: Actor, details: dict | None = None) -> dict:
    out = dict(details or {})
    if actor.client_id:
        out["client_id"] = actor.client_id
    return out


def recent_events(actor: Actor, account: Account, limit: int = 20, before: int | None = None) -> list[AuditEvent]:
    """What happened to the account or what it did, newest first (its administrators may see this)."""
    stmt = select(AuditEvent).where(or_(AuditEvent.subject_id == account.id, AuditEvent.actor_id == account.id))
    if before is not None:
        stmt = stmt.where(AuditEvent.id < before)
    return list(db.session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(limit)))


# -- creation ----------------------------------------------------------------------------------------
def unit_for(actor: Actor, unit_id, action: str, field: str = "unit_id") -> Unit:
    unit = db.session.get(Unit, unit_id) if isinstance(unit_id, int) and not isinstance(unit_id, bool) else None
    if unit is None or not actor.reaches_unit(unit.id, write=True):
        raise refuse(actor, action, "unit_out_of_scope", _l("Choose a unit within your area."), status=422,
                     fields={field: "unit.out_of_scope"}, extra={"unit_id": str(unit_id)[:20]})
    if unit.valid_to is not None and unit.valid_to <= now().date():
        raise refuse(actor, action, "unit_closed", _l("This unit no longer exists; choose its successor."),
                     status=422, fields={field: "unit.closed"})
    return unit


def new_officer(data: dict) -> NewAccount:
    return NewAccount(kind=AccountKind.OFFICER.value, full_name=data.get("full_name") or "",
                      citizen_id=data.get("citizen_id") or None, email=data.get("email") or None,
                      phone=data.get("phone") or None, position=data.get("position") or None,
                      unit_id=data.get("unit_id"), password=data.get("password") or None,
                      locale=data.get("locale") or "vi")


def create_officer(actor: Actor, data: dict) -> tuple[Account, bool]:
    """Create one officer in a unit within reach; mail a link to set the password when none is given.

    Returns the account and whether a link was sent."""
    action = "account.create"
    require(actor, "accounts.write", action)
    unit_for(actor, data.get("unit_id"), action)
    try:
        account = accounts().create(new_officer(data), actor=actor.account_id, now=now())
    except AccountError as exc:
        raise refuse(actor, action, "invalid_input", _l("Some fields are not valid."), status=422,
                     fields={exc.field: exc.code}) from None
    sent = False
    if not data.get("password") and account.email:
        sent = send_reset_link(account)
    return account, sent


def send_reset_link(account: Account) -> bool:
    from ..accounts.mails import deliver
    token = accounts().issue_token(account, RESET_PASSWORD, now=now())
    link = issuer_link("accounts.reset_password", token=token)
    return deliver(account.email, *mails.reset_password(account, link))


# -- changes ----------------------------------------------------------------------------------------
def _normalized_change(account: Account, field: str, value):
    if field in ("full_name", "position"):
        return normalize_name(value) if value else (None if field == "position" else normalize_name(""))
    if field == "email":
        return normalize_email(value) if value else None
    if field == "phone":
        return normalize_phone(value) if value else None
    if field == "locale":
        if value not in ("vi", "en"):
            raise InvalidIdentifier("locale.invalid")
        return value
    return value


def update(actor: Actor, account: Account, changes: dict) -> Account:
    """Change some fields at once, or none: every value is checked before anything is written."""
    action = "account.update"
    allowed = EDITABLE if account.kind in STAFF_KINDS else CITIZEN_EDITABLE
    if account.kind not in STAFF_KINDS and not actor.can("accounts.personal"):
        raise refuse(actor, action, "forbidden", _l("Only the province administrator corrects a citizen's record."),
                     target=account.sub)
    unknown = [f for f in changes if f not in allowed]
    if unknown:
        raise refuse(actor, action, "invalid_input", _l("Some fields cannot be changed here."), status=422,
                     fields={f: "field.read_only" for f in unknown}, target=account.sub)
    values, errors = {}, {}
    for field, value in changes.items():
        if field == "unit_id":
            continue
        try:
            values[field] = _normalized_change(account, field, value)
        except InvalidIdentifier as exc:
            errors[field] = str(exc)
    for field in ("email", "phone"):
        value = values.get(field)
        if value and value != getattr(account, field) and db.session.scalar(
                select(Account.id).where(getattr(Account, field) == value, Account.id != account.id)):
            errors[field] = f"{field}.taken"
    if errors:
        raise refuse(actor, action, "invalid_input", _l("Some fields are not valid."), status=422, fields=errors,
                     target=account.sub)
    if "unit_id" in changes and changes["unit_id"] != account.unit_id:
        values["unit_id"] = unit_for(actor, changes["unit_id"], action).id
    before = {f: _plain(getattr(account, f)) for f in values}
    for field, value in values.items():
        setattr(account, field, value)
    if "email" in values and values["email"] != before.get("email"):
        account.email_verified = False
    changed = {f: _plain(v) for f, v in values.items() if _plain(v) != before[f]}
    if changed:
        events.record("admin:account:update", subject=account, actor=actor.account_id,
                      details=who(actor, {"fields": sorted(changed)}), now=now())
    db.session.commit()
    return account


def _plain(value):
    return value if value is None or isinstance(value, (str, int, bool)) else str(value)


def not_self(actor: Actor, account: Account, action: str) -> None:
    if actor.account_id == account.id:
        raise refuse(actor, action, "self", _l("You cannot do this to your own account."), status=409,
                     target=account.sub)


def set_status(actor: Actor, account: Account, what: str) -> Account:
    """disable, enable or unlock; disabling ends every session (applications are told)."""
    action = f"account.{what}"
    if what == "disable":
        not_self(actor, account, action)
    moment = now()
    if what == "unlock" and account.status != AccountStatus.LOCKED.value:
        raise refuse(actor, action, "not_locked", _l("This account is not locked."), status=409, target=account.sub)
    status = AccountStatus.DISABLED if what == "disable" else AccountStatus.ACTIVE
    accounts().set_status(account, status, actor=actor.account_id, now=moment)
    if what == "disable":
        sessions().end_all(account, "admin_disable", now=moment, actor=actor.account_id)
    return account


def force_password_reset(actor: Actor, account: Account) -> bool:
    """The password stops working now, sessions end, and a reset link goes to the person's email
    (as warehouse's admin does). Refused, with nothing changed, when there is no email to send it to."""
    action = "account.password_reset"
    not_self(actor, account, action)
    if not account.email:
        raise refuse(actor, action, "no_email", _l("This account has no email address to send a reset link to. "
                                                   "Add one first."), status=409, target=account.sub)
    moment = now()
    account.password_hash = None
    account.password_changed_at = moment
    events.record("admin:password:force_reset", subject=account, actor=actor.account_id, details=who(actor),
                  now=moment)
    # Offline refresh tokens too: what the old password let applications keep ends with it.
    accounts().end_applications(account, "admin_password_reset", now=moment, actor=actor.account_id, commit=False)
    db.session.commit()
    from ..accounts.browsers import forget_all
    forget_all(account, now=moment)
    sessions().end_all(account, "admin_password_reset", now=moment, actor=actor.account_id)
    return send_reset_link(account)


def end_sessions(actor: Actor, account: Account) -> int:
    """End every session of the account; the applications hear of it (back-channel logout)."""
    moment = now()
    count = sessions().end_all(account, "admin_end_sessions", now=moment, actor=actor.account_id)
    events.record("admin:session:end_all", subject=account, actor=actor.account_id,
                  details=who(actor, {"count": count}), now=moment)
    db.session.commit()
    return count


def reset_second_factor(actor: Actor, account: Account) -> None:
    """Lost phone: remove the authenticator app, recovery codes, passkeys and remembered browsers;
    sessions end and the person is told by email. They enrol again at their next login."""
    action = "account.second_factor_reset"
    not_self(actor, account, action)
    if not account.has_second_factor:
        raise refuse(actor, action, "no_second_factor", _l("This account has no second factor."), status=409,
                     target=account.sub)
    moment = now()
    db.session.execute(delete(Passkey).where(Passkey.account_id == account.id))
    account.passkey_login = False
    current_app.extensions["idp.totp"].disable(account, now=moment, actor=actor.account_id,
                                               tag="account:totp:admin_reset")
    db.session.expire(account, ["passkeys"])
    from ..accounts.browsers import forget_all
    forget_all(account, now=moment)
    sessions().end_all(account, "second_factor_reset", now=moment, actor=actor.account_id)
    if account.email:
        from ..accounts.mails import deliver
        deliver(account.email, *mails.second_factor_reset(account))


def scope_units(actor: Actor, write: bool = True) -> list[Unit]:
    """Units the actor may place people in (current ones only)."""
    scope = actor.unit_scope(write)
    stmt = select(Unit).where(or_(Unit.valid_to.is_(None), Unit.valid_to > now().date())).order_by(Unit.code)
    if scope is not None:
        stmt = stmt.where(Unit.id.in_(scope or {-1}))
    return list(db.session.scalars(stmt))

