"""A pending login's ``state`` is consumed by one statement (10 racing threads: exactly one wins), and
the profiles map each national service's claims, refusing malformed ones."""
from __future__ import annotations

import threading
from datetime import date

import pytest

from idp.accounts.assurance import LOA1, LOA2
from idp.accounts.upstream import pending
from idp.accounts.upstream.errors import ClaimsInvalid, StateInvalid
from idp.accounts.upstream.profiles import PROFILES
from idp.db import db


def test_ten_threads_racing_on_one_state_exactly_one_wins(app):
    with app.app_context():
        state, _ = pending.store("vneid", code_verifier="v" * 64, acr_values=None, next_url="/",
                                 master_key=app.extensions["idp.master_key"], now=app.config["CLOCK"]())
    barrier, results = threading.Barrier(10), []

    def attempt():
        with app.app_context():
            barrier.wait()
            try:
                pending.consume(state, "vneid", master_key=app.extensions["idp.master_key"],
                                now=app.config["CLOCK"]())
                results.append("won")
            except StateInvalid:
                results.append("lost")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == ["lost"] * 9 + ["won"]


def test_a_state_from_another_providers_login_is_refused(app):
    with app.app_context():
        master_key, now = app.extensions["idp.master_key"], app.config["CLOCK"]()
        state, _ = pending.store("zalo", code_verifier="v" * 64, acr_values=None, next_url=None,
                                 master_key=master_key, now=now)
        with pytest.raises(StateInvalid, match="another provider"):
            pending.consume(state, "vneid", master_key=master_key, now=now)


def _map(profile, claims, now=None):
    from datetime import datetime, timezone
    return PROFILES[profile].map(profile, claims, now or datetime(2026, 11, 27, tzinfo=timezone.utc))


def test_dvcqg_claims():
    identity = _map("dvcqg", {"sub": "u1", "acr": "LoA2", "SoDinhDanh": "001099001234", "SoCMND": "012345678",
                              "HoVaTen": "Trần Văn An", "GioiTinh": "Nam", "NgayThangNamSinh": "19990101",
                              "ThuDienTu": "An@Example.vn", "SoDienThoai": "0912345678"})
    assert (identity.acr, identity.citizen_id, identity.legacy_id, identity.gender) == \
        (LOA2, "001099001234", "012345678", "male")
    assert (identity.email, identity.phone, identity.birthdate) == ("an@example.vn", "+84912345678", date(1999, 1, 1))
    legacy = _map("dvcqg", {"sub": "u2", "acr": "LoA1", "SoCMND": "381234567", "HoVaTen": "Lê Thị Bé"})
    assert (legacy.acr, legacy.citizen_id, legacy.legacy_id) == (LOA1, None, "381234567")
    cccd_in_old_field = _map("dvcqg", {"sub": "u3", "SoCMND": "096301001234"})
    assert cccd_in_old_field.citizen_id == "096301001234" and cccd_in_old_field.legacy_id is None


@pytest.mark.parametrize("profile, claims, reason", [
    ("dvcqg", {"sub": "u", "SoCMND": "12345"}, "SoCMND: not 9 digits"),
    ("dvcqg", {"sub": "u"}, "SoDinhDanh: missing"),
    ("dvcqg", {"sub": "u", "SoDinhDanh": "096301001234", "SoDienThoai": "12"}, "SoDienThoai: phone.invalid"),
    ("vneid", {"sub": "u", "SoDinhDanh": "096301001234", "acr": "3"}, "acr: unknown level"),
    ("vneid", {"sub": "u", "SoDinhDanh": "096301001234", "NgayThangNamSinh": "20270101"},
     "NgayThangNamSinh: impossible date"),
    ("vneid", {"SoDinhDanh": "096301001234"}, "sub: missing"),
    ("vneid", {"sub": "u", "MaSoThue": "0100109107"}, "MaSoThue: tax_code.invalid"),
    ("oidc", {"sub": "u", "name": "A\u202eB"}, "name: markup or invisible"),
    ("zalo", {"name": "Hoa"}, "id: missing"),
])
def test_malformed_claims_are_refused(profile, claims, reason):
    with pytest.raises(ClaimsInvalid) as caught:
        _map(profile, claims)
    assert caught.value.reason.startswith(reason)


def test_a_generic_provider_never_asserts_more_than_level_one():
    identity = _map("oidc", {"sub": "u", "acr": "urn:motid:loa:2", "name": "Hoa", "email": "h@example.vn",
                             "email_verified": False, "auth_time": 1796300000})
    assert identity.acr == LOA1 and identity.email is None and identity.auth_time.year == 2026


def test_the_worker_purges_expired_pending_logins(app):
    """An abandoned upstream login leaves a row; `idp worker`'s housekeeping removes it once it expired,
    and a login still under way stays (and can still be finished)."""
    from idp.accounts.upstream.models import UpstreamLogin
    from idp.worker import run
    clock, master_key = app.config["CLOCK"], app.extensions["idp.master_key"]
    with app.app_context():
        pending.store("vneid", code_verifier="v" * 64, acr_values=None, next_url="/", master_key=master_key,
                      now=clock())
        clock.advance(seconds=pending.LIFETIME.total_seconds() + 1)
        fresh, _ = pending.store("vneid", code_verifier="w" * 64, acr_values=None, next_url="/",
                                 master_key=master_key, now=clock())
    run(app, once=True)
    with app.app_context():
        assert db.session.query(UpstreamLogin).count() == 1
        assert pending.consume(fresh, "vneid", master_key=master_key, now=clock()) is not None
