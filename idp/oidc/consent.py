"""Consent (personal-data law: explicit, specific, recorded, withdrawable): per account, per client,
for a set of scopes. First-party clients, marked by an administrator, skip the page."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import update

from .. import events
from ..db import db
from .models import Consent, Grant

SCOPE_TEXT = {
    "openid": _l("Know that it is you (an anonymous identifier for this application)"),
    "profile": _l("Your full name, date of birth, gender and language"),
    "email": _l("Your email address"),
    "phone": _l("Your phone number"),
    "address": _l("Your address"),
    "offline_access": _l("Keep access when you are not using it (until you withdraw consent)"),
    "citizen_id": _l("Your 12-digit personal identification number"),
    "business": _l("Your business's tax code and name"),
    "officer": _l("Your unit, position and roles as an officer"),
    "admin:accounts": _l("Administer accounts, units and roles on your behalf"),
    "admin:clients": _l("Administer applications on your behalf"),
    "admin:audit": _l("Read the audit log on your behalf"),
    "admin:trust": _l("Manage the certification authorities MotID trusts, on your behalf"),
}


def has_consent(account_id: int, client_id: str, scopes: set[str]) -> bool:
    row = db.session.query(Consent).filter_by(account_id=account_id, client_id=client_id).one_or_none()
    return row is not None and scopes <= set(row.scopes)


def give(account, client_id: str, scopes: set[str], *, now) -> None:
    row = db.session.query(Consent).filter_by(account_id=account.id, client_id=client_id).one_or_none()
    if row is None:
        row = Consent(account_id=account.id, client_id=client_id, scopes=[], granted_at=now)
        db.session.add(row)
    row.scopes = sorted(set(row.scopes) | scopes)
    row.granted_at = now
    events.record("oidc:consent:grant", subject=account, actor=account,
                  details={"client_id": client_id, "scopes": sorted(scopes)}, now=now)
    db.session.commit()


def withdraw(account, client_id: str, *, now) -> bool:
    """Forget the consent and end every grant the client holds for this person."""
    deleted = db.session.query(Consent).filter_by(account_id=account.id, client_id=client_id).delete()
    db.session.execute(update(Grant).where(Grant.account_id == account.id, Grant.client_id == client_id,
                                           Grant.revoked_at.is_(None))
                       .values(revoked_at=now, revoke_reason="consent_withdrawn"))
    if deleted:
        events.record("oidc:consent:withdraw", subject=account, actor=account, details={"client_id": client_id},
                      now=now)
    db.session.commit()
    return bool(deleted)


def of_account(account_id: int) -> list[Consent]:
    return db.session.query(Consent).filter_by(account_id=account_id).order_by(Consent.granted_at.desc()).all()
