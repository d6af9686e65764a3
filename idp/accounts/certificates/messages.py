"""What each certificate refusal says to the person, in the catalogues' source language."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

REASONS = {
    "malformed": _l("This is not a certificate and signature MotID can read. Use the output of the "
                    "signing tool unchanged."),
    "too_large": _l("The file is too large to be a certificate."),
    "untrusted": _l("This certificate was not issued by a certification authority MotID trusts."),
    "expired": _l("This certificate has expired."),
    "not_yet_valid": _l("This certificate is not valid yet."),
    "key_usage": _l("This certificate is not meant for digital signatures."),
    "weak_key": _l("This certificate's key is too weak (RSA needs at least 2048 bits, ECDSA at least P-256)."),
    "revoked": _l("This certificate has been revoked by its certification authority."),
    "revocation_unavailable": _l("The certification authority could not be asked whether this certificate "
                                 "is still valid. Please try again later."),
    "signature": _l("The signature does not match this certificate and challenge."),
    "challenge": _l("This challenge has expired or was already used. Sign the new challenge shown on this page."),
    "identity_mismatch": _l("The identity number in this certificate does not match your account."),
    "needs_admin": _l("This certificate carries an old ID card (CMND) or passport number; an administrator "
                      "must confirm it before it can be bound."),
    "no_identity": _l("This certificate does not carry an identity number MotID can use."),
    "already_bound": _l("This certificate is already bound to your account."),
    "bound_elsewhere": _l("This certificate is already bound to another account."),
    "not_bound": _l("This certificate is not bound to any account. Log in with your password and bind it "
                    "on the security page first."),
    "account_unavailable": _l("This account cannot log in at the moment."),
    "untrusted_proxy": _l("A client certificate can only be presented through MotID's own secure connection."),
    "no_certificate": _l("Your browser did not present a certificate."),
}


def reason(code: str):
    return REASONS.get(code, REASONS["malformed"])
