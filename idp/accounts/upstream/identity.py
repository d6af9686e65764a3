"""The verified identity an upstream login yields, whatever the provider (:mod:`.profiles` builds it)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class UpstreamIdentity:
    """Who the upstream says logged in, normalised to MotID's terms.

    ``acr`` is MotID's level (:mod:`idp.accounts.assurance`), ``amr`` always includes ``fed`` (RFC 8176);
    ``auth_time`` is the upstream's when it sent one. ``citizen_id`` is a checked 12-digit personal number
    (never from Zalo), ``legacy_id`` an old 9-digit CMND number (DVCQG only), ``tax_code`` an organisation's
    MST when the upstream account is an organisation's.
    """

    provider: str
    subject: str
    acr: str
    amr: tuple[str, ...] = ("fed",)
    auth_time: datetime | None = None
    citizen_id: str | None = None
    legacy_id: str | None = None
    name: str | None = None
    birthdate: date | None = None
    gender: str | None = None
    email: str | None = None
    phone: str | None = None
    tax_code: str | None = None
    picture: str | None = None
    next_url: str | None = None  # where the login started (kept with the pending login), for the view
    upstream_sid: str | None = None  # the upstream session's ``sid`` (for its back-channel logout)
    id_token: str | None = field(default=None, repr=False)  # as received, for ``id_token_hint`` at logout
    claims: dict = field(default_factory=dict, repr=False, compare=False)  # as received, for the audit log
