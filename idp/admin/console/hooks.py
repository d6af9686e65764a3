"""What runs around every console page: the guard, the refusal page, and what templates see.

Only for administrators whose session reached assurance level 2 (a second factor); a weaker
session is sent to step up first.
"""
from __future__ import annotations

from flask import abort, flash, g, redirect, request, url_for
from flask_babel import lazy_gettext as _l

from ... import events
from ...accounts import assurance
from ...accounts.navigation import sessions
from ...clock import now
from ...db import db
from ...errors import render_error
from ..authz import Actor, Refused
from ..messages import message
from .blueprint import bp


@bp.before_request
def guard():
    session = sessions().current(now())
    if session is None:
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
    actor = Actor.for_account(session.account)
    if not actor.roles:
        events.record("admin:request:refuse", actor=session.account_id,
                      details={"action": "console", "reason": "not_admin", "path": request.path[:200]}, now=now())
        db.session.commit()
        abort(403)
    if not assurance.satisfies(session.acr, assurance.LOA2):
        # Step up on the same session; back here afterwards.
        target = request.full_path.rstrip("?") if request.method == "GET" else url_for("admin.home")
        endpoint = "accounts.second_factor" if session.account.has_second_factor else "accounts.enrol_totp"
        return redirect(url_for(endpoint, next=target))
    g.admin_actor = actor
    return None


@bp.errorhandler(Refused)
def refused(exc: Refused):
    if exc.status in (401, 403, 404):
        return render_error(exc.status, exc.detail)
    flash(str(exc.detail))
    for field, code in (exc.fields or {}).items():
        if field != "report":
            flash(f"{field}: {message(code)}")
    return redirect(g.get("back") or url_for("admin.home"))


@bp.app_template_filter("admin_message")
def admin_message(code):
    return message(str(code))


LABELS = {"citizen": _l("Citizen"), "business": _l("Business"), "officer": _l("Officer"), "admin": _l("Administrator"),
          "active": _l("Active"), "locked": _l("Locked"), "disabled": _l("Disabled"), "province": _l("Province"),
          "agency": _l("Agency"), "commune": _l("Commune")}


@bp.app_context_processor
def admin_globals():
    return {"admin_actor": g.get("admin_actor"), "labels": LABELS}
