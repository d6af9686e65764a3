"""The schemas of the administration API's bodies (JSON Schema 2020-12, which OpenAPI 3.1 uses).

They are the API's input contract as well as part of its document (:mod:`.openapi`): request bodies
are validated against them (:mod:`.inputs`) before a view sees them, so the document and the
behaviour cannot drift apart.
"""
from __future__ import annotations

from ...oidc.clients import AUTH_METHODS
from ...oidc.mtls_auth import SUBJECT_FIELDS
from ...oidc.pairwise import SUBJECT_TYPES

INT32 = {"type": "integer", "minimum": 1, "maximum": 2147483647}
TEXT = {"type": "string", "pattern": "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$"}
DATE = {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
STAMP = {"type": "string", "format": "date-time"}
NULLABLE_TEXT = {"type": ["string", "null"]}
MIN_ACR = {"enum": [None, "urn:motid:loa:2", "urn:motid:loa:3"],
           "description": "the assurance level an authentication needs for the role to be released (null: none)"}
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

# Upstream providers: the schema gives shapes only; the registry (idp.accounts.upstream.registry) judges the
# values (profile, https URLs, scope tokens, the secret a method needs) and names the field it refuses.
UPSTREAM_SETTINGS = {
    "profile": {**text(10, 1), "description": "vneid, dvcqg, oidc or zalo: the claim mapping and defaults"},
    "issuer": {**text(500, 1), "description": "the issuer URL (https; discovery is read from it); Zalo's is preset"},
    "client_id": text(200, 1),
    "client_secret": {**text(500, 1), "writeOnly": True,
                      "description": "never returned (see has_secret); in a change, replaces the stored one"},
    "token_auth_method": {**text(30, 1), "description": "client_secret_basic, client_secret_post or private_key_jwt"},
    "scopes": {**text(500), "description": "space-separated; an OpenID Connect profile needs openid"},
    "acr_values": {"type": ["string", "null"], "maxLength": 200, "description": "sent to the upstream (e.g. LoA1)"},
    "display_name": {**text(100, 1), "description": "the login button's text"},
    "position": {"type": "integer", "description": "button order, 0 to 10000: lower first"},
    "enabled": {"type": "boolean"},
    "endpoints": {"type": ["object", "null"], "maxProperties": 5, "additionalProperties": text(500),
                  "description": "endpoints discovery does not give (Zalo): authorization_endpoint, token_endpoint, "
                                 "userinfo_endpoint, jwks_uri, end_session_endpoint"},
}
UPSTREAM_SCHEMAS = {
    "Upstream": {"type": "object", "required": ["name", "profile", "issuer", "client_id", "has_secret", "enabled"],
                 "properties": {"name": {"type": "string"}, "profile": {"type": "string"}, "issuer": {"type": "string"},
                                "client_id": {"type": "string"}, "has_secret": {"type": "boolean"},
                                "token_auth_method": {"type": "string"}, "scopes": {"type": "string"},
                                "acr_values": NULLABLE_TEXT, "display_name": {"type": "string"},
                                "position": {"type": "integer"}, "enabled": {"type": "boolean"},
                                "endpoints": {"type": ["object", "null"]},
                                "redirect_uri": {"type": "string", "description": "to register at the upstream"},
                                "created_at": {"type": "string"}, "updated_at": {"type": "string"}}},
    "UpstreamList": {"type": "object", "required": ["items"],
                     "properties": {"items": {"type": "array", "items": ref("Upstream")}}},
    "UpstreamCreate": {"type": "object", "required": ["name"], "additionalProperties": False,
                       "description": "A new upstream provider; settings not given take the profile's defaults.",
                       "properties": {"name": {**text(40, 1), "description": "lower-case letters, digits, hyphens"},
                                      **UPSTREAM_SETTINGS}},
    "UpstreamPatch": {"type": "object", "minProperties": 1, "additionalProperties": False,
                      "description": "The settings to change; null clears acr_values or endpoints.",
                      "properties": UPSTREAM_SETTINGS},
}

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
                       "`dpop_bound_access_tokens` (RFC 9449 §5.2) makes a DPoP proof mandatory at the token "
                       "endpoint; `require_pushed_authorization_requests` (RFC 9126 §6) is metadata like the "
                       "others. "
                       "In a PATCH, null removes a field.",
        "properties": {"client_name": {"type": ["string", "null"], "maxLength": 200},
                       "redirect_uris": {"type": "array", "maxItems": 20, "items": text(2000)},
                       "post_logout_redirect_uris": {"type": "array", "maxItems": 20, "items": text(2000)},
                       "request_uris": {"type": ["array", "null"], "maxItems": 20, "items": text(2000)},
                       "grant_types": {"type": "array", "maxItems": 5, "items": {
                           "enum": ["authorization_code", "refresh_token", "client_credentials",
                                    "urn:ietf:params:oauth:grant-type:device_code",
                                    "urn:ietf:params:oauth:grant-type:token-exchange"]}},
                       "token_endpoint_auth_method": {"enum": list(AUTH_METHODS)},
                       # RFC 8705 §2.1.2: the one certificate subject of a tls_client_auth client
                       **{name: {"type": ["string", "null"], "maxLength": 1000} for name in SUBJECT_FIELDS},
                       "subject_type": {"enum": [*SUBJECT_TYPES, None]},  # OIDC Core §8
                       "sector_identifier_uri": {"type": ["string", "null"], "maxLength": 2000},
                       "scope": text(1000), "first_party": {"type": "boolean"}, "require_pkce": {"type": "boolean"},
                       "default_acr_values": {"type": ["array", "null"], "maxItems": 3,
                                              "items": {"enum": ["urn:motid:loa:1", "urn:motid:loa:2",
                                                                 "urn:motid:loa:3"]}},
                       "access_token_lifetime": {"type": ["integer", "null"], "minimum": 1, "maximum": 2147483647},
                       "id_token_lifetime": {"type": ["integer", "null"], "minimum": 1, "maximum": 2147483647},
                       "refresh_token_lifetime": {"type": ["integer", "null"], "minimum": 1, "maximum": 2147483647},
                       "introspection_allowed": {"type": ["boolean", "null"]},
                       "dpop_bound_access_tokens": {"type": ["boolean", "null"]},
                       "require_pushed_authorization_requests": {"type": ["boolean", "null"]},
                       "backchannel_logout_uri": {"type": ["string", "null"], "maxLength": 2000},
                       "frontchannel_logout_uri": {"type": ["string", "null"], "maxLength": 2000}},
        "additionalProperties": {"type": ["string", "integer", "boolean", "array", "object", "null"]}},
    "ExchangeRule": {
        "type": "object", "required": ["audience", "scope"], "additionalProperties": False,
        "description": "The application may obtain access tokens for `audience` (a service's logical name, as in "
                       "RFC 8693 `audience`, or its resource URI, as in RFC 8707 `resource`) with at most `scope` "
                       "(space-separated MotID scopes). Putting a rule for an audience already listed changes its "
                       "scope.",
        "properties": {"audience": {**TEXT, "minLength": 1, "maxLength": 2000, "pattern": "^[!-~]+$"},
                       "scope": text(1000, 1)}},
    "ExchangeRuleList": {
        "type": "object", "required": ["client_id", "items"],
        "properties": {"client_id": {"type": "string"}, "items": {"type": "array", "items": {
            "type": "object", "required": ["audience", "scope"],
            "properties": {"audience": {"type": "string"}, "scope": {"type": "string"},
                           "created_at": {"type": "string"}, "updated_at": {"type": "string"}}}}}},
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
                                 "file": {"type": "string", "description": "the name it was added under"}}},
    "TrustedCAList": {"type": "object", "required": ["items"],
                      "properties": {"items": {"type": "array", "items": ref("TrustedCA")}}},
    "Crl": {"type": "object", "required": ["issuer", "last_update", "revoked", "file"],
            "properties": {"issuer": {"type": "string"}, "last_update": {"type": "string"},
                           "next_update": NULLABLE_TEXT, "revoked": {"type": "integer"},
                           "file": {"type": "string", "description": "its name (the issuer's key)"}}},
    "Trust": {"type": "object", "required": ["items", "crls"],
              "properties": {"items": {"type": "array", "items": ref("TrustedCA")},
                             "crls": {"type": "array", "items": ref("Crl")}}},
    **UPSTREAM_SCHEMAS,
}


def body_schema(name: str) -> dict:
    """A request schema with its references resolvable (for the validator)."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "components": {"schemas": SCHEMAS},
            "$ref": f"#/components/schemas/{name}"}
