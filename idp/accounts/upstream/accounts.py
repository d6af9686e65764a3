"""Which MotID account an upstream identity is (issue 14, "Accounts"): the links from accounts to
upstream subjects, accounts created just in time from a level-2 national login, and conflicts.

The rules, in the order :func:`resolve` applies them:

1. a link for (provider, subject) exists → its account, unless that account is disabled or another
   account holds the number the upstream asserts (conflict);
2. an identity that asserts no number (Zalo, a plain OpenID provider) → nothing without a link;
3. the number (``citizen_id``, or ``tax_code`` for an organisation) is held by one account → at level 2
   that account, and the link is recorded; at level 1 the person must prove that account's password once
   first (``confirm``); disabled, or of the wrong kind → conflict;
4. no account holds it → at level 2 a citizen (or business) account is created, with no password;
   at level 1 nothing is created.

Nothing is committed here: the caller commits the session login with the account and link (one
transaction), or :func:`conflict` rolls everything back and records only the audit event.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from ... import events
from ...db import db
from ..assurance import LOA1, LOA2, rank
from ..certificates.models import BoundCertificate
from ..models import Account, AccountKind, AccountStatus
from ..services import AccountError, NewAccount
from .identity import UpstreamIdentity
from .models import UpstreamLink, UpstreamProvider


@dataclass(frozen=True)
class Match:
    """``outcome``: ``login`` (``account``), ``confirm`` (prove ``account``'s password first),
    ``not_linked``, ``level_too_low`` or ``conflict`` (``reason``: ``disabled``, ``linked_elsewhere``,
    ``two_accounts``, ``kind``, ``number_mismatch``, ``invalid``)."""

    outcome: str
    account: Account | None = None
    reason: str | None = None
    created: bool = False


def level(identity: UpstreamIdentity) -> str:
    """MotID's ``acr`` for the login: the profile's mapping, never above loa:2; an identity that
    asserts no number (Zalo) is loa:1 whatever it claims."""
    if not (identity.citizen_id or identity.tax_code):
        return LOA1
    return identity.acr if rank(identity.acr) <= rank(LOA2) else LOA2


def resolve(identity: UpstreamIdentity, *, accounts, now) -> Match:
    """The account ``identity`` logs into, per the rules above (rows added, not committed)."""
    holders = _holders(identity)
    link = find_link(identity.provider, identity.subject)
    if link is not None:
        account = db.session.get(Account, link.account_id)
        if any(holder.id != account.id for holder in holders):
            return Match("conflict", account, "linked_elsewhere")
        if account.status != AccountStatus.ACTIVE.value:
            return Match("conflict", account, "disabled")
        link.last_used_at = now
        events.record("account:upstream:login", subject=account, actor=account, now=now,
                      details={"provider": identity.provider})
        return Match("login", account)
    if not (identity.citizen_id or identity.tax_code):
        return Match("not_linked")
    if len(holders) > 1:
        return Match("conflict", holders[0], "two_accounts")
    if holders:
        return _existing(identity, holders[0], now)
    if rank(level(identity)) < rank(LOA2):
        return Match("level_too_low")
    return _create(identity, accounts=accounts, now=now)


def _holders(identity: UpstreamIdentity) -> list[Account]:
    clauses = [column == value for column, value in ((Account.citizen_id, identity.citizen_id),
                                                     (Account.tax_code, identity.tax_code)) if value]
    if not clauses:
        return []
    return list(db.session.scalars(select(Account).where(or_(*clauses)).order_by(Account.id)))


def _existing(identity: UpstreamIdentity, account: Account, now) -> Match:
    if account.status != AccountStatus.ACTIVE.value:
        return Match("conflict", account, "disabled")
    wanted = AccountKind.BUSINESS.value if identity.tax_code and not identity.citizen_id else None
    if (wanted and account.kind != wanted) or (not wanted and account.kind == AccountKind.BUSINESS.value):
        return Match("conflict", account, "kind")
    if rank(level(identity)) < rank(LOA2):
        return Match("confirm", account) if account.password_hash else Match("level_too_low", account)
    return Match("login", account) if add_link(account, identity.provider, identity.subject, now=now) \
        else Match("conflict", account, "linked_elsewhere")


def _create(identity: UpstreamIdentity, *, accounts, now) -> Match:
    """A citizen account from a level-2 personal number, or a business account from a level-2 tax
    code (VNeID organisation accounts are identified to level 2 by Decree 69/2024): verified fields
    only, no password, no e-mail (an unverified address could take another account's)."""
    if identity.citizen_id:
        new = NewAccount(kind=AccountKind.CITIZEN.value, full_name=identity.name or "", citizen_id=identity.citizen_id,
                         birthdate=identity.birthdate, gender=identity.gender)
    else:
        new = NewAccount(kind=AccountKind.BUSINESS.value, full_name=identity.name or "", tax_code=identity.tax_code,
                         business_name=identity.name or "")
    if not identity.name:
        return Match("conflict", None, "invalid")
    try:
        account = accounts.create(new, now=now, commit=False)
    except AccountError:  # a concurrent login created it first, or a claim the account rules refuse
        return Match("conflict", None, "invalid")
    if not add_link(account, identity.provider, identity.subject, now=now):
        return Match("conflict", account, "linked_elsewhere")
    return Match("login", account, created=True)


def find_link(provider: str, subject: str) -> UpstreamLink | None:
    return db.session.scalar(select(UpstreamLink).where(UpstreamLink.provider == provider,
                                                        UpstreamLink.subject == subject))


def add_link(account: Account, provider: str, subject: str, *, now) -> bool:
    """Link ``account`` to the upstream subject (flushed, not committed); False when a concurrent
    request linked that subject first."""
    link = UpstreamLink(account_id=account.id, provider=provider, subject=subject, created_at=now,
                        last_used_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(link)
    except IntegrityError:
        return False
    events.record("account:upstream:link", subject=account, actor=account, now=now, details={"provider": provider})
    return True


def conflict(identity: UpstreamIdentity, match: Match, *, now) -> None:
    """Undo whatever the login added and record why it stopped (``account:upstream:conflict``)."""
    db.session.rollback()
    account = match.account if match.account is not None and match.account.id is not None else None
    events.record("account:upstream:conflict", subject=account, now=now,
                  details={"provider": identity.provider, "reason": match.reason})
    db.session.commit()


def link_logged_in(account: Account, identity: UpstreamIdentity, *, now) -> str | None:
    """Link a logged-in person's account to ``identity`` (from the security page): None when linked
    (committed), else the conflict reason (nothing written but the event)."""
    existing = find_link(identity.provider, identity.subject)
    if existing is not None:
        return None if existing.account_id == account.id else "linked_elsewhere"
    if (identity.citizen_id and identity.citizen_id != account.citizen_id) or \
            (identity.tax_code and identity.tax_code != account.tax_code):
        return "number_mismatch"
    if not add_link(account, identity.provider, identity.subject, now=now):
        return "linked_elsewhere"
    db.session.commit()
    return None


@dataclass(frozen=True)
class LinkedIdentity:
    id: int
    provider: str
    display_name: str
    created_at: object
    last_used_at: object


def links_of(account: Account) -> list[LinkedIdentity]:
    rows = db.session.execute(
        select(UpstreamLink, UpstreamProvider.display_name)
        .outerjoin(UpstreamProvider, UpstreamProvider.name == UpstreamLink.provider)
        .where(UpstreamLink.account_id == account.id).order_by(UpstreamLink.created_at))
    return [LinkedIdentity(link.id, link.provider, name or link.provider, link.created_at, link.last_used_at)
            for link, name in rows]


def other_ways_in(account: Account) -> int:
    """How many ways to log in the account has besides its upstream links."""
    certificates = db.session.scalar(select(BoundCertificate.id).where(BoundCertificate.account_id == account.id)
                                     .limit(1))
    return sum((account.password_hash is not None, bool(account.passkeys), certificates is not None))


def unlink(account: Account, link_id: int, *, now) -> str | None:
    """Remove one of ``account``'s links (committed); the problem (``unknown``, ``last_way``) otherwise."""
    link = db.session.scalar(select(UpstreamLink).where(UpstreamLink.id == link_id,
                                                        UpstreamLink.account_id == account.id))
    if link is None:
        return "unknown"
    if other_ways_in(account) == 0 and len(links_of(account)) <= 1:
        return "last_way"
    db.session.delete(link)
    events.record("account:upstream:unlink", subject=account, actor=account, now=now,
                  details={"provider": link.provider})
    db.session.commit()
    return None
