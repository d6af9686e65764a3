"""Who may do what in the administration, checked on the server for every action.

Administrator roles are ordinary :class:`Role` rows held through :class:`AccountRole`; the
grant's unit is the scope. A unit administrator reaches the accounts of that unit and of every
unit below it, and nobody else. An API token adds a second limit: its scopes (``admin:*``).

Every refusal is recorded (``admin:request:refuse``) before it is answered, so an investigator
sees attempts as well as changes. An account out of reach is answered like one that does not
exist, so guessing identifiers reveals nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from .. import events
from ..accounts.models import Account, AccountKind, Role, Unit
from ..clock import now
from ..db import db

PROVINCE_ADMIN = "idp.admin"
UNIT_ADMIN = "idp.unit_admin"
CLIENT_MANAGER = "idp.client_manager"
AUDITOR = "idp.auditor"

# code -> (name, description) as stored in the roles table (data, not interface text).
ADMIN_ROLES = {
    PROVINCE_ADMIN: ("Quản trị MotID cấp tỉnh", "Toàn quyền quản trị MotID"),
    UNIT_ADMIN: ("Quản trị đơn vị", "Tài khoản, vai trò và phiên của đơn vị và các đơn vị trực thuộc"),
    CLIENT_MANAGER: ("Quản lý ứng dụng", "Các ứng dụng kết nối với MotID"),
    AUDITOR: ("Kiểm tra, giám sát", "Xem mọi thông tin, kể cả nhật ký kiểm tra; không thay đổi gì"),
}
STAFF_KINDS = (AccountKind.OFFICER.value, AccountKind.ADMIN.value)

# Capabilities. ``accounts.personal``: citizens' and businesses' identifiers in clear. ``trust.write``:
# the CAs whose certificates log in at level 3 (a wrong anchor lets its holder reach level 3), and the
# upstream identity providers (idp.admin.upstreams: a wrong issuer would log anyone into any account).
# ``clients.privileged``: any change to an application that holds an admin:* scope or is first-party (its
# secret, keys or redirect URI is a way into MotID's administration or, without a consent page, into
# every account that uses it), making one so, or deleting one (idp.admin.clients). The province
# administrator's alone: in the console, with their own token, or as the server's operator (the CLI).
ALL = frozenset({
    "accounts.read", "accounts.write", "accounts.personal", "units.read", "units.write", "roles.read",
    "roles.write", "roles.grant", "roles.grant_admin", "clients.read", "clients.write", "clients.privileged",
    "keys.read", "keys.write", "trust.read", "trust.write", "audit.read",
})
ROLE_CAPABILITIES = {
    PROVINCE_ADMIN: ALL,
    UNIT_ADMIN: frozenset({"accounts.read", "accounts.write", "roles.read", "roles.grant", "units.read"}),
    CLIENT_MANAGER: frozenset({"clients.read", "clients.write", "roles.read", "roles.write", "keys.read"}),
    AUDITOR: frozenset({"accounts.read", "units.read", "roles.read", "clients.read", "keys.read", "trust.read",
                        "audit.read"}),
}
# What an API token's scopes allow at most (RFC 6749 §3.3).
SCOPE_CAPABILITIES = {
    "admin:accounts": frozenset({"accounts.read", "accounts.write", "accounts.personal", "units.read",
                                 "units.write", "roles.read", "roles.write", "roles.grant", "roles.grant_admin"}),
    "admin:clients": frozenset({"clients.read", "clients.write", "clients.privileged", "roles.read", "roles.write",
                                "keys.read"}),
    "admin:audit": frozenset({"audit.read"}),
    "admin:trust": frozenset({"trust.read", "trust.write"}),
}
ADMIN_SCOPES = tuple(SCOPE_CAPABILITIES)
# Automation (client credentials) never sees citizens' identifiers, never makes administrators, never
# changes which CAs are trusted and never changes an application that administers MotID or skips consent.
AUTOMATION_EXCLUDED = frozenset({"accounts.personal", "roles.grant_admin", "trust.write", "clients.privileged"})


class Refused(Exception):
    """An administrative request that is not allowed; already recorded."""

    def __init__(self, status: int, reason: str, detail, fields: dict | None = None):
        super().__init__(reason)
        self.status, self.reason, self.detail, self.fields = status, reason, detail, fields or {}


def ensure_admin_roles() -> dict[str, Role]:
    """The four administrator roles, created on first use (idempotent)."""
    found = {role.code: role for role in db.session.scalars(select(Role).where(Role.code.in_(ADMIN_ROLES)))}
    for code, (name, description) in ADMIN_ROLES.items():
        if code not in found:
            found[code] = Role(code=code, name=name, description=description)
            db.session.add(found[code])
    db.session.flush()
    return found


def unit_tree() -> dict[int, int | None]:
    """unit id → parent id, for every unit (a province has hundreds, the country a few thousand)."""
    return dict(db.session.execute(select(Unit.id, Unit.parent_id)).all())


def subtree(roots: set[int], tree: dict[int, int | None] | None = None) -> set[int]:
    tree = unit_tree() if tree is None else tree
    children: dict[int | None, list[int]] = {}
    for unit_id, parent in tree.items():
        children.setdefault(parent, []).append(unit_id)
    seen, stack = set(), [r for r in roots if r in tree]
    while stack:
        unit_id = stack.pop()
        if unit_id not in seen:
            seen.add(unit_id)
            stack.extend(children.get(unit_id, ()))
    return seen


def admin_grants(account: Account) -> list[tuple[str, int | None]]:
    return [(grant.role.code, grant.unit_id) for grant in account.roles if grant.role.code in ADMIN_ROLES]


@dataclass
class Actor:
    """Who is asking: an administrator (console or their own token) or an application (automation)."""

    account: Account | None
    capabilities: frozenset
    roles: frozenset = frozenset()
    admin_units: frozenset = frozenset()  # where the actor is a unit administrator
    client_id: str | None = None
    scopes: frozenset | None = None  # None in the console
    operator: bool = False  # the server's command line (operator() below)
    _scope_cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def for_account(cls, account: Account, scopes=None, client_id=None) -> Actor:
        grants = admin_grants(account)
        roles = frozenset(code for code, _ in grants)
        capabilities = frozenset().union(*(ROLE_CAPABILITIES[code] for code in roles)) if roles else frozenset()
        if scopes is not None:
            capabilities &= frozenset().union(*(SCOPE_CAPABILITIES.get(s, frozenset()) for s in scopes))
        units = frozenset(unit for code, unit in grants if code == UNIT_ADMIN and unit is not None)
        return cls(account=account, capabilities=capabilities, roles=roles, admin_units=units,
                   client_id=client_id, scopes=None if scopes is None else frozenset(scopes))

    @classmethod
    def for_client(cls, client_id: str, scopes) -> Actor:
        capabilities = frozenset().union(*(SCOPE_CAPABILITIES.get(s, frozenset()) for s in scopes))
        return cls(account=None, capabilities=capabilities - AUTOMATION_EXCLUDED, client_id=client_id,
                   scopes=frozenset(scopes))

    # -- questions ---------------------------------------------------------------------------
    @property
    def is_admin(self) -> bool:
        return bool(self.roles) or self.account is None

    @property
    def account_id(self):
        return self.account.id if self.account is not None else None

    def can(self, capability: str) -> bool:
        return capability in self.capabilities

    def _everywhere(self, write: bool) -> bool:
        if self.account is None or PROVINCE_ADMIN in self.roles:
            return True
        return not write and AUDITOR in self.roles

    def unit_scope(self, write: bool = False) -> set[int] | None:
        """Units whose accounts the actor reaches; None for everywhere."""
        if self._everywhere(write):
            return None
        if "units" not in self._scope_cache:
            self._scope_cache["units"] = subtree(set(self.admin_units))
        return self._scope_cache["units"]

    def reaches(self, account: Account, write: bool = False) -> bool:
        """Whether ``account`` is within the actor's scope (read or write)."""
        if not self.can("accounts.write" if write else "accounts.read"):
            return False
        scope = self.unit_scope(write)
        if scope is None:
            return not (write and self.account is None and admin_grants(account))
        if account.kind not in STAFF_KINDS or account.unit_id not in scope:
            return False
        return not write or self.outranks(account)

    def outranks(self, target: Account) -> bool:
        """A unit administrator changes only people with less administrative power than their own."""
        if self.account is None or PROVINCE_ADMIN in self.roles:
            return True
        below = subtree(set(self.admin_units)) - set(self.admin_units)
        for code, unit in admin_grants(target):
            if code != UNIT_ADMIN or unit not in below:
                return False
        return True

    def reaches_unit(self, unit_id: int | None, write: bool = False) -> bool:
        scope = self.unit_scope(write)
        return scope is None or unit_id in scope

    def sees_personal_data(self, account: Account) -> bool:
        """Staff records are open to whoever manages them; citizens' and businesses' only to roles
        that answer their requests."""
        return account.kind in STAFF_KINDS or self.can("accounts.personal")

    def label(self) -> str:
        return self.account.sub if self.account is not None else f"client:{self.client_id}"

    def via(self) -> dict:
        """How the request came, for an event's details: the command line, or the application whose token
        was used (``client_id`` in details names the object, e.g. the application changed)."""
        if self.operator:
            return {"via": "cli"}
        return {"via_client": self.client_id} if self.client_id else {}


def operator() -> Actor:
    """Whoever runs the command on the server: the province administrator by definition (they hold the
    master key and the database), so every capability, recorded without an account and ``via: cli``.
    Both command-line modules (:mod:`idp.admin.cli`, :mod:`idp.admin.client_cli`) act as it."""
    return Actor(account=None, capabilities=ALL, client_id=None, operator=True)


def refuse(actor: Actor | None, action: str, reason: str, detail, *, status: int = 403, target=None,
           fields: dict | None = None, extra: dict | None = None) -> Refused:
    """Undo whatever the request had started, record the refusal, and return the exception to raise."""
    db.session.rollback()
    details = {"action": action, "reason": reason}
    if target is not None:
        details["target"] = str(target)[:100]
    if actor is not None and actor.client_id:
        details["client_id"] = actor.client_id
    details.update(extra or {})
    events.record("admin:request:refuse", actor=actor.account_id if actor else None, details=details, now=now())
    db.session.commit()
    return Refused(status, reason, detail, fields)


def require(actor: Actor, capability: str, action: str) -> None:
    if not actor.can(capability):
        if actor.scopes is not None and not any(capability in SCOPE_CAPABILITIES.get(s, ()) for s in actor.scopes):
            raise refuse(actor, action, "insufficient_scope", _l("The access token does not have the scope this "
                                                                  "action needs."), status=403)
        raise refuse(actor, action, "forbidden", _l("You are not allowed to do this."))
