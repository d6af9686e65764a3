"""Issue 11, item 7: an authorization code replayed concurrently with its first redemption.

An attacker who intercepted a code redeems it at the same moment as the client. Exactly one
request may get tokens, and, because the code was replayed, those tokens must be dead: the access
token inactive at introspection, the refresh token refused at the token endpoint. Before the fix
the code was committed as used before its grant existed, so the losing replay found nothing to
revoke and the winner's tokens stayed valid (on PostgreSQL, and on SQLite with threads alike).
"""
from __future__ import annotations

import pytest

from tests.oidc.helpers import basic, code_for, exchange, make_client
from tests.security.concurrency import at_once

ROUNDS = 5
REDEEMERS = 8


@pytest.fixture
def person(accounts):
    return accounts(email="hoa@example.vn")


def _redeem_at_once(apps, client_id, secret, code):
    def redeem(n):
        response = exchange(apps[n % len(apps)].test_client(), client_id, secret, code)
        return response.status_code, response.get_json(silent=True) or {}

    return at_once([lambda n=n: redeem(n) for n in range(REDEEMERS)])


def test_concurrent_code_replay_revokes_the_winners_tokens(make_app, person):
    apps = [make_app(), make_app()]  # two processes' worth of connection pools
    app, browser = apps[0], apps[0].test_client()
    client_id, secret = make_client(app, first_party=True)  # no consent page: the race is the subject
    for _ in range(ROUNDS):
        code, _ = code_for(app, browser, client_id, scope="openid offline_access")
        answers = _redeem_at_once(apps, client_id, secret, code)
        assert len(answers) == REDEEMERS
        winners = [body for status, body in answers if status == 200]
        losers = [(status, body) for status, body in answers if status != 200]
        assert len(winners) == 1, answers
        assert all(status == 400 and body["error"] == "invalid_grant" for status, body in losers), losers
        tokens = winners[0]
        seen = browser.post("/introspect", data={"token": tokens["access_token"]}, headers=basic(client_id, secret))
        assert seen.status_code == 200 and seen.json == {"active": False}
        refreshed = browser.post("/token", data={"grant_type": "refresh_token",
                                                 "refresh_token": tokens["refresh_token"]},
                                 headers=basic(client_id, secret))
        assert refreshed.status_code == 400 and refreshed.json["error"] == "invalid_grant"
        assert browser.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}
                           ).status_code == 401
