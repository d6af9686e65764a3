"""RFC 9126 §4: a pushed request_uri is used once. Ten browsers present the same request_uri at the same
moment (through two apps, two processes' worth of connection pools): exactly one gets on with the
authorization (to the login page), every other one is refused with invalid_request_uri."""
from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from tests.oidc.helpers import auth_params, basic, make_client, pkce_pair
from tests.security.concurrency import at_once

CONTENDERS = 10
ROUNDS = 3


def test_one_request_uri_consumed_at_once_has_one_winner(make_app):
    apps = [make_app(), make_app()]
    client_id, secret = make_client(apps[0])
    for _ in range(ROUNDS):
        _, challenge = pkce_pair()
        pushed = apps[0].test_client().post("/par", data=auth_params(client_id, code_challenge=challenge,
                                                                     code_challenge_method="S256"),
                                            headers=basic(client_id, secret))
        assert pushed.status_code == 201, pushed.json
        query = "/authorize?" + urlencode({"client_id": client_id, "request_uri": pushed.json["request_uri"]})

        def present(n):
            response = apps[n % len(apps)].test_client().get(query)
            return response.status_code, response.headers.get("Location", ""), response.get_data(as_text=True)

        answers = at_once([lambda n=n: present(n) for n in range(CONTENDERS)])
        winners = [a for a in answers if a[0] == 302 and urlsplit(a[1]).path == "/login"]
        losers = [a for a in answers if a not in winners]
        assert len(winners) == 1, [a[:2] for a in answers]
        assert all(status == 400 and "invalid_request_uri" in page for status, _, page in losers), \
            [a[:2] for a in losers]
