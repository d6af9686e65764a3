"""The OpenAPI 3.1 description of the administration API, served at ``/admin/api/v1/openapi.json``.

Its schemas (:mod:`.schemas`) are also the API's input contract: request bodies are validated
against them before a view sees them, so the document and the behaviour cannot drift apart; tests
run schemathesis against it.
"""
from __future__ import annotations

from functools import lru_cache

from flask import current_app

from . import responses
from .blueprint import bp
from .schemas import CERTIFICATE_MEDIA_TYPES, CRL_MEDIA_TYPES, INT32, SCHEMAS, STAMP, ref, text

ADMIN_SCOPES_DOC = {
    "admin:accounts": "Accounts, units and roles",
    "admin:clients": "Applications (OIDC clients), their consents, signing keys (read)",
    "admin:audit": "The audit log",
    "admin:trust": "Trusted certification authorities and revocation lists, upstream identity providers (changes: "
                   "administrators in person only)",
}

PARAMS = {
    "limit": {"name": "limit", "in": "query", "description": "page size, at most 100 (larger is refused)",
              "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}},
    "cursor": {"name": "cursor", "in": "query", "description": "the next_cursor of the previous page",
               "schema": {"type": "string", "maxLength": 20, "pattern": "^[0-9]*$"}},  # empty: the first page
    "if_match": {"name": "If-Match", "in": "header", "required": True,
                 "description": "the ETag of the resource as last read (RFC 9110 §13.1.1)",
                 "schema": {"type": "string", "maxLength": 100}},
}
PATH = {
    "sub": {"name": "sub", "in": "path", "required": True, "schema": text(64, 1)},
    "unit_id": {"name": "unit_id", "in": "path", "required": True, "schema": INT32},
    "code": {"name": "code", "in": "path", "required": True, "schema": text(80, 1)},
    "client_id": {"name": "client_id", "in": "path", "required": True, "schema": text(64, 1)},
    "kid": {"name": "kid", "in": "path", "required": True, "schema": text(64, 1)},
    "role": {"name": "role", "in": "path", "required": True, "schema": text(80, 1)},
    "upstream": {"name": "name", "in": "path", "required": True, "schema": text(40, 1)},
    "fingerprint": {"name": "fingerprint", "in": "path", "required": True,
                    "description": "the SHA-256 fingerprint (hex), or a prefix of at least 8 digits matching one CA",
                    "schema": {"type": "string", "pattern": "^[0-9A-Fa-f:]{8,95}$"}},
}
PROBLEM = {"description": "a problem (RFC 9457)",
           "content": {"application/problem+json": {"schema": ref("Problem")}}}


def query(name: str, schema: dict, description: str = "") -> dict:
    return {"name": name, "in": "query", "schema": schema, "description": description}


def op(summary: str, scope: str, *, ok: int = 200, schema: str | None = None, body: str | None = None,
       params: list | None = None, etag: bool = False, media: str = "application/json", csv_body: bool = False,
       file_body: tuple[str, ...] = ()):
    success = {"description": "success"}
    if schema:
        success["content"] = {media: {"schema": ref(schema) if media == "application/json" else {"type": "string"}}}
    if etag:
        success["headers"] = {"ETag": {"schema": {"type": "string"}}}
    operation = {"summary": summary, "security": [{"oauth2": [scope]}], "parameters": params or [],
                 "responses": {str(ok): success, "default": PROBLEM}}
    if body:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(body)}}}
    if csv_body:
        operation["requestBody"] = {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
    if file_body:
        operation["requestBody"] = {"required": True, "content": {
            media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in file_body}}
    return operation


A, C, U, T = "admin:accounts", "admin:clients", "admin:audit", "admin:trust"
LIST = [PARAMS["limit"], PARAMS["cursor"]]
DRY_RUN = query("dry_run", {"type": "boolean", "default": False}, "check only; commit nothing")

PATHS = {
    "/accounts": {
        "get": op("Search accounts (name prefix, ID number, tax code, email or phone)", A, schema="AccountList",
                  params=[query("q", text(254)), query("kind", {"enum": ["citizen", "business", "officer", "admin"]}),
                          query("status", {"enum": ["active", "locked", "disabled"]}), *LIST]),
        "post": op("Create an officer", A, ok=201, schema="Account", body="AccountCreate")},
    "/accounts/import": {
        "post": op("Create officers from CSV (UTF-8; columns full_name, unit_code and optionally citizen_id, "
                   "email, phone, position, roles, unit_code_list, locale), all or nothing", A, ok=201,
                   schema="ImportReport", params=[DRY_RUN], csv_body=True)},
    "/accounts/{sub}": {
        "get": op("Read an account", A, schema="Account", params=[PATH["sub"]], etag=True),
        "patch": op("Change an account", A, schema="Account", body="AccountPatch",
                    params=[PATH["sub"], PARAMS["if_match"]], etag=True)},
    **{f"/accounts/{{sub}}/{action}": {"post": op(summary, A, schema="ActionResult", params=[PATH["sub"]])}
       for action, summary in (("disable", "Disable (ends every session)"), ("enable", "Enable"),
                               ("unlock", "Lift a lockout"),
                               ("password-reset", "Force a password reset (mails a link)"),
                               ("end-sessions", "End every session (applications are told)"),
                               ("second-factor-reset", "Remove the second factor (lost phone)"))},
    "/accounts/{sub}/events": {
        "get": op("Recent audit events of an account", A, schema="EventList", params=[PATH["sub"], *LIST])},
    "/accounts/{sub}/roles": {
        "post": op("Give a role within a unit", A, ok=201, schema="Account", body="RoleGrant", params=[PATH["sub"]])},
    "/accounts/{sub}/roles/{role}": {
        "delete": op("Take a role away", A, schema="Account", params=[PATH["sub"], PATH["role"]])},
    "/units": {
        "get": op("The unit tree (current units; include_closed for history)", A, schema="UnitList",
                  params=[query("include_closed", {"type": "boolean", "default": False})]),
        "post": op("Create a unit", A, ok=201, schema="Unit", body="UnitCreate")},
    "/units/import": {
        "post": op("Create or update units from CSV (code, code_list, name, kind, parent_code, "
                   "parent_code_list, valid_from), all or nothing", A, ok=201, schema="ImportReport",
                   params=[DRY_RUN], csv_body=True)},
    "/units/merge": {"post": op("Merge units into one (history kept)", A, schema="Unit", body="UnitMerge")},
    "/units/{unit_id}": {
        "get": op("Read a unit", A, schema="Unit", params=[PATH["unit_id"]], etag=True),
        "patch": op("Rename or recode a unit", A, schema="Unit", body="UnitPatch",
                    params=[PATH["unit_id"], PARAMS["if_match"]], etag=True)},
    "/units/{unit_id}/move": {
        "post": op("Place a unit under another", A, schema="Unit", body="UnitMove", params=[PATH["unit_id"]])},
    "/roles": {
        "get": op("Roles", A, schema="RoleList"),
        "post": op("Define a role", A, ok=201, schema="Role", body="RoleCreate")},
    "/roles/{code}": {
        "get": op("Read a role", A, schema="Role", params=[PATH["code"]], etag=True),
        "patch": op("Change a role's name, description or required assurance level", A, schema="Role",
                    body="RolePatch", params=[PATH["code"], PARAMS["if_match"]], etag=True)},
    "/clients": {
        "get": op("Applications", C, schema="ClientList"),
        "post": op("Register an application (the secret is in this response only)", C, ok=201, schema="Client",
                   body="ClientSettings")},
    "/clients/{client_id}": {
        "get": op("Read an application", C, schema="Client", params=[PATH["client_id"]], etag=True),
        "patch": op("Change an application", C, schema="Client", body="ClientSettings",
                    params=[PATH["client_id"], PARAMS["if_match"]], etag=True)},
    "/clients/{client_id}/secret": {
        "post": op("Issue a new secret (shown once; the old one stops working)", C, schema="Secret",
                   params=[PATH["client_id"]])},
    "/clients/{client_id}/consents": {
        "get": op("Consents people gave this application", C, schema="ConsentList",
                  params=[PATH["client_id"], *LIST])},
    "/clients/{client_id}/consents/{sub}": {
        "delete": op("Withdraw a person's consent (ends the tokens issued from it)", C, schema="ActionResult",
                     params=[PATH["client_id"], PATH["sub"]])},
    "/clients/{client_id}/token-exchange": {
        "get": op("The services this application may obtain tokens for (RFC 8693 token exchange, RFC 8707 "
                  "resource indicators), with the scopes allowed for each", C, schema="ExchangeRuleList",
                  params=[PATH["client_id"]]),
        "put": op("Allow a service (or change the scopes allowed for it)", C, schema="ExchangeRuleList",
                  body="ExchangeRule", params=[PATH["client_id"]]),
        "delete": op("Stop allowing a service (tokens already issued run out)", C, schema="ExchangeRuleList",
                     params=[PATH["client_id"], {**query("audience", text(2000, 1)), "required": True}])},
    "/keys": {"get": op("Signing keys and their state", C, schema="KeyList")},
    "/trust": {
        "get": op("Trusted certification authorities (roots and intermediates) and the revocation lists kept", T,
                  schema="Trust"),
        "post": op("Trust the CA certificates in one file (PEM with one or more, DER, .cer): all of them or none; "
                   "they count for the next certificate validated", T, ok=201, schema="TrustedCAList",
                   params=[query("file_name", text(200), "the uploaded file's name, kept in the stored file's")],
                   file_body=CERTIFICATE_MEDIA_TYPES)},
    "/trust/crls": {
        "post": op("Keep a certificate revocation list (PEM or DER; replaces the one of the same issuer)", T, ok=201,
                   schema="Crl", file_body=CRL_MEDIA_TYPES)},
    "/trust/{fingerprint}": {
        "delete": op("Stop trusting a CA (certificates chaining only through it stop validating at once)", T,
                     schema="TrustedCAList", params=[PATH["fingerprint"]])},
    "/upstreams": {
        "get": op("Upstream identity providers people log in through, in button order", T, schema="UpstreamList"),
        "post": op("Register an upstream identity provider (VNeID, DVCQG, OpenID Connect, Zalo); the client secret "
                   "is write-only", T, ok=201, schema="Upstream", body="UpstreamCreate", etag=True)},
    "/upstreams/{name}": {
        "get": op("Read an upstream provider", T, schema="Upstream", params=[PATH["upstream"]], etag=True),
        "patch": op("Change an upstream provider (a secret given replaces the stored one)", T, schema="Upstream",
                    body="UpstreamPatch", params=[PATH["upstream"], PARAMS["if_match"]], etag=True),
        "delete": op("Remove an upstream provider (its button goes at once; account links stay, unused)", T,
                     schema="ActionResult", params=[PATH["upstream"]])},
    "/audit/events": {
        "get": op("Audit events, newest first", U, schema="EventList",
                  params=[query("tag", text(80), "exact, or a prefix ending in ':'"),
                          query("account", text(64), "sub, as actor or subject"), query("client_id", text(64)),
                          query("ip", text(45)), query("since", STAMP), query("until", STAMP), *LIST])},
    "/audit/events.csv": {
        "get": op("Audit events as CSV (at most 100,000 rows; the export is itself recorded)", U,
                  schema="Event", media="text/csv",
                  params=[query("tag", text(80)), query("account", text(64)), query("client_id", text(64)),
                          query("ip", text(45)), query("since", STAMP), query("until", STAMP)])},
}


@lru_cache(maxsize=4)
def document(issuer: str) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "MotID administration API", "version": "1",
                 "description": "Accounts, units, roles, applications, keys, trusted certification authorities, "
                                "upstream identity providers and the audit log of MotID. "
                                "Authorised by MotID access tokens: an administrator's own (assurance level 2, "
                                "limited to what their roles allow) or an application's client-credentials "
                                "token with the admin scopes an administrator granted it; a DPoP-bound token "
                                "(RFC 9449) with the DPoP scheme and a proof. Errors are RFC 9457 "
                                "problem details; updates need If-Match."},
        "servers": [{"url": issuer + "/admin/api/v1"}],
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"oauth2": {"type": "oauth2", "flows": {
                "clientCredentials": {"tokenUrl": issuer + "/token", "scopes": ADMIN_SCOPES_DOC},
                "authorizationCode": {"authorizationUrl": issuer + "/authorize", "tokenUrl": issuer + "/token",
                                      "scopes": ADMIN_SCOPES_DOC}}}},
        },
        "paths": PATHS,
    }


@bp.route("/openapi.json")
def openapi():
    response = responses.ok(document(current_app.config["IDP_ISSUER"]))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
