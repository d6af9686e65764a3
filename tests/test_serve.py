"""End to end against a real gunicorn server started by ``idp serve``, as the README starts it
(on its own embedded SQLite file in both CI runs)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
import requests

from tests.conftest import PASSWORD, free_port


@pytest.fixture
def server(tmp_path):
    env = {**os.environ, "IDP_KEYS_PATH": str(tmp_path / "keys"), "IDP_INSTANCE_PATH": str(tmp_path / "inst"),
           "IDP_DATABASE_URL": "", "IDP_ARGON2_TIME_COST": "1", "IDP_ARGON2_MEMORY_KIB": "1024"}
    idp = [sys.executable, "-m", "idp"]
    subprocess.run(idp + ["db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    subprocess.run(idp + ["accounts", "create", "--kind", "citizen", "--citizen-id", "096301001234",
                          "--name", "Nguyễn Thị Hoa", "--email", "hoa@example.vn", "--password-stdin"],
                   env=env, check=True, capture_output=True, input=PASSWORD + "\n", text=True, timeout=120)
    port = free_port()
    process = subprocess.Popen(idp + ["serve", "--port", str(port), "--workers", "2"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("server did not start: " + process.stderr.read().decode()[-2000:])
    yield base
    process.terminate()
    process.wait(timeout=20)


def test_login_and_logout_against_gunicorn(server):
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
    for _ in range(6):
        browser = requests.Session()
        page = browser.get(server + "/login")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
        browser.post(server + "/login", data={"csrf_token": token, "identifier": "096301001234",
                                              "password": PASSWORD}, allow_redirects=False)
        assert browser.get(server + "/account", allow_redirects=False).status_code == 200
        stranger = requests.get(server + "/account", allow_redirects=False)
        assert stranger.status_code == 302
