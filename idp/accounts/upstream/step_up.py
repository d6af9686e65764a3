"""Step-up through the upstream a session came from (issue 14): a session opened by a national e-ID login
at level 1 reaches level 2 by going back to that upstream with the ``acr_values`` that ask for level 2
(VNeID ``2``, DVCQG ``LoA2``), rather than by a MotID second factor the person may not have.

The authorization endpoint asks :func:`route` first; when it answers None (a session not from an
upstream, a profile that cannot vouch for the level, a provider disabled since), the MotID second
factor is the way, as before. On return the same SSO session rises
(:meth:`~..login_flow.LoginFlow.upstream_passed`), so every application keeps its session.
"""
from __future__ import annotations

from ...db import db
from ..assurance import rank
from .models import UpstreamSession
from .profiles import PROFILES
from .registry import UpstreamRegistry


def route(session, wanted_acr: str | None) -> str | None:
    """The name of the upstream that can raise ``session`` to ``wanted_acr``, or None."""
    row = db.session.get(UpstreamSession, session.id) if session is not None else None
    if row is None:
        return None
    provider = UpstreamRegistry.from_app().get(row.provider)
    if provider is None or not provider.enabled:
        return None
    return row.provider if acr_values_for(provider.profile, wanted_acr) else None


def acr_values_named(name: str, wanted_acr: str | None) -> str | None:
    """:func:`acr_values_for` the provider registered as ``name`` (None when unknown or disabled)."""
    provider = UpstreamRegistry.from_app().get(name) if wanted_acr else None
    return acr_values_for(provider.profile, wanted_acr) if provider is not None and provider.enabled else None


def acr_values_for(profile: str, wanted_acr: str | None) -> str | None:
    """What to send as ``acr_values`` to reach ``wanted_acr`` with ``profile``; None when it cannot."""
    known = PROFILES.get(profile)
    levels = (known.step_up if known is not None else None) or {}
    reachable = [level for level in levels if rank(level) >= rank(wanted_acr)]
    return levels[min(reachable, key=rank)] if wanted_acr and reachable else None
