"""Relying applications: metadata validation (RFC 7591 §2, OIDC Registration §2), secrets, and the
Authlib ``ClientMixin`` behaviour on top of the stored row."""
from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import is_loopback_host
from ..db import db, utcnow
from ..keys import ALGORITHMS
from ..security import digest, new_identifier
from ..versions import VersionedCache
from . import mtls_auth, pairwise
from .models import Client

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none",
                "tls_client_auth", "self_signed_tls_client_auth")  # the last two: RFC 8705 §2 (mtls_auth.py)
# Methods that need no client secret: none is kept, a stale one is dropped.
SECRETLESS = ("none", "private_key_jwt", "tls_client_auth", "self_signed_tls_client_auth")
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"  # RFC 8628 §3.4 (kiosks, counter screens)
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # RFC 8693 §2.1
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials", DEVICE_CODE, TOKEN_EXCHANGE)
STANDARD_SCOPES = ("openid", "profile", "email", "phone", "address", "offline_access")
ADMIN_SCOPES = ("admin:accounts", "admin:clients", "admin:audit", "admin:trust")  # the administration API (idp/admin)
# An administrator must allow these per client (admin:* only the province administrator).
RESTRICTED_SCOPES = ("citizen_id", "business", "officer") + ADMIN_SCOPES
SCOPES = STANDARD_SCOPES + RESTRICTED_SCOPES
# Set only by an administrator (idp/admin); a client's own RFC 7592 update keeps them.
ADMIN_SETTINGS = ("default_acr_values", "access_token_lifetime", "id_token_lifetime", "refresh_token_lifetime",
                  "introspection_allowed")
URI_FIELDS = ("logo_uri", "client_uri", "policy_uri", "tos_uri", "jwks_uri", "initiate_login_uri",
              "backchannel_logout_uri", "frontchannel_logout_uri", "sector_identifier_uri")


class InvalidClientMetadata(ValueError):
    """RFC 7591 §3.2.2: ``error`` is invalid_redirect_uri or invalid_client_metadata."""

    def __init__(self, description: str, error: str = "invalid_client_metadata"):
        super().__init__(description)
        self.error = error
        self.description = description


def _split(uri: str, error: str = "invalid_client_metadata"):
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 (raises ValueError on a malformed port)
        return parts
    except ValueError:
        raise InvalidClientMetadata(f"{uri!r} is not a valid URL", error) from None


def _is_https_or_loopback(uri: str) -> bool:
    parts = _split(uri)
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname))


UNSAFE_SCHEMES = ("javascript", "data", "vbscript", "file", "blob", "about")


def _check_redirect_uri(uri, application_type: str) -> None:
    if not isinstance(uri, str) or not uri or len(uri) > 2000:
        raise InvalidClientMetadata("redirect_uris must be non-empty strings", "invalid_redirect_uri")
    parts = _split(uri, "invalid_redirect_uri")
    if parts.scheme.lower() in UNSAFE_SCHEMES:
        raise InvalidClientMetadata(f"redirect URI scheme {parts.scheme!r} is not allowed", "invalid_redirect_uri")
    if not parts.scheme or "#" in uri:
        raise InvalidClientMetadata(f"redirect URI {uri!r} must be absolute and have no fragment",
                                    "invalid_redirect_uri")
    if application_type == "web":
        if not _is_https_or_loopback(uri) or not parts.hostname:
            raise InvalidClientMetadata(f"web redirect URI {uri!r} must use https (or http on loopback)",
                                        "invalid_redirect_uri")
    elif parts.scheme == "https" or (parts.scheme == "http" and not is_loopback_host(parts.hostname)):
        # OIDC Registration §2: native clients use loopback http or a private-use scheme.
        if parts.scheme == "http":
            raise InvalidClientMetadata(f"native redirect URI {uri!r} must be loopback or a custom scheme",
                                        "invalid_redirect_uri")


def validate_metadata(meta: dict, *, default_alg: str = "ES256") -> dict:
    """Return normalised metadata or raise :class:`InvalidClientMetadata` (checks in this order)."""
    if not isinstance(meta, dict):
        raise InvalidClientMetadata("client metadata must be a JSON object")
    out = {key: value for key, value in meta.items() if value is not None}  # null means absent
    _check_flows(out)
    _check_authentication(out)
    _check_uris(out)
    _check_settings(out, default_alg)
    pairwise.check_metadata(out, InvalidClientMetadata)
    return out


def _check_flows(out: dict) -> None:
    """Application type, grant and response types, redirect URIs."""
    application_type = out.setdefault("application_type", "web")
    if application_type not in ("web", "native"):
        raise InvalidClientMetadata("application_type must be web or native")
    for field in ("grant_types", "response_types", "redirect_uris", "post_logout_redirect_uris", "contacts",
                  "request_uris"):
        value = out.get(field)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise InvalidClientMetadata(f"{field} must be an array of strings",
                                        "invalid_redirect_uri" if "redirect" in field else "invalid_client_metadata")
    grant_types = out.setdefault("grant_types", ["authorization_code"])
    response_types = out.setdefault("response_types", ["code"] if "authorization_code" in grant_types else [])
    if not set(grant_types) <= set(GRANT_TYPES):
        raise InvalidClientMetadata(f"grant_types must be a subset of {list(GRANT_TYPES)}")
    if not set(response_types) <= {"code"}:
        raise InvalidClientMetadata("only the response type 'code' is supported")
    if ("code" in response_types) != ("authorization_code" in grant_types):
        raise InvalidClientMetadata("response_types code and grant_types authorization_code go together")
    redirect_uris = out.setdefault("redirect_uris", [])
    if not isinstance(redirect_uris, list):
        raise InvalidClientMetadata("redirect_uris must be an array", "invalid_redirect_uri")
    if "authorization_code" in grant_types and not redirect_uris:
        raise InvalidClientMetadata("redirect_uris is required for the code flow", "invalid_redirect_uri")
    for uri in redirect_uris:
        _check_redirect_uri(uri, application_type)
    for uri in out.get("post_logout_redirect_uris", []) or []:
        _check_redirect_uri(uri, application_type)


def _check_authentication(out: dict) -> None:
    """The token endpoint's authentication method and the keys it needs."""
    method = out.setdefault("token_endpoint_auth_method", "client_secret_basic")
    if method not in AUTH_METHODS:
        raise InvalidClientMetadata(f"token_endpoint_auth_method must be one of {list(AUTH_METHODS)}")
    if method == "none" and "client_credentials" in out["grant_types"]:
        raise InvalidClientMetadata("a public client cannot use client_credentials")
    if method == "none" and TOKEN_EXCHANGE in out["grant_types"]:  # the caller is the actor: it must authenticate
        raise InvalidClientMetadata("a public client cannot use token exchange")
    if method == "private_key_jwt" and not (out.get("jwks") or out.get("jwks_uri")):
        raise InvalidClientMetadata("private_key_jwt needs jwks or jwks_uri")
    if out.get("jwks") is not None and out.get("jwks_uri"):
        raise InvalidClientMetadata("jwks and jwks_uri are mutually exclusive")
    if out.get("jwks") is not None:
        _check_jwks(out["jwks"])
    mtls_auth.check_metadata(out, InvalidClientMetadata)


def _check_uris(out: dict) -> None:
    """The URLs MotID fetches or shows: https, http only on loopback."""
    for uri in out.get("request_uris", []) or []:  # OIDC Registration §2; fetched only through idp/net.py
        if len(uri) > 2000 or not _is_https_or_loopback(uri) or not _split(uri).hostname:
            raise InvalidClientMetadata("request_uris must be https URLs (http only on loopback)")
    for field in URI_FIELDS:
        value = out.get(field)
        if value is not None and (not isinstance(value, str) or not _is_https_or_loopback(value)):
            raise InvalidClientMetadata(f"{field} must be an https URL (http only on loopback)")


def _check_settings(out: dict, default_alg: str) -> None:
    """Algorithms, scope, name, flags, logout URIs and ``default_max_age``."""
    for field in ("id_token_signed_response_alg", "userinfo_signed_response_alg"):
        value = out.get(field)
        if value is not None and value not in ALGORITHMS:
            raise InvalidClientMetadata(f"{field} must be one of {list(ALGORITHMS)}")
    out.setdefault("id_token_signed_response_alg", default_alg)
    request_alg = out.get("request_object_signing_alg")
    if request_alg is not None and request_alg not in ("RS256", "ES256", "none"):
        raise InvalidClientMetadata("request_object_signing_alg must be RS256, ES256 or none")
    scope = out.setdefault("scope", " ".join(STANDARD_SCOPES))
    if not isinstance(scope, str) or not set(scope.split()) <= set(SCOPES):
        raise InvalidClientMetadata(f"scope may contain only {' '.join(SCOPES)}")
    if out.get("client_name") is not None and not isinstance(out["client_name"], str):
        raise InvalidClientMetadata("client_name must be a string")
    for flag in ("require_auth_time", "backchannel_logout_session_required", "frontchannel_logout_session_required",
                 "tls_client_certificate_bound_access_tokens", "dpop_bound_access_tokens",
                 "require_pushed_authorization_requests",
                 "refresh_token_online"):
        if out.get(flag) is not None and not isinstance(out[flag], bool):
            raise InvalidClientMetadata(f"{flag} must be a boolean")
    for field in ("backchannel_logout_uri", "frontchannel_logout_uri"):
        if out.get(field) and "#" in out[field]:
            raise InvalidClientMetadata(f"{field} must not have a fragment")
    max_age = out.get("default_max_age")
    if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int)
                                or not 0 <= max_age <= 10**9):
        raise InvalidClientMetadata("default_max_age must be a whole number of seconds")


def _check_jwks(value) -> None:
    from joserfc import jwk
    try:
        keyset = jwk.KeySet.import_key_set(value)
    except Exception:  # joserfc raises several types for malformed key sets
        raise InvalidClientMetadata("jwks is not a valid JWK Set") from None
    if any(key.is_private for key in keyset.keys):
        raise InvalidClientMetadata("jwks must contain public keys only")


class ClientService:
    def __init__(self, master_key, versions=None):
        self.master_key = master_key
        self._cache = VersionedCache(versions, "clients") if versions is not None else None

    def create(self, meta: dict, *, first_party=False, require_pkce=False, dynamic=False,
               default_alg="ES256") -> tuple[Client, str | None]:
        if isinstance(meta, dict) and meta.get("subject_type") is None:
            meta = {**meta, "subject_type": current_app.config["IDP_DEFAULT_SUBJECT_TYPE"]}
        meta = validate_metadata(meta, default_alg=default_alg)
        client = Client(client_id=new_identifier(), meta=meta, first_party=first_party,
                        require_pkce=require_pkce, dynamic=dynamic)
        secret = self._new_secret(client)
        db.session.add(client)
        db.session.commit()
        return client, secret

    def _new_secret(self, client: Client) -> str | None:
        if client.meta["token_endpoint_auth_method"] in SECRETLESS:
            client.secret = None
            return None
        secret = secrets.token_urlsafe(32)
        client.secret = self.master_key.encrypt(secret.encode())
        return secret

    def update(self, client: Client, meta: dict) -> Client:
        """Validate first, then change: a refused update leaves the client as it was. A client keeps its
        subject type unless the update names one: its people's ``sub`` values must not change by the way."""
        if isinstance(meta, dict) and meta.get("subject_type") is None:
            meta = {**meta, "subject_type": client.meta.get("subject_type", pairwise.PUBLIC)}
        validated = validate_metadata(meta, default_alg=client.meta.get("id_token_signed_response_alg", "ES256"))
        if client.secret is None and validated["token_endpoint_auth_method"] not in SECRETLESS:
            raise InvalidClientMetadata("changing to a secret-based method needs rotate-secret")
        client.meta = validated
        db.session.commit()
        return client

    def rotate_secret(self, client: Client) -> str | None:
        secret = self._new_secret(client)
        db.session.commit()
        return secret

    def delete(self, client: Client) -> None:
        from .models import Consent, Grant
        now = utcnow()
        db.session.query(Grant).filter_by(client_id=client.client_id, revoked_at=None).update(
            {"revoked_at": now, "revoke_reason": "client_deleted"})
        db.session.query(Consent).filter_by(client_id=client.client_id).delete()
        db.session.delete(client)
        db.session.commit()

    def get(self, client_id) -> Client | None:
        if not isinstance(client_id, str) or len(client_id) > 64:
            return None
        return db.session.query(Client).filter_by(client_id=client_id).one_or_none()

    def cached(self, client_id) -> Client | None:
        """The client for the protocol endpoints, from this process's cache (every node drops it within a
        second of any change, :mod:`idp.versions`), detached, with its secret already decrypted. Read-only:
        change clients through :meth:`get`. Unknown ids are not cached, so guessing cannot fill memory."""
        if not isinstance(client_id, str) or len(client_id) > 64:
            return None
        if self._cache is None:
            return self.get(client_id)
        return self._cache.get(client_id, self._load_detached)

    def _load_detached(self, client_id: str) -> Client | None:
        # A session of its own: the entry never shares state with the request's session.
        with Session(db.engine, expire_on_commit=False) as session:
            client = session.execute(select(Client).where(Client.client_id == client_id)).scalar_one_or_none()
            if client is None:
                return None
            session.expunge(client)
        client.clear_secret = self.secret_of(client)
        return client

    def by_registration_token(self, token: str) -> Client | None:
        return db.session.query(Client).filter_by(registration_token=digest(token or "")).one_or_none()

    def secret_of(self, client: Client) -> str | None:
        clear = getattr(client, "clear_secret", None)  # decrypted once by :meth:`cached`
        if clear is not None:
            return clear
        return self.master_key.decrypt(client.secret).decode() if client.secret else None


def service() -> ClientService:
    return current_app.extensions["idp.clients"]
