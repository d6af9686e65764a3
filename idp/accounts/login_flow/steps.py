"""What the login flow answers a view."""
from __future__ import annotations

from dataclasses import dataclass

from ..models import Account, SsoSession


@dataclass(frozen=True)
class Step:
    """What the browser is shown next.

    ``location``: where to go (already checked to stay on the site), with ``notice`` flashed first;
    otherwise ``problem`` names what the view shows on its own page (``"login_failed"``,
    ``"email_unverified"``, ``"code_wrong"``, ``"rate_limited"``, a passkey message id…).
    ``account`` and ``session`` are whom it concerns and the SSO session it started or raised;
    ``codes`` are new recovery codes, shown once.
    """

    location: str | None = None
    problem: str | None = None
    notice: str | None = None
    account: Account | None = None
    session: SsoSession | None = None
    codes: list[str] | None = None
