"""``idp purge`` (and the worker's housekeeping): rows past their retention go, in batches; rows still in
use stay; the audit chain still verifies afterwards."""
from __future__ import annotations

from sqlalchemy import func, select

from idp.accounts.models import SsoSession
from idp.db import db
from idp.oidc.models import AuthorizationCode, Grant, LogoutDelivery, RefreshToken, SessionClient, UsedJti
from tests.conftest import login
from tests.oidc.helpers import basic, code_for, exchange, make_client

TABLES = {"codes": AuthorizationCode, "grants": Grant, "refresh": RefreshToken, "sessions": SsoSession,
          "session_clients": SessionClient, "jtis": UsedJti, "outbox": LogoutDelivery}


def counts(app) -> dict:
    with app.app_context():
        return {name: db.session.scalar(select(func.count()).select_from(model)) for name, model in TABLES.items()}


def a_day_of_use(app, accounts, clock):
    """A login, a code flow with a refresh token, a refresh (rotation), and a logout."""
    accounts()
    browser, rp = app.test_client(), app.test_client()
    client_id, secret = make_client(app, scope="openid offline_access")
    code, _ = code_for(app, browser, client_id, scope="openid offline_access", prompt="consent")
    tokens = exchange(rp, client_id, secret, code).get_json()
    refreshed = rp.post("/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                        headers=basic(client_id, secret))
    assert refreshed.status_code == 200
    with app.app_context():
        from idp.oidc.client_auth import remember_jti
        assert remember_jti("test", client_id, "jti-1", int(clock().timestamp()) + 60)
    browser.get("/logout")
    return browser, client_id, secret, refreshed.get_json()["refresh_token"]


def test_purge_deletes_what_is_past_retention_in_batches_and_keeps_the_rest(app, accounts, clock, runner):
    a_day_of_use(app, accounts, clock)
    before = counts(app)
    assert before["codes"] == 1 and before["grants"] == 1 and before["refresh"] == 2 and before["jtis"] == 1

    # A day later nothing is past retention yet: codes expired, but are kept IDP_RETENTION_EXPIRED_DAYS.
    clock.advance(days=1)
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    assert counts(app) == {**before, "jtis": 0}  # used jti values go minutes after they expire

    # After the retention windows (and the refresh token's own 30 days), everything of that day goes.
    clock.advance(days=40)
    fresh = app.test_client()
    login(fresh, "096301001234")  # today's session stays
    result = runner.invoke(args=["purge", "--batch", "1"])  # one row a statement: the batching loops
    assert result.exit_code == 0, result.output
    assert "oidc_codes: 1 deleted" in result.output and "oidc_refresh_tokens: 2 deleted" in result.output
    assert "oidc_grants: 1 deleted" in result.output and "sso_sessions: 1 deleted" in result.output
    after = counts(app)
    assert after == {**{name: 0 for name in TABLES}, "sessions": 1}
    verified = runner.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output


def test_a_grant_in_use_is_kept_and_a_rotated_refresh_token_still_trips_reuse(app, accounts, clock, runner):
    _, client_id, secret, current = a_day_of_use(app, accounts, clock)
    rp = app.test_client()
    clock.advance(days=20)  # within the refresh token's 30 days: the grant is alive
    assert runner.invoke(args=["purge"]).exit_code == 0
    left = counts(app)
    assert left["grants"] == 1 and left["refresh"] == 2 and left["codes"] == 0
    refreshed = rp.post("/token", data={"grant_type": "refresh_token", "refresh_token": current},
                        headers=basic(client_id, secret))
    assert refreshed.status_code == 200


def test_the_worker_purges_with_its_housekeeping(app, accounts, clock):
    from idp.worker import run
    a_day_of_use(app, accounts, clock)
    clock.advance(days=45)
    run(app, once=True)
    assert counts(app)["codes"] == 0 and counts(app)["grants"] == 0


def test_retention_settings_are_checked(make_app):
    import pytest

    from idp.config import ConfigError
    with pytest.raises(ConfigError):
        make_app(IDP_RETENTION_SESSION_DAYS=0)
    with pytest.raises(ConfigError):
        make_app(IDP_RETENTION_EXPIRED_DAYS=1, IDP_ACCESS_TOKEN_SECONDS=2 * 86400)
