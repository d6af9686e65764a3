"""User-facing text for service message ids, in the catalogues' source language."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

MESSAGES = {
    "citizen_id.shape": _l("A personal identification number has exactly 12 digits."),
    "citizen_id.province": _l("This personal identification number does not start with a valid province code."),
    "citizen_id.required": _l("A personal identification number is required."),
    "citizen_id.taken": _l("An account with this personal identification number already exists."),
    "tax_code.invalid": _l("This tax code is not valid (10 digits, or 13 for a branch, with a correct check digit)."),
    "tax_code.required": _l("A business needs a tax code and a name."),
    "tax_code.taken": _l("An account with this tax code already exists."),
    "email.invalid": _l("This email address is not valid."),
    "email.taken": _l("This email address is already used by another account."),
    "phone.invalid": _l("This is not a valid Vietnamese phone number."),
    "phone.taken": _l("This phone number is already used by another account."),
    "name.invalid": _l("Please enter a name without special control characters."),
    "kind.invalid": _l("Unknown account kind."),
    "login.identifier_required": _l("An account needs an ID number, tax code, email or phone to log in with."),
    "account.duplicate": _l("An account with these details already exists."),
    "password.too_short": _l("The password must have at least 10 characters."),
    "password.too_long": _l("The password is too long."),
    "password.common": _l("This password is too common. Choose one that is harder to guess."),
    "password.personal": _l("The password must not contain your ID number, phone number or email."),
    "password.wrong_current": _l("The current password is not correct."),
}


def message(code: str):
    return MESSAGES.get(code, code)
