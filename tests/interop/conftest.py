"""Interoperability harness: a LIVE ``idp serve`` (gunicorn, 2 workers, its own temporary SQLite
instance) with an account and clients registered through the ``idp`` CLI, the Node.js relying
party (openid-client v6, tests/interop/node) and a scripted browser for the login and consent pages.

Everything has a timeout; the server is stopped at the end of the session.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from joserfc import jwk

from tests.conftest import PASSWORD, free_port, live_database, wait_until_up

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "tests" / "interop" / "node"
INSTALL_SCRIPT = ROOT / "scripts" / "install-node-deps.sh"
RP_SCRIPT = NODE_DIR / "rp.mjs"

CITIZEN_ID = "096301001234"
EMAIL = "hoa@example.vn"
FULL_NAME = "Nguyễn Thị Hoa"
SCOPE = "openid profile email offline_access"
HTTP_TIMEOUT = 10          # one HTTP request
CLI_TIMEOUT = 120          # one `idp …` command
NODE_TIMEOUT = 60          # one run of rp.mjs
START_TIMEOUT = 60         # the server answering /healthz


# --------------------------------------------------------------------------- the Node.js RP

@pytest.fixture(scope="session")
def node_rp():
    """``run(payload) -> dict``: one step of tests/interop/node/rp.mjs (JSON on stdin, JSON on stdout), or
    of another script in that folder (``run(payload, script=NODE_DIR / "par.mjs")``).

    Installs the Node dependencies with scripts/install-node-deps.sh when node_modules is missing.
    Node.js is part of the project's machines; without it these tests fail rather than skip."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.fail("Node.js (node and npm) is needed for the openid-client interop tests")
    if not (NODE_DIR / "node_modules" / "openid-client" / "package.json").exists():
        result = subprocess.run(["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"{INSTALL_SCRIPT} failed:\n{result.stdout}\n{result.stderr}"

    def run(payload: dict, script: Path = RP_SCRIPT) -> dict:
        result = subprocess.run([node, str(script)], input=json.dumps(payload), capture_output=True,
                                text=True, timeout=NODE_TIMEOUT, cwd=NODE_DIR)
        lines = result.stdout.strip().splitlines()
        try:
            output = json.loads(lines[-1])
        except (IndexError, ValueError):
            raise AssertionError(f"{script.name} {payload.get('step')}: no JSON output (exit {result.returncode})\n"
                                 f"stdout: {result.stdout[-2000:]}\nstderr: {result.stderr[-2000:]}") from None
        if not output.get("ok"):
            raise AssertionError(f"{script.name} {payload.get('step')} failed: "
                                 f"{json.dumps(output.get('error'), indent=2, ensure_ascii=False)}\n"
                                 f"{output.get('stack', '')}\nstderr: {result.stderr[-2000:]}")
        return output

    return run


# --------------------------------------------------------------------------- the live server

@dataclass
class RegisteredClient:
    client_id: str
    redirect_uri: str
    auth_method: str
    secret: str | None = None
    private_jwk: dict | None = None    # the private key of a private_key_jwt client (JWK, with kid)


@dataclass
class LiveServer:
    issuer: str
    sub: str
    identifier: str
    password: str
    clients: dict[str, RegisteredClient] = field(default_factory=dict)
    log_path: Path | None = None
    env: dict = field(default_factory=dict)  # the server's environment, for more `idp` commands

    def metadata(self) -> dict:
        response = requests.get(self.issuer + "/.well-known/openid-configuration", timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        return response.json()

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path else ""


def _idp(env: dict, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run([sys.executable, "-m", "idp", *args], env=env, capture_output=True, text=True,
                            input=stdin, timeout=CLI_TIMEOUT)
    if result.returncode != 0:
        raise AssertionError(f"idp {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _die_with_parent() -> None:
    """In the server's child process (Linux): SIGTERM when pytest dies without running its finalizers."""
    try:
        import ctypes
        import signal
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _new_key(kind: str) -> tuple[dict, dict]:
    """A key pair made with joserfc: (private JWK, public JWKS), both with the RFC 7638 thumbprint as kid."""
    key = jwk.ECKey.generate_key("P-256") if kind == "EC" else jwk.RSAKey.generate_key(2048)
    key.ensure_kid()
    private = key.as_dict(private=True)
    public = key.as_dict(private=False)
    public.update(use="sig", alg="ES256" if kind == "EC" else "RS256")
    return private, {"keys": [public]}


# name -> (auth method, key type for private_key_jwt, first party)
CLIENTS = {
    "node_private_key_jwt": ("private_key_jwt", "EC", False),
    "node_public": ("none", None, False),
    "authlib_basic": ("client_secret_basic", None, True),
    "authlib_private_key_jwt": ("private_key_jwt", "RSA", False),
}


def _register(env: dict, workdir: Path, name: str) -> RegisteredClient:
    method, key_type, first_party = CLIENTS[name]
    # Loopback http redirect URIs are allowed for web clients; nothing listens there: the scripted
    # browser stops at the redirect and hands the URL to the relying party.
    redirect_uri = f"http://127.0.0.1/interop/{name}/callback"
    args = ["clients", "create", "--name", f"Interop {name}", "--redirect-uri", redirect_uri,
            "--grant-type", "authorization_code", "--grant-type", "refresh_token",
            "--auth-method", method, "--scope", SCOPE]
    private = None
    if key_type:
        private, public = _new_key(key_type)
        jwks_file = workdir / f"{name}.jwks.json"
        jwks_file.write_text(json.dumps(public))
        args += ["--jwks-file", str(jwks_file)]
    if first_party:
        args.append("--first-party")
    out = _idp(env, *args)
    client_id = re.search(r"^client_id: (\S+)", out, re.M).group(1)
    secret = re.search(r"^client_secret: (\S+)", out, re.M)
    return RegisteredClient(client_id=client_id, redirect_uri=redirect_uri, auth_method=method,
                            secret=secret.group(1) if secret else None, private_jwk=private)


@pytest.fixture(scope="session")
def interop_database():
    with live_database("interop") as env:
        yield env


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, interop_database):
    """A real ``idp serve`` on a free loopback port, on its own database (SQLite, or PostgreSQL when the
    suite runs on it), with one citizen account and the interop clients, all made through the CLI."""
    workdir = tmp_path_factory.mktemp("interop")
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {**os.environ, "IDP_ISSUER": issuer, "IDP_KEYS_PATH": str(workdir / "keys"),
           "IDP_INSTANCE_PATH": str(workdir / "inst"), "IDP_REDIS_URL": "",
           "IDP_SMTP_URL": "", "IDP_DEBUG": "", **interop_database,
           "IDP_ARGON2_TIME_COST": "1", "IDP_ARGON2_MEMORY_KIB": "1024",
           "IDP_LOGIN_LIMIT_PER_IP": "1000/minute", "IDP_LOGIN_LIMIT_PER_ACCOUNT": "1000/minute"}
    _idp(env, "db", "upgrade")
    # The account and the clients are independent rows: register them side by side (SQLite in WAL
    # mode with a busy timeout serialises the writes) to keep the session setup short.
    with ThreadPoolExecutor(max_workers=len(CLIENTS) + 1) as pool:
        account = pool.submit(_idp, env, "accounts", "create", "--kind", "citizen", "--citizen-id", CITIZEN_ID,
                              "--name", FULL_NAME, "--email", EMAIL, "--password-stdin", stdin=PASSWORD + "\n")
        registered = {name: pool.submit(_register, env, workdir, name) for name in CLIENTS}
        sub = account.result().strip().splitlines()[-1]
        clients = {name: future.result() for name, future in registered.items()}

    log_path = workdir / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "idp", "serve", "--host", "127.0.0.1", "--port", str(port),
                                    "--workers", "2"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                   preexec_fn=_die_with_parent)
    server = LiveServer(issuer=issuer, sub=sub, identifier=CITIZEN_ID, password=PASSWORD, clients=clients,
                        log_path=log_path, env=env)
    try:
        wait_until_up(process, issuer, server.log_tail, START_TIMEOUT)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# --------------------------------------------------------------------------- the browser

class _FormParser(HTMLParser):
    """The forms of a page: method, action, inputs (name, value, type) and named submit buttons."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._current: dict | None = None

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._current = {"method": attributes.get("method", "get").lower(), "action": attributes.get("action"),
                             "inputs": [], "buttons": []}
            self.forms.append(self._current)
        elif self._current is not None and tag == "input" and attributes.get("name"):
            self._current["inputs"].append((attributes["name"], attributes.get("value", ""),
                                            attributes.get("type", "text").lower()))
        elif self._current is not None and tag == "button" and attributes.get("name"):
            self._current["buttons"].append((attributes["name"], attributes.get("value", "")))

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


def _post_forms(html: str) -> list[dict]:
    parser = _FormParser()
    parser.feed(html)
    return [form for form in parser.forms if form["method"] == "post"]


def authorize_in_browser(server: LiveServer, authorization_url: str, redirect_uri: str, *,
                         identifier: str | None = None, password: str | None = None,
                         browser: requests.Session | None = None, max_steps: int = 12) -> str:
    """Play the person's part of an authorization request with a cookie-keeping ``requests.Session``:
    follow the server's redirects, fill in the login form, allow on the consent page, and stop at the
    redirect to ``redirect_uri``. Returns that callback URL (with code, state and iss, or an error)."""
    browser = browser or requests.Session()
    identifier = identifier or server.identifier
    password = password or server.password
    method, url, data = "GET", authorization_url, None
    journey = []
    for _ in range(max_steps):
        assert url.startswith(server.issuer + "/"), f"the browser was sent off the server: {url}\n{journey}"
        response = browser.request(method, url, data=data, allow_redirects=False, timeout=HTTP_TIMEOUT)
        journey.append(f"{method} {urlsplit(url).path} -> {response.status_code}")
        if response.is_redirect:
            location = urljoin(response.url, response.headers["Location"])
            if location == redirect_uri or location.startswith(redirect_uri + "?"):
                return location
            method, url, data = "GET", location, None
            continue
        assert response.status_code == 200, (f"unexpected {response.status_code} from {url}: "
                                             f"{response.text[:1500]}\njourney: {journey}")
        forms = _post_forms(response.text)
        login = next((f for f in forms if any(name == "password" for name, _, _ in f["inputs"])), None)
        consent = next((f for f in forms if ("_motid_consent", "allow") in f["buttons"]), None)
        if login is not None:
            form = login
            fields = [(n, v) for n, v, t in form["inputs"] if t == "hidden"]
            fields += [("identifier", identifier), ("password", password)]
            journey.append("  (login form)")
        elif consent is not None:
            form = consent
            fields = [(n, v) for n, v, t in form["inputs"] if t == "hidden"] + [("_motid_consent", "allow")]
            journey.append("  (consent page: allow)")
        else:
            raise AssertionError(f"no login or consent form on {url}:\n{response.text[:1500]}\njourney: {journey}")
        method = "POST"
        url = urljoin(response.url, form["action"]) if form["action"] else response.url
        data = fields
    raise AssertionError(f"no redirect to {redirect_uri} after {max_steps} steps: {journey}")


@pytest.fixture
def browser_login(live_server):
    """``browser_login(authorization_url, redirect_uri) -> callback URL`` in a fresh browser."""

    def run(authorization_url: str, redirect_uri: str, **kwargs) -> str:
        return authorize_in_browser(live_server, authorization_url, redirect_uri, **kwargs)

    return run
