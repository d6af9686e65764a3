"""Upstream providers an administrator registers (``idp upstreams …``, the admin console and the admin API,
all through :class:`UpstreamRegistry`): validated, audited (``admin:upstream:add|update|remove``), client
secrets encrypted under the master key.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ... import events
from ...clock import now as clock_now
from ...config import is_loopback_host
from ...db import db
from ...net import loopback_allowed
from .models import UpstreamProvider
from .profiles import PROFILES

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
ENDPOINTS = ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "end_session_endpoint")
FIELDS = ("issuer", "client_id", "client_secret", "token_auth_method", "scopes", "acr_values", "profile",
          "display_name", "position", "enabled", "endpoints")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,100}$")  # RFC 6749 §3.3 scope-token
_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f-\x9f<>]+$")


class InvalidProvider(ValueError):
    """The provider's settings are not acceptable: ``field`` names which, the message says why."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ProviderExists(InvalidProvider):
    """``add`` with a name that is taken."""


class ProviderNotFound(InvalidProvider):
    """``update`` or ``remove`` of a name that is not registered."""


class UpstreamRegistry:
    """Add, change, remove and read upstream providers. The caller's transaction is committed here,
    with its audit event."""

    def __init__(self, master_key, config):
        self.master_key = master_key
        self.config = config

    @classmethod
    def from_app(cls, app=None) -> "UpstreamRegistry":
        app = app or current_app
        return cls(app.extensions["idp.master_key"], app.config)

    def list(self, *, enabled_only: bool = False) -> list[UpstreamProvider]:
        """In button order (``position``, then name): VNeID first by default."""
        query = select(UpstreamProvider).order_by(UpstreamProvider.position, UpstreamProvider.name)
        if enabled_only:
            query = query.where(UpstreamProvider.enabled.is_(True))
        return list(db.session.scalars(query))

    def get(self, name: str) -> UpstreamProvider | None:
        return db.session.scalar(select(UpstreamProvider).where(UpstreamProvider.name == name))

    def client_secret(self, provider: UpstreamProvider) -> str | None:
        return self.master_key.decrypt(provider.client_secret).decode() if provider.client_secret else None

    def add(self, name: str, *, actor=None, now=None, context: dict | None = None, **fields) -> UpstreamProvider:
        """``context``: more for the audit event (e.g. the API client an administrator's token came through)."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidProvider("name", "lower-case letters, digits and hyphens, at most 40")
        if self.get(name) is not None:
            raise ProviderExists("name", f"a provider named {name!r} exists already")
        unknown = set(fields) - set(FIELDS)
        if unknown:
            raise InvalidProvider(sorted(unknown)[0], "unknown setting")
        values = self._validated({**_defaults(fields.get("profile") or "oidc"), **_given(fields)})
        now = now or clock_now()
        provider = UpstreamProvider(name=name, created_at=now, updated_at=now)
        self._apply(provider, values)
        db.session.add(provider)
        events.record("admin:upstream:add", actor=actor, now=now, details={**_summary(name, values), **(context or {})})
        try:
            db.session.commit()
        except IntegrityError:  # the same name added at the same moment elsewhere: the unique key decided
            db.session.rollback()
            raise ProviderExists("name", f"a provider named {name!r} exists already") from None
        return provider

    def update(self, name: str, *, actor=None, now=None, context: dict | None = None, **changes) -> UpstreamProvider:
        provider = self._existing(name)
        unknown = set(changes) - set(FIELDS)
        if unknown:
            raise InvalidProvider(sorted(unknown)[0], "unknown setting")
        changes = _given(changes)
        current = {field: getattr(provider, field) for field in FIELDS if field != "client_secret"}
        values = self._validated({**current, **changes}, secret_stored=provider.client_secret is not None)
        now = now or clock_now()
        self._apply(provider, {k: values[k] for k in changes})
        provider.updated_at = now
        events.record("admin:upstream:update", actor=actor, now=now,
                      details={**_summary(name, changes), **(context or {})})
        db.session.commit()
        _forget_cached(name)
        return provider

    def remove(self, name: str, *, actor=None, now=None, context: dict | None = None) -> None:
        provider = self._existing(name)
        db.session.delete(provider)
        events.record("admin:upstream:remove", actor=actor, now=now or clock_now(),
                      details={"name": name, **(context or {})})
        db.session.commit()
        _forget_cached(name)

    def _existing(self, name: str) -> UpstreamProvider:
        provider = self.get(name)
        if provider is None:
            raise ProviderNotFound("name", f"no provider named {name!r}")
        return provider

    def _apply(self, provider: UpstreamProvider, values: dict) -> None:
        for field, value in values.items():
            if field == "client_secret":
                value = self.master_key.encrypt(value.encode()) if value else None
            setattr(provider, field, value)

    def _validated(self, values: dict, *, secret_stored: bool = False) -> dict:
        """Every setting checked, in the order of :data:`FIELDS`; returns the normalised values."""
        if values.get("profile") not in PROFILES:
            raise InvalidProvider("profile", f"one of {', '.join(PROFILES)}")
        values["issuer"] = self._url("issuer", values.get("issuer"))
        values["client_id"] = _text("client_id", values.get("client_id"), 200)
        if values.get("token_auth_method") not in AUTH_METHODS:
            raise InvalidProvider("token_auth_method", f"one of {', '.join(AUTH_METHODS)}")
        has_secret = bool(values.get("client_secret")) or (secret_stored and "client_secret" not in values)
        if values["token_auth_method"] != "private_key_jwt" and not has_secret:
            raise InvalidProvider("client_secret", f"{values['token_auth_method']} needs a client secret")
        if values.get("client_secret") is not None:
            _text("client_secret", values["client_secret"], 500)
        values["scopes"] = _tokens("scopes", values.get("scopes") or "")
        if PROFILES[values["profile"]].openid and "openid" not in values["scopes"].split():
            raise InvalidProvider("scopes", "an OpenID Connect profile needs the openid scope")
        values["acr_values"] = _tokens("acr_values", values["acr_values"]) if values.get("acr_values") else None
        values["display_name"] = _text("display_name", values.get("display_name"), 100)
        if not isinstance(values.get("position"), int) or not 0 <= values["position"] <= 10_000:
            raise InvalidProvider("position", "a whole number from 0 to 10000")
        values["enabled"] = bool(values.get("enabled"))
        values["endpoints"] = self._endpoints(values.get("endpoints"))
        if not PROFILES[values["profile"]].discovery and not all(
                (values["endpoints"] or {}).get(e) for e in ("authorization_endpoint", "token_endpoint")):
            raise InvalidProvider("endpoints", "this profile has no discovery: give its endpoints")
        return values

    def _endpoints(self, endpoints) -> dict | None:
        if not endpoints:
            return None
        if not isinstance(endpoints, dict) or set(endpoints) - set(ENDPOINTS):
            raise InvalidProvider("endpoints", f"only {', '.join(ENDPOINTS)}")
        return {name: self._url(name, url) for name, url in endpoints.items()}

    def _url(self, field: str, url) -> str:
        """https, or http on loopback while MotID itself runs on loopback (development and tests)."""
        if not isinstance(url, str) or len(url) > 500 or not _PRINTABLE.match(url):
            raise InvalidProvider(field, "a URL is needed")
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 (raises ValueError on a malformed port)
        except ValueError:
            raise InvalidProvider(field, "not a valid URL") from None
        if not parts.hostname or parts.username or parts.password or parts.fragment:
            raise InvalidProvider(field, "an absolute URL without credentials or fragment")
        loopback = is_loopback_host(parts.hostname) and loopback_allowed(self.config)
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise InvalidProvider(field, "must use https")
        return url


def _defaults(profile: str) -> dict:
    spec = PROFILES.get(profile)
    if spec is None:
        return {"profile": profile}
    return {"profile": profile, "token_auth_method": "client_secret_basic" if spec.openid else "client_secret_post",
            "scopes": spec.scopes, "acr_values": spec.acr_values, "display_name": spec.display_name,
            "position": spec.position, "enabled": True, "endpoints": spec.endpoints, "issuer": spec.issuer}


def _given(fields: dict) -> dict:
    return {k: v for k, v in fields.items() if v is not None}


def _text(field: str, value, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit or not _PRINTABLE.match(value):
        raise InvalidProvider(field, f"1 to {limit} printable characters")
    return value.strip()


def _tokens(field: str, value: str) -> str:
    tokens = value.split() if isinstance(value, str) else None
    if tokens is None or not all(_TOKEN.match(t) for t in tokens):
        raise InvalidProvider(field, "space-separated tokens")
    return " ".join(dict.fromkeys(tokens))


def _summary(name: str, values: dict) -> dict:
    """What the audit event keeps: every setting but the secret, of which only its change."""
    details = {"name": name, **{k: v for k, v in values.items() if k != "client_secret"}}
    if values.get("client_secret"):
        details["client_secret"] = "set"
    return details


def _forget_cached(name: str) -> None:
    cache = current_app.extensions.get("idp.upstream.cache")
    if cache is not None:
        cache.forget(name)
