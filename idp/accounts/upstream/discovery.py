"""Talking to an upstream: every exchange through :mod:`idp.net` (one deadline, a size cap, no private
targets), the discovery document (OpenID Connect Discovery 1.0 §4) and the JWKS, cached per process; an
unknown ``kid`` refetches the JWKS at most once per ``IDP_UPSTREAM_JWKS_REFETCH_SECONDS`` per provider.

https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
"""
from __future__ import annotations

import json
import threading
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from flask import current_app
from joserfc import jwk
from joserfc.errors import JoseError

from ... import net
from ...clock import now as clock_now
from ...config import is_loopback_host
from .errors import UpstreamTimedOut, UpstreamUnavailable
from .profiles import PROFILES

MAX_BYTES = 256 * 1024
METADATA_TTL = timedelta(minutes=5)  # short: an upstream's endpoint change reaches every node soon
JWKS_TTL = timedelta(hours=1)  # keys are also refetched at once when an ID token names an unknown kid
REQUIRED = ("authorization_endpoint", "token_endpoint", "jwks_uri")


def secure_url(url, config) -> bool:
    """https, or http on a loopback host while MotID itself runs on loopback (development, tests)."""
    try:
        parts = urlsplit(url)
    except (ValueError, TypeError):
        return False
    if parts.scheme == "https" and parts.hostname:
        return True
    return parts.scheme == "http" and is_loopback_host(parts.hostname) and net.loopback_allowed(config)


def fetch_json(method: str, url: str, *, data: dict | None = None, headers: dict | None = None,
               ok_statuses=(200,)) -> tuple[int, dict]:
    """One guarded exchange whose answer must be a JSON object; (status, object)."""
    body = None
    headers = {"Accept": "application/json", **(headers or {})}
    if data is not None:
        body = urlencode(data).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        response = net.request(method, url, data=body, headers=headers, max_bytes=MAX_BYTES)
    except net.FetchError as exc:
        slow = exc.reason == "deadline passed"  # net's reason when its one deadline ran out
        raise (UpstreamTimedOut if slow else UpstreamUnavailable)(f"{urlsplit(url).netloc}: {exc.reason}") from None
    if response.status not in ok_statuses:
        raise UpstreamUnavailable(f"{urlsplit(url).netloc}: HTTP {response.status}")
    try:
        document = json.loads(response.body)
    except ValueError:
        raise UpstreamUnavailable(f"{urlsplit(url).netloc}: not JSON") from None
    if not isinstance(document, dict):
        raise UpstreamUnavailable(f"{urlsplit(url).netloc}: not a JSON object")
    return response.status, document


class UpstreamCache:
    """Discovery documents and key sets, per process and per provider, keyed by what they came from so
    a changed issuer or ``jwks_uri`` is fetched afresh (the registry also forgets a changed provider)."""

    def __init__(self):
        self._metadata: dict = {}
        self._keys: dict = {}
        self._refetched: dict = {}  # provider name -> when an unknown kid last made us fetch its JWKS
        self._lock = threading.Lock()

    def forget(self, name: str) -> None:
        with self._lock:
            self._metadata.pop(name, None)
            self._keys.pop(name, None)
            self._refetched.pop(name, None)

    def metadata(self, provider) -> dict:
        """The provider's endpoints: its discovery document (if the profile has one), overridden by
        the endpoints an administrator set."""
        now = clock_now()
        key = (provider.issuer, json.dumps(provider.endpoints or {}, sort_keys=True))
        cached = self._metadata.get(provider.name)
        if cached and cached[0] == key and now - cached[1] < METADATA_TTL:
            return cached[2]
        document = _discover(provider) if PROFILES[provider.profile].discovery else {}
        document = {**document, **(provider.endpoints or {})}
        self._check(provider, document)
        with self._lock:
            self._metadata[provider.name] = (key, now, document)
        return document

    def keys(self, provider, metadata: dict, *, refresh: bool = False) -> jwk.KeySet:
        """The upstream's signing keys; ``refresh`` fetches them again (an ID token named an unknown kid)."""
        now = clock_now()
        uri = metadata["jwks_uri"]
        cached = self._keys.get(provider.name)
        if cached and cached[0] == uri and (now - cached[1] < JWKS_TTL if not refresh
                                            else not self._may_refetch(provider.name, now)):
            return cached[2]
        _, document = fetch_json("GET", uri)
        signing = [k for k in document.get("keys") or [] if isinstance(k, dict) and k.get("use", "sig") == "sig"]
        try:
            key_set = jwk.KeySet.import_key_set({"keys": signing})
        except (JoseError, ValueError, TypeError, KeyError):
            raise UpstreamUnavailable(f"{urlsplit(uri).netloc}: unusable JWKS") from None
        with self._lock:
            self._keys[provider.name] = (uri, now, key_set)
        return key_set

    def _may_refetch(self, name: str, now) -> bool:
        """The refetch floor: an unknown kid fetches the JWKS again at most once per
        ``IDP_UPSTREAM_JWKS_REFETCH_SECONDS`` per provider, so tokens with made-up kids cost the upstream
        nothing more (they fail as "unknown key" on the cached set). Per process, like the cache it guards:
        a floor shared across processes would leave the other processes' caches without a rotated key."""
        floor = timedelta(seconds=current_app.config["IDP_UPSTREAM_JWKS_REFETCH_SECONDS"])
        with self._lock:
            last = self._refetched.get(name)
            if last is not None and timedelta(0) <= now - last < floor:
                return False
            self._refetched[name] = now
            return True

    @staticmethod
    def _check(provider, document: dict) -> None:
        needed = REQUIRED if PROFILES[provider.profile].openid else REQUIRED[:2]
        for name in needed:
            if not secure_url(document.get(name), current_app.config):
                raise UpstreamUnavailable(f"{provider.name}: {name} missing or not https")


def _discover(provider) -> dict:
    url = provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
    _, document = fetch_json("GET", url)
    if document.get("issuer") != provider.issuer:  # Discovery §4.3: exactly the issuer asked for
        raise UpstreamUnavailable(f"{provider.name}: discovery names another issuer")
    return document


def cache() -> UpstreamCache:
    return current_app.extensions.setdefault("idp.upstream.cache", UpstreamCache())
