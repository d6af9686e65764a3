"""Issue 11, item 8: revocation racing refresh on one refresh token.

An attacker (or a confused client) who holds a refresh token fires refresh and revocation requests at
once. Every answer must be a protocol answer (revocation 200, refresh 200 or 400 ``invalid_grant``),
never a 503 from a database error, and the family must end revoked.

Before the fix, on PostgreSQL, a refresh that lost the rotation kept the refresh token's row lock and
then waited for the grant, which a revocation held while waiting for that token: a deadlock, answered
503. SQLite has no row locks (one writer at a time), so there the test only checks the answers.
"""
from __future__ import annotations

import pytest

from tests.oidc.helpers import basic, code_for, exchange, make_client
from tests.security.concurrency import at_once

ROUNDS = 5
REFRESHERS = 10
REVOKERS = 10


@pytest.fixture
def person(accounts):
    return accounts(email="hoa@example.vn")


def _race(apps, client_id, secret, refresh_token):
    """Fire refreshes and revocations of one refresh token at once, from several apps (processes)."""
    def call(kind, n):
        browser = apps[n % len(apps)].test_client()
        data = {"token": refresh_token, "token_type_hint": "refresh_token"} if kind == "revoke" else \
            {"grant_type": "refresh_token", "refresh_token": refresh_token}
        response = browser.post("/revoke" if kind == "revoke" else "/token", data=data,
                                headers=basic(client_id, secret))
        return kind, response.status_code, response.get_json(silent=True) or {}

    kinds = ["refresh"] * REFRESHERS + ["revoke"] * REVOKERS
    return at_once([lambda kind=kind, n=n: call(kind, n) for n, kind in enumerate(kinds)])


def test_refresh_racing_revocation_gives_protocol_answers_and_ends_the_family(make_app, person):
    apps = [make_app(), make_app()]  # two processes' worth of connection pools
    app, browser = apps[0], apps[0].test_client()
    client_id, secret = make_client(app, first_party=True)  # no consent page: the race is the subject
    for _ in range(ROUNDS):
        code, _ = code_for(app, browser, client_id, scope="openid offline_access")
        tokens = exchange(browser, client_id, secret, code).json
        answers = _race(apps, client_id, secret, tokens["refresh_token"])
        assert len(answers) == REFRESHERS + REVOKERS
        for kind, status, body in answers:
            if kind == "revoke":
                assert status == 200, (kind, status, body)
            else:
                assert status == 200 or (status == 400 and body.get("error") == "invalid_grant"), \
                    (kind, status, body)
        # The family ends revoked: no refresh token issued in the race still works, nor its access token.
        for _, status, body in answers:
            if status == 200 and "refresh_token" in body:
                again = browser.post("/token", data={"grant_type": "refresh_token",
                                                     "refresh_token": body["refresh_token"]},
                                     headers=basic(client_id, secret))
                assert again.status_code == 400 and again.json["error"] == "invalid_grant", again.json
                seen = browser.post("/introspect", data={"token": body["access_token"]},
                                    headers=basic(client_id, secret))
                assert seen.json == {"active": False}
        seen = browser.post("/introspect", data={"token": tokens["access_token"]}, headers=basic(client_id, secret))
        assert seen.json == {"active": False}
