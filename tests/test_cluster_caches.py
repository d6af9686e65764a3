"""Two servers on one database, as two nodes of a cluster: a change made anywhere (here by the ``idp``
command, a third process) takes effect on a node that has the old value cached, within a second.

Each node caches clients (secrets decrypted) and signing keys; :mod:`idp.versions` makes them drop the
cache. The database is the suite's: a fresh PostgreSQL database in the PostgreSQL pass, a SQLite file
otherwise.
"""
from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import time

import pytest
import requests
from tests.conftest import free_port, live_database, wait_until_up

pytestmark = pytest.mark.live

CHECK_SECONDS = 0.5
WITHIN = 1.0  # what the issue asks: every node within one second
SLACK = 2.0  # a loaded CI machine may answer slowly; the bound checked is WITHIN + SLACK, the time is reported


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cluster")
    with live_database(f"cluster_{os.getpid()}") as database:
        yield from _cluster(tmp, database)


def _cluster(tmp, database):
    env = {**os.environ, **database, "IDP_KEYS_PATH": str(tmp / "keys"), "IDP_INSTANCE_PATH": str(tmp / "inst"),
           "IDP_ISSUER": "http://127.0.0.1", "IDP_CACHE_CHECK_SECONDS": str(CHECK_SECONDS)}
    idp = [sys.executable, "-m", "idp"]

    def run(*args, stdin=None):
        return subprocess.run(idp + list(args), env=env, check=True, capture_output=True, text=True,
                              input=stdin, timeout=120).stdout

    run("db", "upgrade")
    created = run("clients", "create", "--name", "Cổng dịch vụ công", "--redirect-uri", "https://rp.example.vn/cb",
                  "--grant-type", "client_credentials", "--auth-method", "client_secret_basic")
    client_id = re.search(r"client_id: (\S+)", created).group(1)
    secret = re.search(r"client_secret: (\S+)", created).group(1)
    nodes, processes = [], []
    for _ in range(2):
        port = free_port()
        process = subprocess.Popen(idp + ["serve", "--port", str(port), "--workers", "1", "--threads", "2",
                                          "--no-worker"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        processes.append(process)
        nodes.append(f"http://127.0.0.1:{port}")
    try:
        for node, process in zip(nodes, processes):
            wait_until_up(process, node, lambda: process.stderr.read().decode()[-2000:])
        yield {"nodes": nodes, "run": run, "client_id": client_id, "secret": secret}
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)


def basic(client_id, secret):
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def token_status(node, client_id, secret) -> int:
    return requests.post(node + "/token", data={"grant_type": "client_credentials"},
                         headers=basic(client_id, secret), timeout=10).status_code


def until(predicate, limit: float) -> float | None:
    """Seconds until ``predicate()`` held, or None when it did not within ``limit``."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.05)
    return None


def kid_of(token: str) -> str:
    import json
    header = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


def test_a_rotated_secret_stops_working_on_every_node(cluster):
    nodes, client_id, old = cluster["nodes"], cluster["client_id"], cluster["secret"]
    assert [token_status(node, client_id, old) for node in nodes] == [200, 200]  # both have it cached
    rotated = cluster["run"]("clients", "rotate-secret", client_id)
    new = re.search(r"client_secret: (\S+)", rotated).group(1)
    cluster["secret"] = new
    for node in nodes:
        took = until(lambda: token_status(node, client_id, old) == 401, WITHIN + SLACK)
        assert took is not None, "the old secret still works on a node"
        assert token_status(node, client_id, new) == 200


def test_a_retired_key_stops_signing_and_a_new_one_is_published_on_every_node(cluster):
    nodes, client_id, secret = cluster["nodes"], cluster["client_id"], cluster["secret"]

    def signed_kid(node):
        response = requests.post(node + "/token", data={"grant_type": "client_credentials"},
                                 headers=basic(client_id, secret), timeout=10)
        return kid_of(response.json()["access_token"])

    old = {signed_kid(node) for node in nodes}
    assert len(old) == 1
    old_kid = old.pop()
    cluster["run"]("keys", "rotate", "--alg", "ES256", "--delay", "0")  # retires the old key now
    for node in nodes:
        assert until(lambda: signed_kid(node) != old_kid, WITHIN + SLACK) is not None
        kids = {key["kid"] for key in requests.get(node + "/jwks.json", timeout=10).json()["keys"]}
        assert old_kid in kids and signed_kid(node) in kids  # the old one stays published for its tokens


def test_a_deleted_client_is_gone_on_every_node_with_its_tokens(cluster):
    nodes, client_id, secret = cluster["nodes"], cluster["client_id"], cluster["secret"]
    token = requests.post(nodes[0] + "/token", data={"grant_type": "client_credentials"},
                          headers=basic(client_id, secret), timeout=10).json()["access_token"]
    resource = cluster["run"]("clients", "create", "--name", "Máy chủ tài nguyên", "--redirect-uri",
                              "https://rs.example.vn/cb", "--grant-type", "client_credentials",
                              "--auth-method", "client_secret_basic", "--json", "/dev/stdin",
                              stdin='{"introspection_allowed": true}')
    rs = basic(re.search(r"client_id: (\S+)", resource).group(1), re.search(r"client_secret: (\S+)", resource).group(1))

    def active(node):
        return requests.post(node + "/introspect", data={"token": token}, headers=rs, timeout=10).json()["active"]

    assert [active(node) for node in nodes] == [True, True]
    cluster["run"]("clients", "delete", client_id)
    for node in nodes:
        assert until(lambda: token_status(node, client_id, secret) == 401 and not active(node),
                     WITHIN + SLACK) is not None
