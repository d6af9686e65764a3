"""The OpenAPI 3.1 description of the administration API, served at ``/admin/api/v1/openapi.json``.

It is also the API's input contract: request bodies are validated against these schemas
(JSON Schema 2020-12, which OpenAPI 3.1 uses) before a view sees them, so the document and the
behaviour cannot drift apart; tests run schemathesis against it.
"""
from __future__ import annotations

from functools import lru_cache

INT32 = {"type": "integer", "minimum": 1, "maximum": 2147483647}
TEXT = {"type": "string", "pattern": "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$"}
DATE = {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
STAMP = {"type": "string", "format": "date-time"}
NULLABLE_TEXT = {"type": ["string", "null"]}
MIN_ACR = {"enum": [None, "urn:motid:loa:2", "urn:motid:loa:3"],
           "description": "the assurance level an authentication needs for the role to be released (null: none)"}
ADMIN_SCOPES_DOC = {
    "admin:accounts": "Accounts, units and roles",
    "admin:clients": "Applications (OIDC clients), their consents, signing keys (read)",
    "admin:audit": "The audit log",
    "admin:trust": "Trusted certification authorities and revocation lists (changes: administrators in person only)",
}
# A certificate file as sent to POST /trust: DER (RFC 2585), PEM (one or more), or just bytes.
CERTIFICATE_MEDIA_TYPES = ("application/pkix-cert", "application/x-pem-file", "application/pem-certificate-chain",
                           "application/octet-stream")
CRL_MEDIA_TYPES = ("application/pkix-crl", "application/x-pem-file", "application/octet-stream")


def text(max_length: int, min_length: int = 0) -> dict:
    return {**TEXT, "maxLength": max_length, "minLength": min_length}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def page_of(item: str) -> dict:
    return {"type": "object", "required": ["items", "next_cursor"],
            "properties": {"items": {"type": "array", "items": ref(item)},
                           "next_cursor": {"type": ["string", "null"]}}}


UNIT_REF = {"type": ["object", "null"], "required": ["id", "code", "code_list", "name"],
            "properties": {"id": {"type": "integer"}, "code": {"type": "string"}, "code_list": {"type": "string"},
                           "name": {"type": "string"}}}

SCHEMAS = {
    "Problem": {
        "type": "object", "required": ["type", "title", "status"],
        "description": "RFC 9457 problem details. `errors` maps a field to a message id and its text; "
                       "`report` is the line-by-line result of a refused CSV import.",
        "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                       "detail": {"type": "string"}, "instance": {"type": "string"},
                       "reason": {"type": "string"},
                       "errors": {"type": "object", "additionalProperties": {
                           "type": "object", "properties": {"code": {"type": "string"},
                                                            "message": {"type": "string"}}}},
                       "report": ref("ImportReport")}},
    "UnitRef": UNIT_REF,
    "Account": {
        "type": "object", "required": ["sub", "kind", "status", "name", "personal_data_masked"],
        "description": "Identifiers of citizens and businesses are masked (•) unless the caller's role needs "
                       "them; every read of such a record is written to the audit log.",
        "properties": {
            "sub": {"type": "string"}, "kind": {"enum": ["citizen", "business", "officer", "admin"]},
            "status": {"enum": ["active", "locked", "disabled"]}, "name": {"type": "string"},
            "full_name": {"type": "string"}, "business_name": NULLABLE_TEXT, "citizen_id": NULLABLE_TEXT,
            "tax_code": NULLABLE_TEXT, "email": NULLABLE_TEXT, "phone": NULLABLE_TEXT, "unit": UNIT_REF,
            "position": NULLABLE_TEXT, "personal_data_masked": {"type": "boolean"},
            "email_verified": {"type": "boolean"}, "locale": {"type": "string"}, "birthdate": NULLABLE_TEXT,
            "locked_until": NULLABLE_TEXT, "has_second_factor": {"type": "boolean"},
            "roles": {"type": "array", "items": {"type": "object", "properties": {
                "code": {"type": "string"}, "unit": UNIT_REF, "client_id": NULLABLE_TEXT}}},
            "created_at": {"type": "string"}, "updated_at": {"type": "string"}}},
    "AccountList": page_of("Account"),
    "AccountCreate": {
        "type": "object", "required": ["full_name", "unit_id"], "additionalProperties": False,
        "description": "A new officer. Without a password, a link to set one is mailed to `email`.",
        "properties": {"full_name": text(200, 1), "unit_id": INT32, "citizen_id": text(20),
                       "email": text(254), "phone": text(20), "position": text(200),
                       "locale": {"enum": ["vi", "en"]}, "password": text(256, 10)}},
    "AccountPatch": {
        "type": "object", "minProperties": 1, "additionalProperties": False,
        "properties": {"full_name": text(200, 1), "email": {"type": ["string", "null"], "maxLength": 254},
                       "phone": {"type": ["string", "null"], "maxLength": 20},
                       "position": {"type": ["string", "null"], "maxLength": 200}, "unit_id": INT32,
                       "locale": {"enum": ["vi", "en"]}}},
    "RoleGrant": {"type": "object", "required": ["role"], "additionalProperties": False,
                  "properties": {"role": text(80, 1), "unit_id": INT32}},
    "ActionResult": {"type": "object", "required": ["ok"],
                     "properties": {"ok": {"type": "boolean"}, "sessions_ended": {"type": "integer"},
                                    "link_sent": {"type": "boolean"}}},
    "ImportReport": {
        "type": "object", "required": ["committed", "created", "problems"],
        "properties": {"committed": {"type": "boolean"},
                       "created": {"type": "array", "items": {"type": "object"}},
                       "problems": {"type": "array", "items": {"type": "object", "properties": {
                           "line": {"type": "integer"}, "errors": {"type": "object"}}}}}},
    "Event": {"type": "object", "required": ["id", "created_at", "tag"],
              "properties": {"id": {"type": "integer"}, "created_at": {"type": "string"}, "tag": {"type": "string"},
                             "actor": NULLABLE_TEXT, "subject": NULLABLE_TEXT, "client_id": NULLABLE_TEXT,
                             "ip": NULLABLE_TEXT, "user_agent": NULLABLE_TEXT, "details": {"type": "object"},
                             "hash": NULLABLE_TEXT}},
    "EventList": page_of("Event"),
    "Unit": {"type": "object", "required": ["id", "code", "code_list", "name", "kind"],
             "properties": {"id": {"type": "integer"}, "code": {"type": "string"},
                            "code_list": {"type": "string"}, "name": {"type": "string"},
                            "kind": {"enum": ["province", "agency", "commune"]},
                            "parent_id": {"type": ["integer", "null"]}, "successor_id": {"type": ["integer", "null"]},
                            "valid_from": NULLABLE_TEXT, "valid_to": NULLABLE_TEXT}},
    "UnitList": {"type": "object", "required": ["items"],
                 "properties": {"items": {"type": "array", "items": ref("Unit")}}},
    "UnitCreate": {"type": "object", "required": ["code", "code_list", "name", "kind"],
                   "additionalProperties": False,
                   "properties": {"code": text(20, 1), "code_list": text(30, 1), "name": text(200, 1),
                                  "kind": {"enum": ["province", "agency", "commune"]}, "parent_id": INT32,
                                  "valid_from": DATE}},
    "UnitPatch": {"type": "object", "minProperties": 1, "additionalProperties": False,
                  "properties": {"code": text(20, 1), "code_list": text(30, 1), "name": text(200, 1),
                                 "kind": {"enum": ["province", "agency", "commune"]}}},
    "UnitMove": {"type": "object", "required": ["parent_id"], "additionalProperties": False,
                 "properties": {"parent_id": {"type": ["integer", "null"], "minimum": 1, "maximum": 2147483647},
                                "effective_on": DATE}},
    "UnitMerge": {"type": "object", "required": ["sources", "target_id"], "additionalProperties": False,
                  "properties": {"sources": {"type": "array", "items": INT32, "minItems": 1, "maxItems": 100},
                                 "target_id": INT32, "effective_on": DATE}},
    "Role": {"type": "object", "required": ["code", "name"],
             "properties": {"code": {"type": "string"}, "name": {"type": "string"},
                            "description": {"type": "string"}, "client_id": NULLABLE_TEXT, "min_acr": MIN_ACR,
                            "admin": {"type": "boolean"}, "holders": {"type": "integer"}}},
    "RoleList": {"type": "object", "required": ["items"],
                 "properties": {"items": {"type": "array", "items": ref("Role")}}},
    "RoleCreate": {"type": "object", "required": ["code", "name"], "additionalProperties": False,
                   "description": "A role for every application (no client_id; province administrator), or one "
                                  "released only to the application `client_id`. With `min_acr`, the role reaches "
                                  "applications only from an authentication at that level: a person who can reach "
                                  "it is asked to step up, anyone else gets tokens without the role.",
                   "properties": {"code": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{1,79}$"},
                                  "name": text(200, 1), "description": text(2000), "client_id": text(64, 1),
                                  "min_acr": MIN_ACR}},
    "RolePatch": {"type": "object", "minProperties": 1, "additionalProperties": False,
                  "properties": {"name": text(200, 1), "description": text(2000), "min_acr": MIN_ACR}},
    "Client": {"type": "object", "required": ["client_id", "metadata"],
               "properties": {"client_id": {"type": "string"}, "metadata": {"type": "object"},
                              "first_party": {"type": "boolean"}, "require_pkce": {"type": "boolean"},
                              "dynamic": {"type": "boolean"}, "has_secret": {"type": "boolean"},
                              "client_secret": {"type": "string", "description": "Only when just created; "
                                                                                 "shown once."},
                              "created_at": {"type": "string"}, "updated_at": {"type": "string"}}},
    "ClientList": {"type": "object", "required": ["items"],
                   "properties": {"items": {"type": "array", "items": ref("Client")}}},
    "ClientSettings": {
        "type": "object", "maxProperties": 40,
        "description": "RFC 7591 client metadata (validated as for registration) plus administrator settings: "
                       "`first_party` (no consent page), `require_pkce`, `default_acr_values` (the assurance the "
                       "application requires), `access_token_lifetime`, `id_token_lifetime`, "
                       "`refresh_token_lifetime` (seconds, at most the server's), `introspection_allowed`. "
                       "In a PATCH, null removes a field.",
        "properties": {"client_name": {"type": ["string", "null"], "maxLength": 200},
                       "redirect_uris": {"type": "array", "maxItems": 20, "items": text(2000)},
                       "post_logout_redirect_uris": {"type": "array", "maxItems": 20, "items": text(2000)},
                       "request_uris": {"type": ["array", "null"], "maxItems": 20, "items": text(2000)},
                       "grant_types": {"type": "array", "maxItems": 3, "items": {
                           "enum": ["authorization_code", "refresh_token", "client_credentials"]}},
                       "token_endpoint_auth_method": {"enum": ["client_secret_basic", "client_secret_post",
                                                               "client_secret_jwt", "private_key_jwt", "none"]},
                       "scope": text(1000), "first_party": {"type": "boolean"}, "require_pkce": {"type": "boolean"},
                       "default_acr_values": {"type": ["array", "null"], "maxItems": 3,
                                              "items": {"enum": ["urn:motid:loa:1", "urn:motid:loa:2",
                                                                 "urn:motid:loa:3"]}},
                       "access_token_lifetime": {"type": ["integer", "null"], "minimum": 1, "maximum": 2147483647},
                       "id_token_lifetime": {"type": ["integer", "null"], "minimum": 1, "maximum": 2147483647},
                       "refresh_token_lifetime": {"type": ["integer", "null"], "minimum": 1, "maximum": 2147483647},
                       "introspection_allowed": {"type": ["boolean", "null"]},
                       "backchannel_logout_uri": {"type": ["string", "null"], "maxLength": 2000},
                       "frontchannel_logout_uri": {"type": ["string", "null"], "maxLength": 2000}},
        "additionalProperties": {"type": ["string", "integer", "boolean", "array", "object", "null"]}},
    "Secret": {"type": "object", "required": ["client_id", "client_secret"],
               "properties": {"client_id": {"type": "string"}, "client_secret": {"type": "string"}}},
    "Consent": {"type": "object", "required": ["id", "sub", "scopes", "granted_at"],
                "properties": {"id": {"type": "integer"}, "sub": {"type": "string"},
                               "scopes": {"type": "array", "items": {"type": "string"}},
                               "granted_at": {"type": "string"}, "name": NULLABLE_TEXT}},
    "ConsentList": page_of("Consent"),
    "Key": {"type": "object", "required": ["kid", "alg", "state"],
            "properties": {"kid": {"type": "string"}, "alg": {"type": "string"},
                           "state": {"enum": ["published", "signing", "retired", "expired"]},
                           "created_at": {"type": "string"}, "activates_at": {"type": "string"},
                           "retired_at": NULLABLE_TEXT, "expires_at": NULLABLE_TEXT}},
    "KeyList": {"type": "object", "required": ["items"],
                "properties": {"items": {"type": "array", "items": ref("Key")}}},
    "TrustedCA": {"type": "object",
                  "required": ["fingerprint", "kind", "subject", "issuer", "serial", "not_before", "not_after", "file"],
                  "description": "A trusted CA certificate: a self-issued one is an anchor (root), any other an "
                                 "intermediate. `fingerprint`: SHA-256 of the DER certificate, hex.",
                  "properties": {"fingerprint": {"type": "string"}, "kind": {"enum": ["anchor", "intermediate"]},
                                 "subject": {"type": "string"}, "issuer": {"type": "string"},
                                 "serial": {"type": "string", "description": "hex"},
                                 "not_before": {"type": "string"}, "not_after": {"type": "string"},
                                 "file": {"type": "string", "description": "its file in keys/trust/"}}},
    "TrustedCAList": {"type": "object", "required": ["items"],
                      "properties": {"items": {"type": "array", "items": ref("TrustedCA")}}},
    "Crl": {"type": "object", "required": ["issuer", "last_update", "revoked", "file"],
            "properties": {"issuer": {"type": "string"}, "last_update": {"type": "string"},
                           "next_update": NULLABLE_TEXT, "revoked": {"type": "integer"},
                           "file": {"type": "string", "description": "its file in keys/trust/crl/"}}},
    "Trust": {"type": "object", "required": ["items", "crls"],
              "properties": {"items": {"type": "array", "items": ref("TrustedCA")},
                             "crls": {"type": "array", "items": ref("Crl")}}},
}

PARAMS = {
    "limit": {"name": "limit", "in": "query", "description": "page size, at most 100 (larger is refused)",
              "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}},
    "cursor": {"name": "cursor", "in": "query", "description": "the next_cursor of the previous page",
               "schema": {"type": "string", "maxLength": 20, "pattern": "^[0-9]+$"}},
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
                 "description": "Accounts, units, roles, applications, keys, trusted certification authorities and the "
                                "audit log of MotID. "
                                "Authorised by MotID access tokens: an administrator's own (assurance level 2, "
                                "limited to what their roles allow) or an application's client-credentials "
                                "token with the admin scopes an administrator granted it. Errors are RFC 9457 "
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


def body_schema(name: str) -> dict:
    """A request schema with its references resolvable (for the validator)."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "components": {"schemas": SCHEMAS},
            "$ref": f"#/components/schemas/{name}"}
