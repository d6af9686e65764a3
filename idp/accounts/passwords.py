"""Password hashing (argon2id) and the password policy."""
from __future__ import annotations

import functools
import os
import re

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 256  # argon2 accepts more; longer input is a denial-of-service lever, not a better secret
_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "common-passwords.txt")


def make_hasher(config) -> PasswordHasher:
    return PasswordHasher(
        time_cost=config["IDP_ARGON2_TIME_COST"],
        memory_cost=config["IDP_ARGON2_MEMORY_KIB"],
        parallelism=config["IDP_ARGON2_PARALLELISM"],
        type=Type.ID,
    )


class Passwords:
    """Hash, verify and rehash; verification of an unknown account costs the same as a known one."""

    def __init__(self, hasher: PasswordHasher):
        self.hasher = hasher
        self._dummy = hasher.hash("motid-dummy-password-for-timing")

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self.hasher.verify(stored_hash or self._dummy, password) and stored_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def burn(self, password: str) -> None:
        """Spend one verification's time, so a missing account answers as slowly as a real one."""
        self.verify(None, password)

    def needs_rehash(self, stored_hash: str) -> bool:
        return self.hasher.check_needs_rehash(stored_hash)


@functools.lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    with open(_DATA, encoding="utf-8") as fh:
        return frozenset(line.strip() for line in fh if line.strip() and not line.startswith("#"))


def policy_problems(password: str, *, personal: tuple[str | None, ...] = ()) -> list[str]:
    """Message ids for every rule the password breaks; empty when it is acceptable."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append("password.too_short")
    if len(password) > MAX_LENGTH:
        problems.append("password.too_long")
    lowered = password.lower()
    if lowered in common_passwords():
        problems.append("password.common")
    for value in personal:
        if not value:
            continue
        variants = {value.lower()}
        if value.startswith("+84"):
            variants.add("0" + value[3:])
            variants.add(value[1:])
        if "@" in value:
            variants.add(value.split("@", 1)[0].lower())
        if any(len(v) >= 4 and v in lowered for v in variants):
            problems.append("password.personal")
            break
    if re.fullmatch(r"(.)\1*", password or "x"):
        problems.append("password.common")
    return sorted(set(problems))
