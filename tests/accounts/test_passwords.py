"""argon2id parameters, rehash on login, and the password policy."""
from __future__ import annotations

from idp.accounts.models import Account
from idp.accounts.passwords import Passwords, make_hasher, policy_problems
from idp.config import from_environ
from idp.db import db
from idp.events import AuditEvent
from tests.conftest import login


def test_default_parameters_meet_owasp():
    hasher = make_hasher(from_environ({}))
    encoded = hasher.hash("a-password-value")
    assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_login_rehashes_when_parameters_change(make_app, accounts):
    accounts()  # hashed with the test parameters (t=1, m=1024)
    app = make_app(IDP_ARGON2_TIME_COST=2, IDP_ARGON2_MEMORY_KIB=2048)
    assert login(app.test_client(), "096301001234").status_code == 302
    with app.app_context():
        assert "m=2048,t=2" in db.session.query(Account).one().password_hash
        assert db.session.query(AuditEvent).filter_by(tag="account:password:rehash").count() == 1


def test_verify_tolerates_garbage_hashes(config):
    passwords = Passwords(make_hasher({**from_environ({}), **config}))
    assert passwords.verify("not-a-hash", "x") is False
    assert passwords.verify(None, "motid-dummy-password-for-timing") is False


def test_policy():
    assert policy_problems("Cà-Mau-mùa-nước-nổi") == []
    assert "password.too_short" in policy_problems("short")
    assert "password.common" in policy_problems("PASSWORD1234")
    assert "password.common" in policy_problems("aaaaaaaaaaaa")
    assert "password.too_long" in policy_problems("x1" * 200)
    personal = ("096301001234", "+84912345678", "hoa.nguyen@example.vn")
    assert "password.personal" in policy_problems("pw-096301001234", personal=personal)
    assert "password.personal" in policy_problems("pw-0912345678!", personal=personal)
    assert "password.personal" in policy_problems("Hoa.Nguyen-2026", personal=personal)
    assert policy_problems("an-unrelated-pass", personal=personal) == []
