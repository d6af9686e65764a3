"""Recovery codes at rest (issue 11 item 13), from the side of someone holding a database dump:
codes carry 40 random bits, so a plain digest gives them up by trying every value. What is stored
must be useless without the master key, and codes already handed out must keep working."""
from __future__ import annotations

import hashlib
import re
import secrets

import pyotp
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import delete, select

from idp.accounts.models import RecoveryCode
from idp.accounts.totp import TotpService
from idp.db import db
from idp.security import MasterKey
from tests.conftest import login, post_form

SECRET_RE = re.compile(r'<code id="totp-secret">([A-Z2-7]+)</code>')
CODES_RE = re.compile(r"<li><code>([0-9a-f-]+)</code></li>")


@pytest.fixture
def codes(app, accounts, clock):
    """A citizen who enrolled an authenticator app; the ten recovery codes shown once."""
    accounts(email="hoa@example.vn")
    client = app.test_client()
    login(client, "hoa@example.vn")
    secret = SECRET_RE.search(client.get("/account/security/totp").get_data(as_text=True)).group(1)
    page = post_form(client, "/account/security/totp", {"code": pyotp.TOTP(secret).at(clock.now)})
    shown = CODES_RE.findall(page.get_data(as_text=True))
    assert len(shown) == 10
    clock.advance(seconds=90)
    return shown


def stored(app) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(select(RecoveryCode.digest)))


def log_in_with(app, code) -> bool:
    client = app.test_client()
    assert login(client, "hoa@example.vn").headers["Location"] == "/login/second-factor"
    return post_form(client, "/login/second-factor", {"code": code}).status_code == 302


def unkeyed_guesses(code: str) -> set[str]:
    """What a dump-holder computes for one candidate code: every common digest of every spelling."""
    spellings = {code, code.upper(), code.replace("-", ""), code.replace("-", "").upper()}
    guesses = set()
    for spelling in spellings:
        for name in ("sha256", "sha1", "md5", "sha512", "sha3_256", "blake2b", "sha224", "sha384"):
            guesses.add(hashlib.new(name, spelling.encode()).hexdigest())
        guesses.add(hashlib.sha256(hashlib.sha256(spelling.encode()).hexdigest().encode()).hexdigest())
    return guesses


def test_a_dump_holds_no_unkeyed_digest_of_any_code(app, codes):
    digests = stored(app)
    assert len(digests) == 10
    # Trying candidates (here: the true codes among random ones) with any unkeyed hash finds nothing.
    candidates = codes + ["-".join((secrets.token_hex(3)[:3], secrets.token_hex(3)[:3], secrets.token_hex(2)))
                          for _ in range(500)]
    for candidate in candidates:
        assert not unkeyed_guesses(candidate) & digests


def test_the_digest_depends_on_the_master_key(app, codes):
    mine = TotpService(app.extensions["idp.master_key"])
    foreign = TotpService(MasterKey([Fernet.generate_key()]))
    digests = stored(app)
    for code in codes:
        assert mine.recovery_digests(code)[0] in digests  # how the server finds it
        assert not set(foreign.recovery_digests(code)) & digests  # same code, another key: no match


def test_codes_still_work_once(app, codes):
    assert log_in_with(app, codes[0])
    assert not log_in_with(app, codes[0])
    assert log_in_with(app, codes[1].upper())


def test_codes_survive_a_rotation_of_the_master_key(make_app, app, codes, config):
    rotated = make_app(IDP_MASTER_KEY=Fernet.generate_key().decode() + "," + config["IDP_MASTER_KEY"])
    assert log_in_with(rotated, codes[3])


def test_digests_stored_before_the_upgrade_are_keyed_in_place(app, codes):
    """A database from before migration 0011 holds SHA-256(code): the upgrade keys every row, the
    codes keep working, and no unkeyed digest is left."""
    from flask_migrate import downgrade, upgrade
    canonical = [c.replace("-", "") for c in codes]
    legacy = {hashlib.sha256(c.encode()).hexdigest() for c in canonical}
    with app.app_context():
        downgrade(revision="0010")
        try:
            account_id = db.session.scalars(select(RecoveryCode.account_id)).first()
            created = db.session.scalars(select(RecoveryCode.created_at)).first()
            db.session.execute(delete(RecoveryCode))
            db.session.add_all(RecoveryCode(digest=d, account_id=account_id, created_at=created) for d in legacy)
            db.session.commit()
        finally:
            db.session.remove()
            upgrade()
    digests = stored(app)
    assert len(digests) == 10 and not digests & legacy
    assert log_in_with(app, codes[5])
