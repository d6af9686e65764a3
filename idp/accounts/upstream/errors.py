"""What can go wrong with an upstream login, as types a login view maps to one page each.

Every error has a ``code`` (stable, for the page and the audit event) and a ``reason`` (for the log
only: it may name a URL or a claim, never a secret).
"""
from __future__ import annotations


class UpstreamError(Exception):
    """Base class: the upstream login did not produce a verified identity."""

    code = "upstream_error"

    def __init__(self, reason: str = ""):
        super().__init__(reason or self.code)
        self.reason = reason or self.code


class UpstreamUnavailable(UpstreamError):
    """The upstream could not be reached, was too slow, or answered something unusable."""

    code = "unavailable"


class UpstreamTimedOut(UpstreamUnavailable):
    """The upstream did not answer within the outbound deadline (:mod:`idp.net`): a gateway timeout."""


class UpstreamDenied(UpstreamError):
    """The upstream answered the authorization request with an ``error`` (e.g. ``access_denied``)."""

    code = "denied"

    def __init__(self, error: str, description: str | None = None):
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description


class StateInvalid(UpstreamError):
    """``state`` missing, unknown, already used, expired, or for another provider."""

    code = "state"


class IssuerMismatch(UpstreamError):
    """RFC 9207: the authorization response's ``iss`` is not the provider's issuer (mix-up), or is
    missing although the provider announces it."""

    code = "issuer"


class TokenRejected(UpstreamError):
    """The token endpoint refused the code, or the ID token failed a check (signature, unknown key,
    ``iss``, ``aud``, ``azp``, ``exp``, ``iat``, ``nonce``, algorithm)."""

    code = "token"


class ClaimsInvalid(UpstreamError):
    """A claim the profile needs is missing or malformed: a personal number that is not 12 digits or
    has an impossible province code, markup or control characters in a name, an impossible date."""

    code = "claims"


class ProviderUnknown(UpstreamError):
    """No enabled provider of that name."""

    code = "provider"
