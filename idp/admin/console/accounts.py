"""Console pages for accounts: search, a new officer, one account, its changes, actions and roles."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ...db import db
from .. import account_records as records
from .. import accounts as rules
from .. import roles as role_rules
from ..authz import Refused, refuse, require
from ..forms import AccountEditForm, ActionForm, GrantRoleForm, OfficerForm, SearchForm, options
from ..search import AccountQuery, search
from .blueprint import bp
from .common import PAGE, actor, field_errors


def unit_choices(write: bool = True, blank: bool = False):
    choices = [(u.id, f"{u.code} — {u.name}") for u in rules.scope_units(actor(), write)]
    return options(([(0, "—")] if blank else []) + choices)


@bp.route("/accounts")
def accounts_page():
    form = SearchForm(request.args)
    rows, next_cursor = [], None
    cursor = request.args.get("cursor", "")
    searched = bool(form.q.data or form.kind.data or form.status.data or cursor)
    require(actor(), "accounts.read", "account.search")
    if form.validate():
        query = AccountQuery(text=form.q.data or "", kind=form.kind.data or None, status=form.status.data or None,
                             unit_ids=actor().unit_scope(), limit=PAGE,
                             after=int(cursor) if cursor.isdigit() and len(cursor) < 10 else None)
        rows, next_cursor = search(db.session, query)
    shown = [records.represent(actor(), a, full=False) for a in rows]
    return render_template("admin/accounts.html", form=form, rows=shown, next_cursor=next_cursor, searched=searched)


@bp.route("/accounts/new", methods=["GET", "POST"])
def new_officer():
    form = OfficerForm()
    form.unit_id.choices = unit_choices()
    if form.validate_on_submit():
        try:
            account, sent = rules.create_officer(actor(), {
                "full_name": form.full_name.data, "citizen_id": form.citizen_id.data, "email": form.email.data,
                "phone": form.phone.data, "position": form.position.data, "unit_id": form.unit_id.data,
                "password": form.password.data})
        except Refused as exc:
            field_errors(form, exc)
            return render_template("admin/officer_new.html", form=form), 422
        flash(_("The officer's account was created.") + " " + (
            _("A link to set the password was emailed.") if sent else ""))
        return redirect(url_for("admin.account", sub=account.sub))
    return render_template("admin/officer_new.html", form=form)


@bp.route("/accounts/<sub>")
def account(sub):
    target = rules.find(actor(), sub)
    rules.viewed(actor(), target)
    writable = actor().reaches(target, write=True)
    grant_form = GrantRoleForm()
    grant_form.role.choices = options((r.code, f"{r.code} — {r.name}") for r in role_rules.grantable_roles(actor()))
    grant_form.unit_id.choices = unit_choices()
    if target.unit_id:
        grant_form.unit_id.data = target.unit_id
    return render_template("admin/account.html", account=target, shown=records.represent(actor(), target),
                           writable=writable and actor().account_id != target.id, events=rules.recent_events(
                               actor(), target), grant_form=grant_form, action_form=ActionForm())


@bp.route("/accounts/<sub>/edit", methods=["GET", "POST"])
def edit_account(sub):
    target = rules.find(actor(), sub, write=True, action="account.update")
    form = AccountEditForm(obj=target)
    staff = target.kind in ("officer", "admin")
    form.unit_id.choices = unit_choices(blank=not staff or target.unit_id is None)
    if request.method == "GET":
        form.etag.data = records.etag(target)
        form.unit_id.data = target.unit_id or 0
    if form.validate_on_submit():
        if form.etag.data != records.etag(target):
            exc = refuse(actor(), "account.update", "stale_etag", _("Someone changed this account while you were "
                                                                    "editing. Check the values and save again."),
                         status=412, target=sub)
            form.form_errors.append(str(exc.detail))
            form.etag.data = records.etag(target)
            return render_template("admin/account_edit.html", form=form, account=target, staff=staff), 412
        changes = {"full_name": form.full_name.data, "email": form.email.data or None,
                   "phone": form.phone.data or None, "locale": form.locale.data}
        if staff:
            changes.update(position=form.position.data or None, unit_id=form.unit_id.data or None)
        try:
            rules.update(actor(), target, changes)
        except Refused as exc:
            field_errors(form, exc)
            return render_template("admin/account_edit.html", form=form, account=target, staff=staff), 422
        flash(_("Saved."))
        return redirect(url_for("admin.account", sub=sub))
    return render_template("admin/account_edit.html", form=form, account=target, staff=staff)


ACTIONS = {
    "disable": lambda a, t: rules.set_status(a, t, "disable"),
    "enable": lambda a, t: rules.set_status(a, t, "enable"),
    "unlock": lambda a, t: rules.set_status(a, t, "unlock"),
    "password-reset": rules.force_password_reset,
    "end-sessions": rules.end_sessions,
    "second-factor-reset": rules.reset_second_factor,
}


@bp.route("/accounts/<sub>/<any('disable', 'enable', 'unlock', 'password-reset', 'end-sessions', "
          "'second-factor-reset'):what>", methods=["POST"])
def account_action(sub, what):
    g.back = url_for("admin.account", sub=sub)
    if not ActionForm().validate_on_submit():
        abort(400)
    target = rules.find(actor(), sub, write=True, action=f"account.{what.replace('-', '_')}")
    ACTIONS[what](actor(), target)
    flash(done_message(what))
    return redirect(g.back)


def done_message(what: str) -> str:
    return {
        "disable": _("The account was disabled and its sessions ended."),
        "enable": _("The account was enabled."),
        "unlock": _("The account was unlocked."),
        "password-reset": _("The password no longer works; a link to choose a new one was emailed."),
        "end-sessions": _("Every session of the account was ended; the applications were told."),
        "second-factor-reset": _("The second factor was removed; the person sets up a new one at the next login."),
    }[what]


@bp.route("/accounts/<sub>/roles", methods=["POST"])
def grant_role(sub):
    g.back = url_for("admin.account", sub=sub)
    form = GrantRoleForm()
    form.role.choices = options((r.code, r.code) for r in role_rules.grantable_roles(actor()))
    form.unit_id.choices = unit_choices()
    if not form.validate_on_submit():
        abort(400)
    target = rules.find(actor(), sub, write=True, action="role.grant")
    role_rules.grant_role(actor(), target, form.role.data, form.unit_id.data or None)
    flash(_("The role was given."))
    return redirect(g.back)


@bp.route("/accounts/<sub>/roles/<code>/revoke", methods=["POST"])
def revoke_role(sub, code):
    g.back = url_for("admin.account", sub=sub)
    if not ActionForm().validate_on_submit():
        abort(400)
    target = rules.find(actor(), sub, write=True, action="role.revoke")
    role_rules.revoke_role(actor(), target, code)
    flash(_("The role was taken away."))
    return redirect(g.back)
