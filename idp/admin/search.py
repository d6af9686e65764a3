"""Finding accounts fast on a million rows: exact match on the unique identifiers, and a prefix
match on the folded name (``accounts.name_key``, indexed), newest first, keyset-paged."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import event, or_, select

from ..accounts.identifiers import login_candidates
from ..accounts.models import Account

MAX_PAGE = 100


def fold(name: str | None) -> str | None:
    """Lower case, without diacritics (đ → d), only letters, digits and single spaces.

    "Nguyễn Thị Hoa" and "nguyen thi  hoa" fold alike. Keep in step with migrations/versions/0006.
    """
    text = unicodedata.normalize("NFD", (name or "").replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())[:300] or None


@event.listens_for(Account, "before_insert")
@event.listens_for(Account, "before_update")
def _keep_name_key(mapper, connection, target: Account) -> None:
    target.name_key = fold(target.business_name or target.full_name)


@dataclass
class AccountQuery:
    text: str = ""
    kind: str | None = None
    status: str | None = None
    unit_ids: set[int] | None = None  # restrict to these units (a unit administrator's scope)
    limit: int = 50
    after: int | None = None  # keyset cursor: ids below this one


def name_prefix(key: str, dialect: str):
    """``name_key`` starts with ``key`` (only [a-z0-9 ]: nothing to escape), in a form each
    backend answers from the index: LIKE with pattern ops on PostgreSQL, a binary range on SQLite
    (whose LIKE ignores case and so skips a binary index)."""
    if dialect == "postgresql":
        return Account.name_key.like(key + "%")
    return (Account.name_key >= key) & (Account.name_key < key + "{")  # "{" sorts right after "z"


def statement(query: AccountQuery, dialect: str = "sqlite"):
    """The SELECT for one page (one more row than ``limit``, to know whether a next page exists)."""
    stmt = select(Account)
    text = (query.text or "").strip()[:254]
    if text:
        clauses = [getattr(Account, field) == value for field, value in login_candidates(text)]
        key = fold(text)
        if key and not text.replace(" ", "").isdigit():
            clauses.append(name_prefix(key, dialect))
        if not clauses:
            return None
        stmt = stmt.where(or_(*clauses))
    if query.kind:
        stmt = stmt.where(Account.kind == query.kind)
    if query.status:
        stmt = stmt.where(Account.status == query.status)
    if query.unit_ids is not None:
        stmt = stmt.where(Account.unit_id.in_(query.unit_ids or {-1}))
    if query.after is not None:
        stmt = stmt.where(Account.id < query.after)
    return stmt.order_by(Account.id.desc()).limit(query.limit + 1)


def search(session, query: AccountQuery) -> tuple[list[Account], int | None]:
    """One page of accounts and the cursor of the next page (None at the end)."""
    stmt = statement(query, session.get_bind().dialect.name)
    if stmt is None:
        return [], None
    rows = list(session.scalars(stmt))
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    return rows, (rows[-1].id if more and rows else None)
