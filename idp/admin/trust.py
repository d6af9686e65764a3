"""Trust anchors, intermediate CAs and CRLs for digital-signature certificates: console, API and
``idp trust`` all go through here.

The store is :class:`idp.accounts.certificates.trust_store.TrustStore` (rows in the database), the one the
certificate validator reads; a change commits with its audit event, counts for the very next certificate
validated in this process and on every other node within a second (:mod:`idp.versions`). Who may: ``trust.read`` (province administrator, auditor) and
``trust.write`` (province administrator, and the server's command line; never automation).
"""
from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l

from .. import events
from ..accounts.certificates.trust_store import CrlEntry, TrustEntry, TrustError, name_text
from ..clock import now
from ..db import db
from .accounts import who
from .authz import Actor, refuse, require


def store():
    return current_app.extensions["idp.trust"]


def represent(entry: TrustEntry) -> dict:
    cert = entry.certificate
    return {"fingerprint": entry.fingerprint, "kind": "anchor" if entry.anchor else "intermediate",
            "subject": name_text(cert.subject), "issuer": name_text(cert.issuer),
            "serial": format(cert.serial_number, "x"), "not_before": cert.not_valid_before_utc.isoformat(),
            "not_after": cert.not_valid_after_utc.isoformat(), "file": entry.name}


def represent_crl(entry: CrlEntry) -> dict:
    crl = entry.crl
    return {"issuer": name_text(crl.issuer), "last_update": crl.last_update_utc.isoformat(),
            "next_update": crl.next_update_utc.isoformat() if crl.next_update_utc else None,
            "revoked": len(crl), "file": entry.name}


def listing(actor: Actor) -> list[TrustEntry]:
    """Anchors first, then intermediates, each by subject."""
    require(actor, "trust.read", "trust.list")
    return sorted(store().entries(), key=lambda e: (not e.anchor, name_text(e.certificate.subject), e.fingerprint))


def crl_listing(actor: Actor) -> list[CrlEntry]:
    require(actor, "trust.read", "trust.list")
    return sorted(store().crl_entries(), key=lambda e: name_text(e.crl.issuer))


def _refused(actor: Actor, action: str, exc: TrustError, field: str, target=None):
    return refuse(actor, action, "invalid_input", _l("Nothing was changed."), status=422, target=target,
                  fields={field: f"trust.{exc.code}"}, extra={"problem": str(exc)[:300]})


def add(actor: Actor, data: bytes, file_name: str = "") -> list[TrustEntry]:
    """Trust the CA certificates in one file (PEM with one or more, DER or .cer): all of them or none."""
    action = "trust.add"
    require(actor, "trust.write", action)
    try:
        added = store().add(data, file_name)
    except TrustError as exc:
        raise _refused(actor, action, exc, "file", target=file_name[:100] or None) from None
    moment = now()
    for entry in added:
        shown = represent(entry)
        events.record("admin:trust:add", actor=actor.account_id, now=moment, details=who(actor, {
            key: shown[key] for key in ("fingerprint", "kind", "subject", "serial", "not_after", "file")}))
    db.session.commit()
    return added


def add_crl(actor: Actor, data: bytes) -> CrlEntry:
    """Keep a CRL (PEM or DER); it replaces the previous one of its issuer."""
    action = "trust.add_crl"
    require(actor, "trust.write", action)
    try:
        entry = store().add_crl(data)
    except TrustError as exc:
        raise _refused(actor, action, exc, "file") from None
    events.record("admin:trust:add_crl", actor=actor.account_id, details=who(actor, represent_crl(entry)), now=now())
    db.session.commit()
    return entry


def remove(actor: Actor, fingerprint: str) -> list[TrustEntry]:
    """Stop trusting the CA whose SHA-256 fingerprint is (or starts with, 8+ hex digits) ``fingerprint``:
    certificates that chain only through it stop validating at once."""
    action = "trust.remove"
    require(actor, "trust.write", action)
    fingerprint = str(fingerprint)[:100]
    try:
        removed = store().remove(fingerprint)
    except TrustError as exc:
        raise _refused(actor, action, exc, "fingerprint", target=fingerprint) from None
    if not removed:
        raise refuse(actor, action, "not_found", _l("No trusted certificate has this fingerprint."), status=404,
                     target=fingerprint)
    shown = represent(removed[0])
    events.record("admin:trust:remove", actor=actor.account_id, now=now(), details=who(actor, {
        **{key: shown[key] for key in ("fingerprint", "kind", "subject", "serial")},
        "files": sorted({e.name for e in removed})}))
    db.session.commit()
    return removed


def find(actor: Actor, fingerprint: str) -> TrustEntry:
    """One trusted CA by its full fingerprint (the console's confirmation page)."""
    require(actor, "trust.read", "trust.read")
    wanted = str(fingerprint).lower()[:64]
    entry = next((e for e in store().entries() if e.fingerprint == wanted), None)
    if entry is None:
        raise refuse(actor, "trust.read", "not_found", _l("No trusted certificate has this fingerprint."),
                     status=404, target=fingerprint)
    return entry
