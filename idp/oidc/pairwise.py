"""Subject identifiers (OIDC Core §8): ``public`` or ``pairwise``, and the sector identifier (OIDC Core
§8.1, OIDC Registration §2 and §5).

A client registered with ``subject_type: pairwise`` sees, for each person, the base64url HMAC-SHA256 of
the sector identifier and the person's public ``sub`` under a server key (``IDP_PAIRWISE_SECRET``, or a
key derived from the master key): stable, the same on every node, different for clients of different
sectors, and not reversible without the key. The sector identifier is the host of the client's
``sector_identifier_uri`` or, without one, the single host of its redirect URIs.

:func:`subject_for` is the only place a client's ``sub`` is computed: ID tokens, access tokens (and so
introspection), UserInfo, refresh-token introspection and back-channel logout tokens all go through it,
and :func:`names_account` checks an ``id_token_hint`` against it.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from urllib.parse import urlsplit

from flask import current_app

from .. import net
from ..security import constant_time_equals

log = logging.getLogger(__name__)

PUBLIC, PAIRWISE = "public", "pairwise"
SUBJECT_TYPES = (PUBLIC, PAIRWISE)
MAX_SECTOR_BYTES = 64 * 1024


def sector_of(meta: dict) -> str | None:
    """The sector identifier (a host name) of a client's metadata, or None when it has none."""
    uri = meta.get("sector_identifier_uri")
    if uri:
        return urlsplit(uri).hostname
    hosts = {urlsplit(uri).hostname for uri in meta.get("redirect_uris") or []}
    return hosts.pop() if len(hosts) == 1 and None not in hosts else None


def _key() -> bytes:
    key = current_app.extensions.get("idp.pairwise_key")
    if key is None:
        configured = current_app.config["IDP_PAIRWISE_SECRET"]
        key = configured.encode() if configured else current_app.extensions["idp.master_key"].derive("pairwise-sub")
        current_app.extensions["idp.pairwise_key"] = key
    return key


def _meta_of(client) -> dict:
    if isinstance(client, str):
        client = current_app.extensions["idp.clients"].cached(client)
    return (getattr(client, "meta", None) or {}) if client is not None else {}


def subject_for(client, public_sub: str) -> str:
    """The ``sub`` that ``client`` (a client, or its client_id) sees for the account whose public sub this is."""
    meta = _meta_of(client)
    if meta.get("subject_type") != PAIRWISE:
        return public_sub
    sector = sector_of(meta) or ""  # validate_metadata guarantees one; "" never collides with a host
    mac = hmac.new(_key(), f"{sector}\x00{public_sub}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def names_account(claims: dict, public_sub: str) -> bool:
    """Whether an ID token's claims (an ``id_token_hint``) name this account, as its audience saw it."""
    aud = claims.get("aud")
    client_id = aud if isinstance(aud, str) else aud[0] if isinstance(aud, list) and len(aud) == 1 else None
    sub = claims.get("sub")
    if not isinstance(sub, str) or not isinstance(client_id, str):
        return False
    return constant_time_equals(sub, subject_for(client_id, public_sub))


# -- registration ----------------------------------------------------------------------------------

def check_metadata(out: dict, invalid) -> None:
    """``subject_type`` and ``sector_identifier_uri`` (OIDC Registration §2, §5); ``invalid``: the
    exception class to raise. The sector document is fetched (through :mod:`idp.net`) at every
    registration or update, and must list every redirect URI."""
    subject_type = out.setdefault("subject_type", PUBLIC)
    if subject_type not in SUBJECT_TYPES:
        raise invalid("subject_type must be public or pairwise")
    uri = out.get("sector_identifier_uri")
    if uri is not None:
        _check_sector_uri(uri, invalid)
        missing = set(out.get("redirect_uris") or []) - set(_fetch_sector(uri, invalid))
        if missing:
            raise invalid(f"sector_identifier_uri does not list the redirect URI {sorted(missing)[0]!r}")
    # A client acting only for itself (client_credentials) never sees a person's sub: no sector needed.
    people = "authorization_code" in (out.get("grant_types") or [])
    if subject_type == PAIRWISE and people and sector_of(out) is None:
        raise invalid("a pairwise client whose redirect URIs are on several hosts (or none) needs a "
                      "sector_identifier_uri")


def _check_sector_uri(uri, invalid) -> None:
    try:
        parts = urlsplit(uri) if isinstance(uri, str) and len(uri) <= 2000 else None
    except ValueError:
        parts = None
    loopback = parts is not None and parts.scheme == "http" and net.loopback_allowed(current_app.config)
    if parts is None or not parts.hostname or parts.fragment or not (parts.scheme == "https" or loopback):
        raise invalid("sector_identifier_uri must be an https URL")


def _fetch_sector(uri: str, invalid) -> list:
    try:
        document = net.get_json(uri, max_bytes=MAX_SECTOR_BYTES)
    except net.FetchError as exc:
        log.info("sector_identifier_uri %s not usable: %s", uri, exc.reason)
        raise invalid("sector_identifier_uri could not be fetched") from None
    if not isinstance(document, list) or not all(isinstance(item, str) for item in document):
        raise invalid("sector_identifier_uri must hold a JSON array of redirect URIs")
    return document
