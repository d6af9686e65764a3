"""Issue 11, item 4: a rate limit holds across every process serving MotID.

Against a real ``idp serve --workers 2`` (gunicorn), an attacker guesses a password with one new
connection per guess, so both workers answer. Before the fix each worker counted in its own memory:
the limit was doubled, and once one worker answered 429 the right password went through on the
other. Now the counters live in a store every process shares (the database, or Redis when
``IDP_REDIS_URL`` is set): the limit is reached at exactly the configured count, whichever worker
answers, and the right password is refused too until the window ends.

Which worker answered each connection is read from ``/proc`` (the process holding the server end
of the connection), so the test knows both workers took part; Linux only, as the suite is.
"""
from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from idp.db import db
from idp.limits import RateLimitCounter, purge_expired_counters
from tests.conftest import PASSWORD, free_port, live_database, login

LIMIT = 3
CITIZEN_ID = "096301001234"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _serving_process(server, sock) -> int | None:
    """The gunicorn worker holding the server end of this (still open) connection."""
    local = f"0100007F:{server.port:04X}"
    remote = f"0100007F:{sock.getsockname()[1]:04X}"
    with open("/proc/net/tcp") as table:
        inodes = [fields[9] for fields in (line.split() for line in table.readlines()[1:])
                  if fields[1] == local and fields[2] == remote]
    if not inodes:
        return None
    target = f"socket:[{inodes[0]}]"
    for pid in _children(server.pid):
        try:
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == target for fd in os.listdir(f"/proc/{pid}/fd")):
                return pid
        except OSError:
            continue
    return None


class Server:
    def __init__(self, process, port):
        self.process, self.pid, self.port = process, process.pid, port
        self.cookie, self.token = self._form()

    def _form(self) -> tuple[str, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("GET", "/login")
        page = conn.getresponse()
        body = page.read().decode()
        conn.close()
        cookies = "; ".join(value.split(";", 1)[0] for value in page.msg.get_all("Set-Cookie"))
        return cookies, CSRF.search(body).group(1)

    def guess(self, password: str) -> tuple[int, int | None]:
        """One login attempt on a new connection: the status, and the worker that answered."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("POST", "/login", body=urlencode({"csrf_token": self.token, "identifier": CITIZEN_ID,
                                                      "password": password}),
                     headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": self.cookie})
        answer = conn.getresponse()
        answer.read()
        worker = _serving_process(self, conn.sock)
        conn.close()
        return answer.status, worker


@pytest.fixture(params=["database", "redis"])
def server(request, tmp_path):
    """``idp serve --workers 2`` on its own database (PostgreSQL in the PostgreSQL run), with a small
    per-account login limit; its counters in the database, or in Redis under a prefix of its own."""
    prefix = "motid-test-" + uuid.uuid4().hex
    store = {}
    if request.param == "redis":
        import redis
        client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
        try:
            client.ping()
        except redis.exceptions.ConnectionError:
            pytest.fail("Redis is not running on 127.0.0.1:6379 (.ci/run starts it)")
        store = {"IDP_REDIS_URL": "redis://127.0.0.1:6379/0"}
    with live_database(f"limits_{uuid.uuid4().hex[:12]}") as database:
        env = {**os.environ, **database, **store, "IDP_RATELIMIT_KEY_PREFIX": prefix,
               "IDP_KEYS_PATH": str(tmp_path / "keys"), "IDP_INSTANCE_PATH": str(tmp_path / "inst"),
               "IDP_ARGON2_TIME_COST": "1", "IDP_ARGON2_MEMORY_KIB": "1024",
               # An hour, so that no window ends during the test; the lockout is kept out of the way.
               "IDP_LOGIN_LIMIT_PER_ACCOUNT": f"{LIMIT}/hour", "IDP_LOGIN_LIMIT_PER_IP": "1000/hour",
               "IDP_LOCKOUT_THRESHOLD": "1000"}
        idp = [sys.executable, "-m", "idp"]
        subprocess.run(idp + ["db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
        subprocess.run(idp + ["accounts", "create", "--kind", "citizen", "--citizen-id", CITIZEN_ID,
                              "--name", "Nguyễn Thị Hoa", "--password-stdin"],
                       env=env, check=True, capture_output=True, input=PASSWORD + "\n", text=True, timeout=120)
        port = free_port()
        process = subprocess.Popen(idp + ["serve", "--port", str(port), "--workers", "2", "--no-worker"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait_until_up(process, port)
            yield Server(process, port)
        finally:
            process.terminate()
            process.wait(timeout=20)
            if store:
                for key in client.scan_iter(f"*{prefix}*"):
                    client.delete(key)


def _wait_until_up(process, port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    process.kill()
    pytest.fail("idp serve did not start: " + process.stderr.read().decode()[-2000:])


def _until_both_workers_answer(server, password: str, at_least: int, at_most: int = 60):
    statuses, workers = [], set()
    while len(statuses) < at_most and (len(statuses) < at_least or len(workers) < 2):
        status, worker = server.guess(password)
        statuses.append(status)
        workers.add(worker)
    assert None not in workers, "could not tell which worker answered a connection"
    assert len(workers) == 2, f"gunicorn gave all {len(statuses)} connections to one worker"
    return statuses


def test_login_limit_holds_across_workers(server):
    # Both workers answer these guesses: with per-worker counts, more than LIMIT would be let through.
    statuses = _until_both_workers_answer(server, "wrong-password-123", at_least=LIMIT + 2)
    assert statuses == [200] * LIMIT + [429] * (len(statuses) - LIMIT)
    # The right password, on whichever worker, waits for the window like any other guess.
    assert set(_until_both_workers_answer(server, PASSWORD, at_least=2)) == {429}


# -- the database store itself, in-process ---------------------------------------------------------------
def test_database_store_counts_every_concurrent_hit(app):
    """Twenty simultaneous hits on one key from their own connections: each gets its own count."""
    storage = app.extensions["idp.limiter"].storage
    barrier, counts, lock = threading.Barrier(20), [], threading.Lock()

    def hit():
        with app.app_context():
            barrier.wait(timeout=30)
            count = storage.incr("LIMITER/motid/accounts.login/login:096301001234", 3600)
            with lock:
                counts.append(count)

    threads = [threading.Thread(target=hit) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(counts) == list(range(1, 21))


def test_windows_follow_the_clock_and_are_purged(make_app, accounts, clock):
    app = make_app(IDP_LOGIN_LIMIT_PER_ACCOUNT="2/hour", IDP_LOCKOUT_THRESHOLD=100)
    accounts()
    client = app.test_client()
    assert [login(client, CITIZEN_ID, "wrong-password-123").status_code for _ in range(3)] == [200, 200, 429]
    with app.app_context():
        stored = db.session.scalars(select(RateLimitCounter.key)).all()
    assert stored and not any(CITIZEN_ID in key for key in stored)  # digests, not identifiers
    clock.advance(hours=1)
    assert login(client, CITIZEN_ID).status_code == 302
    assert purge_expired_counters in app.extensions["idp.retention.jobs"]  # run by `idp purge` and `idp worker`
    with app.app_context():
        assert purge_expired_counters(clock() + timedelta(hours=2)) >= 1
        assert db.session.scalars(select(RateLimitCounter)).all() == []


def test_unreachable_redis_refuses_rather_than_counting_per_process(make_app, accounts):
    """No per-process fallback: a limited endpoint answers 503 (a page, not a 500) while Redis is away."""
    app = make_app(IDP_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    accounts()
    response = login(app.test_client(), CITIZEN_ID)
    assert response.status_code == 503
    assert "tạm thời gián đoạn" in response.get_data(as_text=True)
