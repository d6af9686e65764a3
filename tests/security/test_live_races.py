"""One-time artefacts spent twenty times at once against a live ``idp serve --workers 2`` (gunicorn).

The in-process race tests (test_code_replay_race.py, test_refresh_revoke_race.py) share one Python
process; here twenty separate HTTP connections, one ``requests.Session`` each, are released together
by a barrier and answered by two worker processes with their own connection pools, on the suite's
database (a PostgreSQL database of this module's own in the PostgreSQL run, else an SQLite file).

- an authorization code redeemed twenty times: one set of tokens, nineteen ``invalid_grant``, and the
  replay revokes what the winner got (RFC 6749 §4.1.2, RFC 9700 §4.14.2);
- a refresh token presented twenty times: one rotation, nineteen ``invalid_grant``, the family revoked
  (RFC 9700 §4.14.2);
- a ``private_key_jwt`` client assertion (one ``jti``) used twenty times: one token, nineteen
  ``invalid_client`` (RFC 7523 §3, OIDC Core §9).

No answer may be a 5xx. A failure message ends with the end of the server's log.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc import jwk, jwt

from tests.conftest import CSRF_RE, PASSWORD, free_port, live_database, wait_until_up
from tests.security.concurrency import at_once

pytestmark = pytest.mark.live

RACERS = 20
CITIZEN_ID = "096301001234"
REDIRECT = "http://127.0.0.1/live-races/callback"  # loopback http: nothing listens, the Location is read
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
HTTP_TIMEOUT = 30
CLI_TIMEOUT = 120
START_TIMEOUT = 60


@dataclass
class Live:
    base: str
    client_id: str
    secret: str
    machine_id: str
    machine_key: jwk.ECKey
    log_path: Path

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def explain(self, what) -> str:
        return f"{what}\n--- end of the server's log ---\n{self.log_tail()}"

    def basic(self) -> tuple[str, str]:
        return self.client_id, self.secret


def _idp(env: dict, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run([sys.executable, "-m", "idp", *args], env=env, capture_output=True, text=True,
                            input=stdin, timeout=CLI_TIMEOUT)
    if result.returncode != 0:
        raise AssertionError(f"idp {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _client_id(out: str) -> str:
    return re.search(r"^client_id: (\S+)", out, re.M).group(1)


def _set_up(env: dict, workdir: Path, key: jwk.ECKey) -> tuple[str, str, str]:
    """The citizen, a first-party confidential client (no consent page: the race is the subject) and a
    ``private_key_jwt`` machine client, made through the CLI side by side; (client_id, secret, machine_id)."""
    jwks_file = workdir / "machine.jwks.json"
    jwks_file.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    with ThreadPoolExecutor(max_workers=3) as pool:
        person = pool.submit(_idp, env, "accounts", "create", "--kind", "citizen", "--citizen-id", CITIZEN_ID,
                             "--name", "Nguyễn Thị Hoa", "--email", "hoa@example.vn", "--password-stdin",
                             stdin=PASSWORD + "\n")
        web = pool.submit(_idp, env, "clients", "create", "--name", "Cổng dịch vụ công", "--redirect-uri", REDIRECT,
                          "--grant-type", "authorization_code", "--grant-type", "refresh_token",
                          "--auth-method", "client_secret_basic", "--scope", "openid offline_access",
                          "--first-party")
        machine = pool.submit(_idp, env, "clients", "create", "--name", "Hệ thống một cửa",
                              "--grant-type", "client_credentials", "--auth-method", "private_key_jwt",
                              "--scope", "email", "--jwks-file", str(jwks_file))
        person.result()
        web_out, machine_out = web.result(), machine.result()
    return _client_id(web_out), re.search(r"^client_secret: (\S+)", web_out, re.M).group(1), _client_id(machine_out)


def _wait_until_up(process, base: str, log_path: Path) -> None:
    wait_until_up(process, base, lambda: log_path.read_text(errors="replace")[-4000:], START_TIMEOUT)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """``idp serve --workers 2`` on a fresh database of its own, started once for the module."""
    workdir = tmp_path_factory.mktemp("live_races")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with live_database(f"races_{uuid.uuid4().hex[:12]}") as database:
        env = {**os.environ, **database, "IDP_ISSUER": base, "IDP_KEYS_PATH": str(workdir / "keys"),
               "IDP_INSTANCE_PATH": str(workdir / "inst"), "IDP_REDIS_URL": "", "IDP_SMTP_URL": "", "IDP_DEBUG": "",
               "IDP_ARGON2_TIME_COST": "1", "IDP_ARGON2_MEMORY_KIB": "1024"}
        _idp(env, "db", "upgrade")
        key = jwk.ECKey.generate_key("P-256", auto_kid=True)
        client_id, secret, machine_id = _set_up(env, workdir, key)
        log_path = workdir / "server.log"
        with open(log_path, "wb") as log:
            # Ten threads a worker: all twenty requests can be in the application at the same moment.
            process = subprocess.Popen([sys.executable, "-m", "idp", "serve", "--host", "127.0.0.1", "--port",
                                        str(port), "--workers", "2", "--threads", "10", "--no-worker"],
                                       env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            _wait_until_up(process, base, log_path)
            yield Live(base, client_id, secret, machine_id, key, log_path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(live):
    """The citizen, logged in through the real form (its CSRF token included)."""
    session = requests.Session()
    page = session.get(live.base + "/login", timeout=HTTP_TIMEOUT)
    match = CSRF_RE.search(page.text)
    assert match, live.explain(f"no CSRF token on /login ({page.status_code})")
    answer = session.post(live.base + "/login", data={"csrf_token": match.group(1), "identifier": CITIZEN_ID,
                                                      "password": PASSWORD},
                          allow_redirects=False, timeout=HTTP_TIMEOUT)
    assert answer.status_code == 302 and "motid_sso" in session.cookies, live.explain(
        f"login answered {answer.status_code}: {answer.text[:500]}")
    return session


def _code(live: Live, browser: requests.Session) -> str:
    """A fresh authorization code for the logged-in citizen (prompt=none: no page on the way)."""
    state = secrets.token_urlsafe(8)
    answer = browser.get(live.base + "/authorize", params={
        "response_type": "code", "client_id": live.client_id, "redirect_uri": REDIRECT, "prompt": "none",
        "scope": "openid offline_access", "state": state, "nonce": secrets.token_urlsafe(8)},
        allow_redirects=False, timeout=HTTP_TIMEOUT)
    location = answer.headers.get("Location", "")
    assert answer.status_code == 302 and location.startswith(REDIRECT + "?"), live.explain(
        f"/authorize answered {answer.status_code} {location} {answer.text[:500]}")
    result = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert result.get("state") == state and "code" in result, live.explain(result)
    return result["code"]


def _post(url: str, data: dict, auth=None):
    """One POST on a connection of its own: (status, JSON body or the text, Content-Type)."""
    with requests.Session() as own:
        try:
            answer = own.post(url, data=data, auth=auth, timeout=HTTP_TIMEOUT)
        except requests.RequestException as exc:
            return "no answer", repr(exc), ""
    try:
        body = answer.json()
    except ValueError:
        body = answer.text[:300]
    return answer.status_code, body, answer.headers.get("Content-Type", "")


def _outline(answers: list) -> str:
    """How many of each answer, tokens left out: ``{(200, 'tokens'): 1, (400, 'invalid_grant'): 19}``."""
    seen = Counter()
    for answer in answers:
        status, body, _type = answer or ("thread died", None, "")
        seen[status, "tokens" if status == 200 else body.get("error") if isinstance(body, dict) else body] += 1
    return str(dict(seen))


def _race(live: Live, url: str, data: dict, auth=None) -> list:
    answers = at_once([lambda: _post(url, data, auth) for _ in range(RACERS)])
    assert all(answer and isinstance(answer[0], int) and answer[0] < 500 for answer in answers), \
        live.explain(f"{_outline(answers)}\n{[answer for answer in answers if not answer or answer[0] != 200]}")
    return answers


def _one_winner(live: Live, answers: list, status: int, error: str) -> dict:
    """Exactly one 200; every other answer the JSON error of RFC 6749 §5.2 with ``error`` and ``status``."""
    winners = [body for code, body, _type in answers if code == 200]
    losers = [(code, body, kind) for code, body, kind in answers if code != 200]
    assert len(winners) == 1, live.explain(_outline(answers))
    assert all(code == status and kind.startswith("application/json") and isinstance(body, dict)
               and body.get("error") == error and isinstance(body.get("error_description"), str)
               and set(body) <= {"error", "error_description", "error_uri"}
               for code, body, kind in losers), live.explain(f"{_outline(answers)}\n{losers}")
    return winners[0]


def _redeem(code: str) -> dict:
    return {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}


def _refresh(live: Live, token: str):
    return _post(live.base + "/token", {"grant_type": "refresh_token", "refresh_token": token}, live.basic())


def _userinfo(live: Live, access_token: str) -> int:
    return requests.get(live.base + "/userinfo", headers={"Authorization": "Bearer " + access_token},
                        timeout=HTTP_TIMEOUT).status_code


def _introspect(live: Live, token: str):
    return _post(live.base + "/introspect", {"token": token}, live.basic())[:2]


def test_a_code_redeemed_twenty_times_gives_one_set_of_tokens_and_revokes_it(live, browser):
    answers = _race(live, live.base + "/token", _redeem(_code(live, browser)), live.basic())
    tokens = _one_winner(live, answers, 400, "invalid_grant")
    assert {"access_token", "refresh_token", "id_token"} <= set(tokens), live.explain(tokens)
    # The replays revoked what the winner got.
    assert _userinfo(live, tokens["access_token"]) == 401, live.explain(tokens)
    refused = _refresh(live, tokens["refresh_token"])
    assert refused[0] == 400 and refused[1]["error"] == "invalid_grant", live.explain(refused)


def test_a_refresh_token_presented_twenty_times_rotates_once_and_ends_the_family(live, browser):
    first = _post(live.base + "/token", _redeem(_code(live, browser)), live.basic())
    assert first[0] == 200 and "refresh_token" in first[1], live.explain(first)
    answers = _race(live, live.base + "/token", {"grant_type": "refresh_token",
                                                 "refresh_token": first[1]["refresh_token"]}, live.basic())
    rotated = _one_winner(live, answers, 400, "invalid_grant")
    assert rotated["refresh_token"] != first[1]["refresh_token"], live.explain(rotated)
    # Nineteen presentations of a rotated token: theft assumed, the family (the winner's tokens too) ends.
    refused = _refresh(live, rotated["refresh_token"])
    assert refused[0] == 400 and refused[1]["error"] == "invalid_grant", live.explain(refused)
    assert _userinfo(live, rotated["access_token"]) == 401, live.explain(rotated)
    assert _introspect(live, rotated["access_token"]) == (200, {"active": False}), live.explain(rotated)
    assert _introspect(live, first[1]["access_token"]) == (200, {"active": False}), live.explain(first)


def test_a_client_assertion_used_twenty_times_authenticates_once(live):
    moment = int(time.time())
    claims = {"iss": live.machine_id, "sub": live.machine_id, "aud": live.base + "/token",
              "jti": uuid.uuid4().hex, "iat": moment, "exp": moment + 60}
    assertion = jwt.encode({"alg": "ES256", "kid": live.machine_key.kid}, claims, live.machine_key,
                           algorithms=["ES256"])
    answers = _race(live, live.base + "/token", {"grant_type": "client_credentials",
                                                 "client_assertion_type": ASSERTION_TYPE,
                                                 "client_assertion": assertion})
    token = _one_winner(live, answers, 401, "invalid_client")
    assert token["token_type"].lower() == "bearer" and token["scope"] == "email", live.explain(token)
    assert "refresh_token" not in token, live.explain(token)
