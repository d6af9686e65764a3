"""Roles that require an assurance level (DESIGN §Assurance; ``acr`` as in OIDC Core §2, §3.1.2.1).

A role with ``min_acr`` reaches an application in the ``roles`` claim only from an authentication at
that level or above (:func:`idp.oidc.claims.account_claims` filters by the grant's ``acr``). At the
authorization endpoint, when the roles are asked for (the ``officer`` scope, or the ``roles`` claim),
the level the request needs is the strongest of the client's own requirement and that of every role
the person holds for this client — but only of roles whose level the person can reach (level 2: a
second factor; level 3: a bound certificate that could log in now). A role whose level the person
cannot reach does not stop the login: it is left out of the tokens, and that is recorded
(``oidc:role:withhold``) when the authorization completes.
"""
from __future__ import annotations

from flask import current_app

from .. import events
from ..accounts import assurance


def releasable(account, client_id: str) -> list:
    """The roles the account holds that this client may see: global ones and the client's own."""
    return [grant.role for grant in account.roles if grant.role.client_id in (None, client_id)]


def reachable(account, level: str, *, now) -> bool:
    """Whether the person can authenticate at ``level`` (the same test the step-up itself applies)."""
    if level == assurance.LOA3:
        return current_app.extensions["idp.certificates"].can_log_in(account.id, now=now)
    if level == assurance.LOA2:
        return account.has_second_factor
    return True


def required_level(account, client_id: str, wanted: str | None, current: str | None, *, now) -> str | None:
    """``wanted`` (the client's requirement), raised to the level of each role the session ``current``
    does not satisfy and the person can reach."""
    needs = {role.min_acr for role in releasable(account, client_id)
             if not assurance.satisfies(current, role.min_acr)}
    for level in sorted(needs, key=assurance.rank, reverse=True):
        if assurance.rank(level) <= assurance.rank(wanted):
            break
        if reachable(account, level, now=now):
            return level
    return wanted


def record_withheld(account, client_id: str, acr: str | None, *, now) -> list[str]:
    """Record the roles an authorization at ``acr`` leaves out (the caller commits); their codes."""
    withheld = sorted(role.code for role in releasable(account, client_id)
                      if not assurance.satisfies(acr, role.min_acr))
    if withheld:
        events.record("oidc:role:withhold", subject=account, now=now,
                      details={"client_id": client_id, "roles": withheld, "acr": acr})
    return withheld
