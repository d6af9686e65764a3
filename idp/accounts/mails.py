"""Messages sent to people: their text, in their preferred language, and their delivery."""
from __future__ import annotations

import logging

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from ..mail import MailError

log = logging.getLogger(__name__)


def deliver(to: str, subject: str, body: str) -> bool:
    """Send one message; a failure is logged, never shown as an error page."""
    try:
        current_app.extensions["idp.mailer"].send(to, subject, body)
        return True
    except MailError as exc:
        log.error("mail to %s failed: %s", to, exc)
        return False


def verify_email(account, link: str) -> tuple[str, str]:
    with force_locale(account.locale or "vi"):
        return (_("Confirm your email address for MotID"),
                render_template("mail/verify_email.txt", account=account, link=link))


def reset_password(account, link: str) -> tuple[str, str]:
    with force_locale(account.locale or "vi"):
        return (_("Reset your MotID password"),
                render_template("mail/reset_password.txt", account=account, link=link))


def recovery_code_used(account, remaining: int) -> tuple[str, str]:
    with force_locale(account.locale or "vi"):
        return (_("A recovery code was used on your MotID account"),
                render_template("mail/recovery_code_used.txt", account=account, remaining=remaining))


def second_factor_reset(account) -> tuple[str, str]:
    with force_locale(account.locale or "vi"):
        return (_("The second factor of your MotID account was reset"),
                render_template("mail/second_factor_reset.txt", account=account))
