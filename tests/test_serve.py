"""End to end against a real server started by ``idp serve``, as the README starts it (on its own embedded
SQLite file in both CI runs): granian, the default, and gunicorn, the alternative ``--server``."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import requests

from tests.conftest import PASSWORD, free_port, wait_until_up

pytestmark = pytest.mark.live


@pytest.fixture(params=["granian", "gunicorn"])
def server(tmp_path, request):
    env = {**os.environ, "IDP_KEYS_PATH": str(tmp_path / "keys"), "IDP_INSTANCE_PATH": str(tmp_path / "inst"),
           "IDP_DATABASE_URL": "", "IDP_ARGON2_TIME_COST": "1", "IDP_ARGON2_MEMORY_KIB": "1024"}
    idp = [sys.executable, "-m", "idp"]
    subprocess.run(idp + ["db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    subprocess.run(idp + ["accounts", "create", "--kind", "citizen", "--citizen-id", "096301001234",
                          "--name", "Nguyễn Thị Hoa", "--email", "hoa@example.vn", "--password-stdin"],
                   env=env, check=True, capture_output=True, input=PASSWORD + "\n", text=True, timeout=120)
    port = free_port()
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(idp + ["serve", "--port", str(port), "--workers", "2", "--server", request.param],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(process, base, lambda: log.read_text(errors="replace")[-2000:])
        yield SimpleNamespace(url=base, process=process, kind=request.param)
    finally:
        process.terminate()
        process.wait(timeout=20)


def workers_of(pid: int) -> set[int]:
    """The server's worker processes (its children, less the logout-delivery worker ``idp serve`` starts)."""
    children = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as fh:
            children |= {int(child) for child in fh.read().split()}
    out = set()
    for child in children:
        try:
            with open(f"/proc/{child}/cmdline", "rb") as fh:
                args = [arg for arg in fh.read().split(b"\0") if arg]
        except OSError:  # gone meanwhile
            continue
        if args and args[-1] != b"worker":  # no arguments: exiting
            out.add(child)
    return out


def test_login_and_logout(server):
    server = server.url
    browser = requests.Session()
    page = browser.get(server + "/login")
    assert page.status_code == 200 and "Đăng nhập" in page.text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    response = browser.post(server + "/login", data={"csrf_token": token, "identifier": "hoa@example.vn",
                                                     "password": PASSWORD}, allow_redirects=False)
    assert response.status_code == 302 and "motid_sso" in browser.cookies
    home = browser.get(server + "/account")
    assert "Nguyễn Thị Hoa" in home.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', home.text).group(1)
    assert browser.post(server + "/logout", data={"csrf_token": token}).status_code == 200
    assert browser.get(server + "/account", allow_redirects=False).status_code == 302
    assert requests.get(server + "/readyz").json()["status"] == "ready"


def test_no_state_leaks_between_requests_or_workers(server):
    """Each request gets its own context: one person's session is never seen by another browser."""
    server = server.url
    for _ in range(6):
        browser = requests.Session()
        page = browser.get(server + "/login")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
        browser.post(server + "/login", data={"csrf_token": token, "identifier": "096301001234",
                                              "password": PASSWORD}, allow_redirects=False)
        assert browser.get(server + "/account", allow_redirects=False).status_code == 200
        stranger = requests.get(server + "/account", allow_redirects=False)
        assert stranger.status_code == 302


def test_sighup_replaces_the_workers_while_the_server_keeps_answering(server):
    deadline = time.monotonic() + 30
    while len(before := workers_of(server.process.pid)) != 2 and time.monotonic() < deadline:
        time.sleep(0.2)  # the first worker may answer before the second has started
    assert len(before) == 2
    server.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 60
    answers = []
    while time.monotonic() < deadline:
        answers.append(requests.get(server.url + "/healthz", timeout=5).status_code)
        now = workers_of(server.process.pid)
        if len(now) == 2 and not now & before:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"the {server.kind} workers were not replaced after SIGHUP")
    assert set(answers) == {200}  # every request during the reload was answered
    assert requests.get(server.url + "/readyz").json()["status"] == "ready"
