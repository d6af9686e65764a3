"""Resource indicators (RFC 8707) and the audiences a client may obtain tokens for.

One rule serves RFC 8707 and token exchange (RFC 8693, :mod:`.grants.token_exchange`): a client gets
an access token for another service only where an administrator put a row in its table
(:class:`~.models.ExchangePolicy`: audience, scopes at most). The token's ``aud`` is then that service
(and UserInfo, which is MotID's own resource, no longer accepts it), and its scope is cut to what the
row allows (RFC 8707 §2.2: the server may narrow the scope for the resource).

- ``resource`` (RFC 8707 §2) must be an absolute URI without a fragment: ``invalid_target`` otherwise;
- at ``/authorize`` a client may name one resource (two are ``invalid_target``: the login and consent
  round trips carry one value per parameter); it is kept with the code and its grant (as a list, so
  that more can follow), and the token and refresh requests may repeat it, or leave it out (§2.2);
- without a resource at ``/authorize``, a token or refresh request may still name one in the table;
- one token names one service here: two different resources in one token request are ``invalid_target``.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from authlib.oauth2.rfc6749.errors import InvalidScopeError, OAuth2Error
from sqlalchemy import bindparam, select

from ..db import db
from .models import ExchangePolicy

RULES = ExchangePolicy.__table__.c
# Built once: the hot path binds values only.
ALLOWED = select(RULES.audience, RULES.scope).where(RULES.client_id == bindparam("client"),
                                                    RULES.audience.in_(bindparam("audiences", expanding=True)))
MAX_LENGTH = 2000


class InvalidTargetError(OAuth2Error):
    """RFC 8707 §2 and RFC 8693 §2.2.2: no token for the service the request names."""

    error = "invalid_target"


def is_resource_uri(value) -> bool:
    """RFC 8707 §2: an absolute URI (RFC 3986 §4.3) that must not include a fragment."""
    if not isinstance(value, str) or not value or len(value) > MAX_LENGTH or "#" in value:
        return False
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return bool(parts.scheme) and parts.scheme.isascii() and parts.scheme[0].isalpha()


def requested(values, redirect_uri=None) -> list[str]:
    """The ``resource`` values of a request, each checked (RFC 8707 §2), without repeats."""
    out = []
    for value in values or []:
        if not is_resource_uri(value):
            raise InvalidTargetError("A resource must be an absolute URI without a fragment.",
                                     redirect_uri=redirect_uri)
        if value not in out:
            out.append(value)
    return out


def allowed(client_id: str, audiences: list[str]) -> dict[str, set[str]]:
    """The scopes the table allows ``client_id`` for each of ``audiences`` it has a row for."""
    if not audiences:
        return {}
    rows = db.session.connection().execute(ALLOWED, {"client": client_id, "audiences": list(audiences)})
    return {row.audience: set(row.scope.split()) for row in rows}


def check_allowed(client_id: str, audiences: list[str], redirect_uri=None) -> dict[str, set[str]]:
    """Every audience must be in the client's table (``invalid_target`` otherwise)."""
    rules = allowed(client_id, audiences)
    if set(audiences) - set(rules):
        raise InvalidTargetError("This client may not obtain tokens for the requested resource.",
                                 redirect_uri=redirect_uri)
    return rules


def token_target(client_id: str, values, authorized: list[str] | None) -> list[str] | None:
    """The audience of an access token from a token request's ``resource`` values and what the
    authorization named (``authorized``); None: MotID itself (no resource anywhere)."""
    asked = requested(values)
    if len(asked) > 1:
        raise InvalidTargetError("Name one resource per token request.")
    if asked and authorized and asked[0] not in authorized:
        raise InvalidTargetError("The resource was not part of the authorization.")
    target = asked or list(authorized or [])
    if not target:
        return None
    check_allowed(client_id, target)  # the table may have changed since the authorization
    return target


def narrowed_scope(client_id: str, target: list[str] | None, scope: str, *, explicit: bool = False) -> str:
    """``scope`` cut to what the table allows for every audience of ``target``. A scope the client asked
    for by name (``explicit``) that the table does not allow is ``invalid_scope``, not silently dropped."""
    if not target:
        return scope
    rules = check_allowed(client_id, target)
    permitted = set.intersection(*(rules[audience] for audience in target))
    wanted = scope.split()
    if explicit and not set(wanted) <= permitted:
        raise InvalidScopeError("The requested scope is not allowed for this resource.")
    kept = [s for s in wanted if s in permitted]
    if not kept:
        raise InvalidScopeError("None of the granted scopes is allowed for this resource.")
    return " ".join(kept)


def audience_claim(target: list[str] | None, issuer: str):
    """The ``aud`` claim (RFC 7519 §4.1.3): a string for one audience, an array for several."""
    if not target:
        return issuer
    return target[0] if len(target) == 1 else list(target)
