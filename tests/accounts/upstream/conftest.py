"""Real upstreams on loopback: the Node oidc-provider speaking the VNeID profile (node/op.mjs), a
Zalo-shaped OAuth 2 server (zalo_server.py), and servers that refuse or hang. MotID's test issuer is
``http://localhost``, so :mod:`idp.net` lets it reach loopback targets.
"""
from __future__ import annotations

import json
import select
import shutil
import socket
import subprocess
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
import requests

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[3]
NODE_DIR = Path(__file__).resolve().parent / "node"
INSTALL_SCRIPT = ROOT / "scripts" / "install-node-deps.sh"
CLIENT_ID = "motid-camau"
CLIENT_SECRET = "Ca-Mau:bi+mat/0123456789%xyz"  # needs RFC 6749 §2.3.1 form-encoding in Basic
LOGGED_OUT = "http://localhost/login/upstream/{name}/logged-out"
HOA = {"SoDinhDanh": "096301001234", "HoVaTen": "Nguyễn Thị Hoa", "NgayThangNamSinh": "20010215",
       "GioiTinh": "Nữ", "preferred_username": "096301001234"}
HTTP_TIMEOUT = 10


class NodeOP:
    """The running op.mjs: its issuer, its admin endpoints, and a person's login driven over HTTP."""

    def __init__(self, issuer: str):
        self.issuer = issuer
        self.browser = None  # the last login's browser (its cookies hold the session at the provider)

    def admin(self, path: str, body: dict | None = None) -> dict:
        response = requests.post(self.issuer + "/__admin/" + path, json=body or {}, timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        return response.json()

    def accounts(self, **accounts) -> None:
        self.admin("accounts", accounts)

    def login(self, authorization_url: str, account: str, acr: str = "2", *, abort: bool = False) -> dict:
        """Follow the authorization URL as a browser would, log ``account`` in at level ``acr``, and
        return the query arguments MotID's callback receives."""
        browser = self.browser = requests.Session()
        response = browser.get(authorization_url, allow_redirects=False, timeout=HTTP_TIMEOUT)
        assert response.status_code == 303, response.text
        interaction = urljoin(self.issuer, response.headers["location"])
        action = f"{interaction}/abort" if abort else f"{interaction}/login?account={account}&acr={acr}"
        response = browser.get(action, allow_redirects=False, timeout=HTTP_TIMEOUT)
        for _ in range(5):
            assert response.status_code in (302, 303), response.text
            location = urljoin(self.issuer, response.headers["location"])
            if location.startswith("http://localhost/"):
                return dict(parse_qsl(urlsplit(location).query))
            response = browser.get(location, allow_redirects=False, timeout=HTTP_TIMEOUT)
        raise AssertionError("the upstream never redirected back")


def _install_node_deps() -> str:
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.fail("Node.js (node and npm) is needed for the upstream provider tests")
    if not (NODE_DIR / "node_modules" / "oidc-provider" / "package.json").exists():
        result = subprocess.run(["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"{INSTALL_SCRIPT} failed:\n{result.stdout}\n{result.stderr}"
    return node


def running_op(workdir: Path, client: dict, accounts: dict | None = None):
    """Start op.mjs on a free loopback port with ``client``; yield its :class:`NodeOP`; stop it."""
    node = _install_node_deps()
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    config = {"port": port, "issuer": issuer, "accounts": accounts or {"hoa": HOA}, "client": client}
    path = workdir / "op.json"
    path.write_text(json.dumps(config))
    process = subprocess.Popen([node, str(NODE_DIR / "op.mjs"), str(path)], cwd=NODE_DIR,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 1)
        if ready and '"ready":true' in process.stdout.readline():
            break
        if process.poll() is not None:
            pytest.fail(f"op.mjs exited with {process.returncode}: {process.stderr.read()[-2000:]}")
    else:
        process.kill()
        pytest.fail("op.mjs did not start within 60 s")
    try:
        yield NodeOP(issuer)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def op_client(base: str, name: str = "vneid") -> dict:
    """MotID (at ``base``) as the provider's client: its callback, logged-out and back-channel URIs."""
    return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "redirect_uris": [f"{base}/login/upstream/{name}/callback"],
            "post_logout_redirect_uris": [f"{base}/login/upstream/{name}/logged-out"],
            "backchannel_logout_uri": f"{base}/login/upstream/{name}/backchannel-logout",
            "backchannel_logout_session_required": True,
            "token_endpoint_auth_method": "client_secret_basic"}


@pytest.fixture(scope="session")
def node_op_process(tmp_path_factory):
    yield from running_op(tmp_path_factory.mktemp("op"), op_client("http://localhost"))


@pytest.fixture
def node_op(node_op_process):
    """The shared provider, with its accounts and published keys put back after each test."""
    node_op_process.accounts(hoa=HOA)
    yield node_op_process
    node_op_process.admin("reset")
    node_op_process.accounts(hoa=HOA)


@pytest.fixture
def real_clock(clock):
    """Tokens from the Node provider carry its wall-clock times: the app's clock starts from now."""
    clock.now = datetime.now(timezone.utc).replace(microsecond=0)
    return clock


@pytest.fixture
def vneid(app, node_op, real_clock):
    """The Node provider registered in MotID as ``vneid`` (profile vneid); returns the app's registry row name."""
    from idp.accounts.upstream.registry import UpstreamRegistry
    with app.app_context():
        UpstreamRegistry.from_app().add("vneid", issuer=node_op.issuer, client_id=CLIENT_ID,
                                        client_secret=CLIENT_SECRET, profile="vneid")
    return "vneid"


@pytest.fixture
def zalo_server():
    from tests.accounts.upstream.zalo_server import ZaloServer
    server = ZaloServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def silent_server():
    """Accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held, stop = [], threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(2)
    for connection in held:
        connection.close()
    listener.close()
