"""Browser forms (Flask-WTF: CSRF on every one). Labels are translated at render time."""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, EmailField, PasswordField, StringField, TelField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def printable(form, field):
    """No NUL or other control characters (PostgreSQL refuses NUL; none belong in a form)."""
    if isinstance(field.data, str) and _CONTROL.search(field.data):
        raise ValidationError(_l("This field contains characters that are not allowed."))


REQUIRED = DataRequired(message=_l("This field is required."))


def too_long(n):
    return Length(max=n, message=_l("This field is too long."))


class LoginForm(FlaskForm):
    identifier = StringField(_l("ID number, email or phone"), [REQUIRED, too_long(254), printable])
    password = PasswordField(_l("Password"), [REQUIRED, too_long(1024), printable])


class RegisterForm(FlaskForm):
    full_name = StringField(_l("Full name"), [REQUIRED, too_long(200), printable])
    citizen_id = StringField(_l("Personal identification number (12 digits)"),
                             [REQUIRED, too_long(20), printable])
    birthdate = DateField(_l("Date of birth"), [Optional()])
    email = EmailField(_l("Email"), [REQUIRED, too_long(254), printable])
    phone = TelField(_l("Mobile phone (optional)"), [Optional(), too_long(20), printable])
    password = PasswordField(_l("Password (at least 10 characters)"), [REQUIRED, too_long(256), printable])
    confirm = PasswordField(_l("Repeat the password"),
                            [REQUIRED, EqualTo("password", message=_l("The passwords do not match."))])


class EmailForm(FlaskForm):
    email = EmailField(_l("Email"), [REQUIRED, too_long(254), printable])


class NewPasswordForm(FlaskForm):
    password = PasswordField(_l("New password (at least 10 characters)"), [REQUIRED, too_long(256), printable])
    confirm = PasswordField(_l("Repeat the new password"),
                            [REQUIRED, EqualTo("password", message=_l("The passwords do not match."))])


class ChangePasswordForm(NewPasswordForm):
    current_password = PasswordField(_l("Current password"), [REQUIRED, too_long(1024), printable])
    # Ticked by default: a password is mostly changed out of suspicion, and a refresh token that the
    # old password let someone give an application should not outlive it (untick to keep them).
    end_offline_access = BooleanField(_l("Also end the access that applications keep when you are not using "
                                         "them"), default=True)


class LogoutForm(FlaskForm):
    pass


class SecondFactorForm(FlaskForm):
    code = StringField(_l("Code from your authenticator app, or a recovery code"),
                       [REQUIRED, too_long(40), printable])
    remember = BooleanField(_l("Remember this browser for 30 days"))


class EnrolTotpForm(FlaskForm):
    code = StringField(_l("The 6-digit code your app shows now"), [REQUIRED, too_long(20), printable])


class DisableTotpForm(FlaskForm):
    password = PasswordField(_l("Password"), [REQUIRED, too_long(1024), printable])
    code = StringField(_l("Current code from your authenticator app"), [REQUIRED, too_long(20), printable])


class ConfirmPasswordForm(FlaskForm):
    password = PasswordField(_l("Password"), [REQUIRED, too_long(1024), printable])
