"""What every page of the accounts wing shares: its blueprint, its services, the person behind the
request, and redirects that cannot leave the site. A leaf: it imports no view module, so the view
modules (and the protocol's) import it without circles.
"""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for

from ..clock import now
from .password_checks import LoginFailed

bp = Blueprint("accounts", __name__)


def accounts():
    return current_app.extensions["idp.accounts"]


def sessions():
    return current_app.extensions["idp.sessions"]


def login_flow():
    return current_app.extensions["idp.login_flow"]


def current_account():
    session = sessions().current(now())
    return session.account if session else None


def login_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        if current_account() is None:
            return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)
    return wrapped


def safe_next(target: str | None) -> str:
    """Only same-site relative paths: ``next`` must never become an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("accounts.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return url_for("accounts.home")
    return target


def follow(step):
    """The redirect a :class:`~idp.accounts.login_flow.Step` asks for, its notice flashed first; 429
    when it was refused for too many attempts."""
    if step.problem == "rate_limited":
        abort(429)
    if step.notice:
        flash(step.notice)
    return redirect(step.location)


def password_confirmed(account, password: str | None) -> bool:
    """Re-confirm a logged-in person's password (:meth:`.login_flow.LoginFlow.reconfirm_password`);
    too many attempts answer 429, like the login page."""
    try:
        return login_flow().reconfirm_password(account, password)
    except LoginFailed:  # only "rate_limited" passes through
        abort(429)
