"""The administration API's resources: accounts, units, roles, applications, keys, trusted certification
authorities and the audit log.

Each route parses its input (:mod:`idp.admin.api`), calls one rule module, and answers JSON.
"""
from __future__ import annotations

from datetime import datetime

from flask import Response, request, stream_with_context, url_for
from flask_babel import gettext as _

from ..accounts.certificates.trust_store import MAX_CRL_BYTES, MAX_FILE_BYTES
from ..clock import now
from ..db import db
from . import accounts as account_rules
from . import audit, clients, importing, keys, roles, trust, units
from .api import (NUMBER, actor, arg, body, bp, csv_body, etag_of, file_body, flag, if_match, ok, page, paged,
                  parse_date)
from .openapi import CERTIFICATE_MEDIA_TYPES, CRL_MEDIA_TYPES
from .audit import AuditQuery
from .authz import refuse, require
from .search import AccountQuery, search


# -- accounts -------------------------------------------------------------------------------------------------
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
    items = [account_rules.represent(actor_, a, full=False) for a in rows]
    return paged(items, next_cursor, "admin_api.list_accounts",
                 **{k: v for k, v in request.args.items() if k != "cursor"})


@bp.route("/accounts", methods=["POST"])
def create_account():
    account, sent = account_rules.create_officer(actor(), body("AccountCreate"))
    return ok(account_rules.represent(actor(), account), 201, etag=account_rules.etag(account),
              headers={"Location": url_for("admin_api.read_account", sub=account.sub)})


@bp.route("/accounts/import", methods=["POST"])
def import_accounts():
    report = importing.import_officers(actor(), csv_body(), dry_run=flag("dry_run"))
    return ok(report.as_dict(), 200 if not report.committed else 201)


@bp.route("/accounts/<sub>", methods=["GET"])
def read_account(sub):
    account = account_rules.find(actor(), sub)
    account_rules.viewed(actor(), account)
    return ok(account_rules.represent(actor(), account), etag=account_rules.etag(account))


@bp.route("/accounts/<sub>", methods=["PATCH"])
def update_account(sub):
    account = account_rules.find(actor(), sub, write=True, action="account.update")
    if_match(account_rules.etag(account), sub)
    account = account_rules.update(actor(), account, body("AccountPatch"))
    return ok(account_rules.represent(actor(), account), etag=account_rules.etag(account))


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
    return ok(account_rules.represent(actor(), account), 201, etag=account_rules.etag(account))


@bp.route("/accounts/<sub>/roles/<role>", methods=["DELETE"])
def revoke_role(sub, role):
    account = account_rules.find(actor(), sub, write=True, action="role.revoke")
    roles.revoke_role(actor(), account, role)
    return ok(account_rules.represent(actor(), account), etag=account_rules.etag(account))


# -- units ----------------------------------------------------------------------------------------------------
def _unit_id(value: str) -> int:
    """The path's unit id; anything that is not one is answered as an unknown unit."""
    return int(value) if NUMBER.match(value) and 0 < int(value) <= 2**31 - 1 else -1


@bp.route("/units", methods=["GET"])
def list_units():
    rows = units.listing(actor(), include_closed=flag("include_closed"))
    return ok({"items": [units.represent(u) for u in rows]})


@bp.route("/units", methods=["POST"])
def create_unit():
    data = body("UnitCreate")
    data["valid_from"] = parse_date(data.get("valid_from"))
    unit = units.create(actor(), data)
    return ok(units.represent(unit), 201, etag=etag_of(units.represent(unit)))


@bp.route("/units/import", methods=["POST"])
def import_units():
    report = importing.import_units(actor(), csv_body(), dry_run=flag("dry_run"))
    return ok(report.as_dict(), 200 if not report.committed else 201)


@bp.route("/units/merge", methods=["POST"])
def merge_units():
    data = body("UnitMerge")
    target = units.merge(actor(), data["sources"], data["target_id"], parse_date(data.get("effective_on")))
    return ok(units.represent(target))


@bp.route("/units/<unit_id>", methods=["GET"])
def read_unit(unit_id):
    unit = units.get(actor(), _unit_id(unit_id))
    return ok(units.represent(unit), etag=etag_of(units.represent(unit)))


@bp.route("/units/<unit_id>", methods=["PATCH"])
def update_unit(unit_id):
    unit = units.get(actor(), _unit_id(unit_id), action="unit.update")
    if_match(etag_of(units.represent(unit)), unit_id)
    unit = units.update_unit(actor(), unit, body("UnitPatch"))
    return ok(units.represent(unit), etag=etag_of(units.represent(unit)))


@bp.route("/units/<unit_id>/move", methods=["POST"])
def move_unit(unit_id):
    unit = units.get(actor(), _unit_id(unit_id), action="unit.move")
    data = body("UnitMove")
    unit = units.move(actor(), unit, data["parent_id"], parse_date(data.get("effective_on")))
    return ok(units.represent(unit))


# -- roles ----------------------------------------------------------------------------------------------------
@bp.route("/roles", methods=["GET"])
def list_roles():
    return ok({"items": [roles.represent(r, n) for r, n in roles.listing(actor())]})


@bp.route("/roles", methods=["POST"])
def create_role():
    role = roles.create(actor(), body("RoleCreate"))
    return ok(roles.represent(role), 201, etag=etag_of(roles.represent(role)))


@bp.route("/roles/<code>", methods=["GET"])
def read_role(code):
    role = roles.get(actor(), code)
    return ok(roles.represent(role), etag=etag_of(roles.represent(role)))


@bp.route("/roles/<code>", methods=["PATCH"])
def update_role(code):
    role = roles.get(actor(), code)
    if_match(etag_of(roles.represent(role)), code)
    role = roles.update(actor(), role, body("RolePatch"))
    return ok(roles.represent(role), etag=etag_of(roles.represent(role)))


# -- clients and keys ------------------------------------------------------------------------------------------
@bp.route("/clients", methods=["GET"])
def list_clients():
    return ok({"items": [clients.represent(c) for c in clients.listing(actor())]})


@bp.route("/clients", methods=["POST"])
def create_client():
    client, secret = clients.create(actor(), body("ClientSettings"))
    shown = clients.represent(client)
    if secret:
        shown["client_secret"] = secret
    return ok(shown, 201, etag=etag_of(clients.represent(client)))


@bp.route("/clients/<client_id>", methods=["GET"])
def read_client(client_id):
    client = clients.get(actor(), client_id)
    return ok(clients.represent(client), etag=etag_of(clients.represent(client)))


@bp.route("/clients/<client_id>", methods=["PATCH"])
def update_client(client_id):
    client = clients.get(actor(), client_id, write=True)
    if_match(etag_of(clients.represent(client)), client_id)
    client = clients.update(actor(), client, body("ClientSettings"))
    return ok(clients.represent(client), etag=etag_of(clients.represent(client)))


@bp.route("/clients/<client_id>/secret", methods=["POST"])
def rotate_secret(client_id):
    client = clients.get(actor(), client_id, write=True)
    return ok({"client_id": client.client_id, "client_secret": clients.rotate_secret(actor(), client)})


@bp.route("/clients/<client_id>/consents", methods=["GET"])
def client_consents(client_id):
    limit, cursor = page()
    client = clients.get(actor(), client_id)
    items, next_cursor = clients.consents(actor(), client, limit=limit, after=cursor)
    return paged(items, next_cursor, "admin_api.client_consents", client_id=client_id, limit=limit)


@bp.route("/clients/<client_id>/consents/<sub>", methods=["DELETE"])
def revoke_consent(client_id, sub):
    client = clients.get(actor(), client_id, write=True)
    clients.revoke_consent(actor(), client, sub)
    return ok({"ok": True})


@bp.route("/keys", methods=["GET"])
def list_keys():
    moment = now()
    return ok({"items": [keys.represent(k, moment) for k in keys.listing(actor())]})


# -- trusted certification authorities -------------------------------------------------------------------------
@bp.route("/trust", methods=["GET"])
def list_trust():
    return ok({"items": [trust.represent(e) for e in trust.listing(actor())],
               "crls": [trust.represent_crl(c) for c in trust.crl_listing(actor())]})


@bp.route("/trust", methods=["POST"])
def add_trust():
    require(actor(), "trust.write", "trust.add")  # before reading the body
    file_name = arg("file_name", 200) or ""
    added = trust.add(actor(), file_body(CERTIFICATE_MEDIA_TYPES, MAX_FILE_BYTES), file_name)
    return ok({"items": [trust.represent(e) for e in added]}, 201)


@bp.route("/trust/crls", methods=["POST"])
def add_trust_crl():
    require(actor(), "trust.write", "trust.add_crl")  # before reading the body (up to 20 MiB)
    return ok(trust.represent_crl(trust.add_crl(actor(), file_body(CRL_MEDIA_TYPES, MAX_CRL_BYTES))), 201)


@bp.route("/trust/<fingerprint>", methods=["DELETE"])
def remove_trust(fingerprint):
    return ok({"items": [trust.represent(e) for e in trust.remove(actor(), fingerprint)]})


# -- audit ----------------------------------------------------------------------------------------------------
def _audit_query(limit=50, cursor=None) -> AuditQuery:
    stamps = {}
    for name in ("since", "until"):
        raw = arg(name, 40, empty_ok=False)
        try:
            stamps[name] = datetime.fromisoformat(raw.replace("Z", "+00:00")) if raw else None
        except ValueError:
            stamps[name] = "invalid"
        if stamps[name] == "invalid" or (stamps[name] is not None and stamps[name].tzinfo is None):
            raise refuse(actor(), f"api.{request.endpoint}", "invalid_parameter",
                         _("Times need a date, a time and a zone, e.g. 2026-01-31T08:00:00+07:00."), status=400,
                         fields={name: "field.invalid"})
    return AuditQuery(tag=arg("tag", 80), account=arg("account", 64), client_id=arg("client_id", 64),
                      ip=arg("ip", 45), since=stamps["since"], until=stamps["until"], limit=limit, after=cursor)


@bp.route("/audit/events", methods=["GET"])
def audit_events():
    limit, cursor = page()
    rows, next_cursor = audit.search(actor(), _audit_query(limit, cursor))
    subs = audit.subs_of(rows)
    return paged([audit.represent(e, subs) for e in rows], next_cursor, "admin_api.audit_events",
                 **{k: v for k, v in request.args.items() if k != "cursor"})


@bp.route("/audit/events.csv", methods=["GET"])
def audit_export():
    chunks = audit.export_csv(actor(), _audit_query())
    response = Response(stream_with_context(chunks), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="motid-audit.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
