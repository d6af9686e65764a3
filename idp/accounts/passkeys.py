"""Passkeys (WebAuthn Level 2, with the ``webauthn`` package): registration, and authentication as a
second factor or, for accounts that enabled it, on their own.

Challenges live in the database for two minutes (:class:`.models.WebAuthnChallenge`) and are spent
by one conditional UPDATE before the response is verified, so each allows one attempt; the signed UI
cookie only names the challenge, and replaying an old cookie finds it spent. The relying-party ID
is the issuer's host and the only accepted origin is the issuer's origin, so a passkey made for
another site (or a response relayed from one) never verifies here.
"""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app, session
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from webauthn import (base64url_to_bytes, generate_authentication_options, generate_registration_options,
                      options_to_json, verify_authentication_response, verify_registration_response)
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (AuthenticatorSelectionCriteria, PublicKeyCredentialDescriptor,
                                      ResidentKeyRequirement, UserVerificationRequirement)

from .. import events
from ..db import db
from ..security import digest
from .models import Account, Passkey, WebAuthnChallenge

CHALLENGE_SECONDS = 120
MAX_PASSKEYS = 10


class PasskeyError(ValueError):
    """The response did not verify; ``code`` is a message id."""


def rp() -> tuple[str, str]:
    issuer = urlsplit(current_app.config["IDP_ISSUER"])
    return issuer.hostname, f"{issuer.scheme}://{issuer.netloc}"


def _remember(purpose: str, challenge: bytes, account_id: int | None, *, now) -> None:
    """Store the challenge (and sweep long-expired ones); the cookie only names it."""
    value = bytes_to_base64url(challenge)
    db.session.execute(delete(WebAuthnChallenge).where(WebAuthnChallenge.expires_at < now - timedelta(hours=1)))
    db.session.add(WebAuthnChallenge(digest=digest(value), purpose=purpose, account_id=account_id, created_at=now,
                                     expires_at=now + timedelta(seconds=CHALLENGE_SECONDS)))
    db.session.commit()
    session[f"webauthn_{purpose}"] = {"challenge": value}


def _take(purpose: str, *, now) -> dict:
    """Spend the challenge the cookie names, with one conditional UPDATE (committed at once, so a
    failed verification does not give it back); PasskeyError if it is unknown, expired or used."""
    note = session.pop(f"webauthn_{purpose}", None)
    value = note.get("challenge") if isinstance(note, dict) else None
    if not isinstance(value, str) or len(value) > 200:
        raise PasskeyError("passkey.expired")
    spent = db.session.execute(
        update(WebAuthnChallenge)
        .where(WebAuthnChallenge.digest == digest(value), WebAuthnChallenge.purpose == purpose,
               WebAuthnChallenge.used_at.is_(None), WebAuthnChallenge.expires_at > now)
        .values(used_at=now)
        .returning(WebAuthnChallenge.account_id)
        .execution_options(synchronize_session=False)).all()
    db.session.commit()
    if len(spent) != 1:
        raise PasskeyError("passkey.expired")
    return {"challenge": value, "account": spent[0].account_id}


def registration_options(account: Account, *, now) -> str:
    rp_id, _ = rp()
    options = generate_registration_options(
        rp_id=rp_id, rp_name="MotID", user_id=account.sub.encode(), user_name=account.email or account.sub,
        user_display_name=account.display_name,
        exclude_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id))
                             for p in account.passkeys],
        authenticator_selection=AuthenticatorSelectionCriteria(resident_key=ResidentKeyRequirement.PREFERRED,
                                                               user_verification=UserVerificationRequirement.PREFERRED),
    )
    _remember("register", options.challenge, account.id, now=now)
    return options_to_json(options)


def register(account: Account, credential, name: str, *, now) -> Passkey:
    note = _take("register", now=now)
    if note.get("account") != account.id:
        raise PasskeyError("passkey.expired")
    if len(account.passkeys) >= MAX_PASSKEYS:
        raise PasskeyError("passkey.too_many")
    rp_id, origin = rp()
    try:
        verified = verify_registration_response(credential=credential,
                                                expected_challenge=base64url_to_bytes(note["challenge"]),
                                                expected_rp_id=rp_id, expected_origin=origin)
    except (InvalidRegistrationResponse, ValueError, TypeError, KeyError):
        raise PasskeyError("passkey.invalid") from None
    passkey = Passkey(account_id=account.id, credential_id=bytes_to_base64url(verified.credential_id),
                      public_key=bytes_to_base64url(verified.credential_public_key),
                      sign_count=verified.sign_count, name=(name or "Passkey").strip()[:100] or "Passkey",
                      transports=(credential.get("response", {}) or {}).get("transports")
                      if isinstance(credential, dict) else None, created_at=now)
    db.session.add(passkey)
    events.record("account:passkey:register", subject=account, actor=account, details={"name": passkey.name},
                  now=now)
    try:
        db.session.commit()
    except IntegrityError:  # the same credential registered twice (two tabs)
        db.session.rollback()
        raise PasskeyError("passkey.duplicate") from None
    return passkey


def authentication_options(account: Account | None, *, now) -> str:
    """For ``account`` (second factor), or for whoever holds a discoverable passkey (login alone)."""
    rp_id, _ = rp()
    allow = None
    if account is not None:
        allow = [PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id)) for p in account.passkeys]
    options = generate_authentication_options(
        rp_id=rp_id, allow_credentials=allow,
        user_verification=UserVerificationRequirement.REQUIRED if account is None
        else UserVerificationRequirement.PREFERRED)
    _remember("login", options.challenge, account.id if account else None, now=now)
    return options_to_json(options)


def authenticate(credential, *, now, account: Account | None = None) -> tuple[Account, bool]:
    """The account whose passkey signed the challenge, and whether the user was verified."""
    note = _take("login", now=now)
    if not isinstance(credential, dict) or not isinstance(credential.get("id"), str):
        raise PasskeyError("passkey.invalid")
    passkey = db.session.query(Passkey).filter_by(credential_id=credential["id"][:1400]).one_or_none()
    expected_account = note.get("account")
    if passkey is None or (expected_account is not None and passkey.account_id != expected_account) \
            or (account is not None and passkey.account_id != account.id):
        raise PasskeyError("passkey.invalid")
    rp_id, origin = rp()
    try:
        verified = verify_authentication_response(
            credential=credential, expected_challenge=base64url_to_bytes(note["challenge"]), expected_rp_id=rp_id,
            expected_origin=origin, credential_public_key=base64url_to_bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count, require_user_verification=expected_account is None)
    except (InvalidAuthenticationResponse, ValueError, TypeError, KeyError):
        events.record("account:passkey:failure", subject=passkey.account_id, now=now)
        db.session.commit()
        raise PasskeyError("passkey.invalid") from None
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = now
    db.session.commit()
    return db.session.get(Account, passkey.account_id), verified.user_verified


def remove(account: Account, passkey_id: int, *, now) -> bool:
    passkey = db.session.query(Passkey).filter_by(id=passkey_id, account_id=account.id).one_or_none()
    if passkey is None:
        return False
    name = passkey.name
    db.session.delete(passkey)
    db.session.flush()
    db.session.refresh(account)
    if not account.passkeys:
        account.passkey_login = False
    events.record("account:passkey:remove", subject=account, actor=account, details={"name": name}, now=now)
    db.session.commit()
    return True


def allow_login_alone(account: Account, enabled: bool, *, now) -> None:
    """Let the account log in with a passkey alone (only while it has one)."""
    account.passkey_login = enabled and bool(account.passkeys)
    events.record("account:passkey:login_alone", subject=account, actor=account,
                  details={"enabled": account.passkey_login}, now=now)
    db.session.commit()


def rename(account: Account, passkey_id: int, name: str) -> bool:
    passkey = db.session.query(Passkey).filter_by(id=passkey_id, account_id=account.id).one_or_none()
    name = (name or "").strip()[:100]
    if passkey is None or not name:
        return False
    passkey.name = name
    db.session.commit()
    return True
