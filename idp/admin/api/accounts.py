"""The API's accounts: search, a new officer, one account, its changes, actions, events and roles."""
from __future__ import annotations

from flask import request, url_for
from flask_babel import gettext as _

from ...db import db
from .. import account_records as records
from .. import accounts as account_rules
from .. import audit, roles
from ..authz import refuse, require
from ..search import AccountQuery, search
from .authentication import actor
from .blueprint import bp
from .inputs import arg, body, if_match, page
from .responses import ok, paged


@bp.route("/accounts", methods=["GET"])
def list_accounts():
    limit, cursor = page()
    actor_ = actor()
    query = AccountQuery(text=arg("q") or "", kind=arg("kind", 20, empty_ok=False),
                         status=arg("status", 20, empty_ok=False),
                         unit_ids=actor_.unit_scope(), limit=limit, after=cursor)
    if query.kind not in (None, "citizen", "business", "officer", "admin") or \
            query.status not in (None, "active", "locked", "disabled"):
        raise refuse(actor_, "api.list_accounts", "invalid_parameter", _("A query parameter is not valid."),
                     status=400)
    require(actor_, "accounts.read", "account.search")
    rows, next_cursor = search(db.session, query)
    items = [records.represent(actor_, a, full=False) for a in rows]
    return paged(items, next_cursor, "admin_api.list_accounts",
                 **{k: v for k, v in request.args.items() if k != "cursor"})


@bp.route("/accounts", methods=["POST"])
def create_account():
    account, sent = account_rules.create_officer(actor(), body("AccountCreate"))
    return ok(records.represent(actor(), account), 201, etag=records.etag(account),
              headers={"Location": url_for("admin_api.read_account", sub=account.sub)})


@bp.route("/accounts/<sub>", methods=["GET"])
def read_account(sub):
    account = account_rules.find(actor(), sub)
    account_rules.viewed(actor(), account)
    return ok(records.represent(actor(), account), etag=records.etag(account))


@bp.route("/accounts/<sub>", methods=["PATCH"])
def update_account(sub):
    account = account_rules.find(actor(), sub, write=True, action="account.update")
    if_match(records.etag(account), sub)
    account = account_rules.update(actor(), account, body("AccountPatch"))
    return ok(records.represent(actor(), account), etag=records.etag(account))


@bp.route("/accounts/<sub>/<any(disable, enable, unlock):what>", methods=["POST"])
def account_status(sub, what):
    account = account_rules.find(actor(), sub, write=True, action=f"account.{what}")
    account_rules.set_status(actor(), account, what)
    return ok({"ok": True})


@bp.route("/accounts/<sub>/password-reset", methods=["POST"])
def account_password_reset(sub):
    account = account_rules.find(actor(), sub, write=True, action="account.password_reset")
    return ok({"ok": True, "link_sent": account_rules.force_password_reset(actor(), account)})


@bp.route("/accounts/<sub>/end-sessions", methods=["POST"])
def account_end_sessions(sub):
    account = account_rules.find(actor(), sub, write=True, action="account.end_sessions")
    return ok({"ok": True, "sessions_ended": account_rules.end_sessions(actor(), account)})


@bp.route("/accounts/<sub>/second-factor-reset", methods=["POST"])
def account_second_factor_reset(sub):
    account = account_rules.find(actor(), sub, write=True, action="account.second_factor_reset")
    account_rules.reset_second_factor(actor(), account)
    return ok({"ok": True})


@bp.route("/accounts/<sub>/events", methods=["GET"])
def account_events(sub):
    limit, cursor = page()
    account = account_rules.find(actor(), sub)
    rows = account_rules.recent_events(actor(), account, limit=limit + 1, before=cursor)
    more = len(rows) > limit
    rows = rows[:limit]
    subs = audit.subs_of(rows)
    return paged([audit.represent(e, subs) for e in rows], rows[-1].id if more and rows else None,
                 "admin_api.account_events", sub=sub, limit=limit)


@bp.route("/accounts/<sub>/roles", methods=["POST"])
def grant_role(sub):
    account = account_rules.find(actor(), sub, write=True, action="role.grant")
    data = body("RoleGrant")
    roles.grant_role(actor(), account, data["role"], data.get("unit_id"))
    return ok(records.represent(actor(), account), 201, etag=records.etag(account))


@bp.route("/accounts/<sub>/roles/<role>", methods=["DELETE"])
def revoke_role(sub, role):
    account = account_rules.find(actor(), sub, write=True, action="role.revoke")
    roles.revoke_role(actor(), account, role)
    return ok(records.represent(actor(), account), etag=records.etag(account))
