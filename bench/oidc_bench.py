#!/usr/bin/env python3
"""Throughput of MotID's OpenID Connect endpoints under wrk, beside the bare-Flask ceilings and the Node
oidc-provider (in memory and on PostgreSQL), with the targets of issue 12 computed within the run.

Run from the repository root with the project's virtualenv::

    .venv/bin/python bench/oidc_bench.py [--database sqlite|postgresql] [--seconds 10]
        [--write docs/benchmarks.md] [--node memory,postgresql] [--ceiling-servers ...] [--smoke]

What it does, start to finish:

1. makes a temporary instance/keys folder (and, for PostgreSQL, a fresh database on
   127.0.0.1:5432 as user ``postgres`` with a fresh Fernet ``IDP_MASTER_KEY``), runs
   ``idp db upgrade``, creates one citizen account and registers, through ``idp clients create``,
   one confidential first-party client: ``client_secret_basic``; grant types authorization_code,
   refresh_token and client_credentials; scope ``openid profile email offline_access``;
   ``introspection_allowed``. ``IDP_CODE_SECONDS`` is raised to 3600 so that codes minted before
   a run are still valid when it uses them; nothing else differs from the defaults;
2. measures the bare-Flask ceilings (``bench/ceiling_apps.py``: a constant small JSON; one ES256 JWT
   signed with joserfc per request) under each server ``idp serve`` can use or could use: gunicorn
   with 2 sync workers, gunicorn with 2 gthread workers and ``idp serve``'s own ``--threads`` default,
   granian (WSGI interface, 2 workers; ``.venv/bin/pip install 'granian>=2.5,<3'`` when the
   virtualenv lacks it), each under the same wrk load as MotID below;
3. starts ``idp serve --workers 2`` on a free loopback port, logs the account in once
   (GET + POST /login) and keeps that one SSO session;
4. drives each workload with wrk (Lua scripts in ``bench/wrk/``) for ``--seconds`` over
   ``--connections`` keep-alive connections, after ``--warmup`` seconds of the same requests
   where a request can be repeated:

   - discovery: GET /.well-known/openid-configuration; JWKS: GET /jwks.json;
   - client_credentials: POST /token (``scope=profile email``);
   - userinfo: GET /userinfo with a valid bearer token; introspection: POST /introspect of a valid
     access token (the tokens come from a real code exchange just before the run);
   - refresh with rotation: POST /token ``grant_type=refresh_token``; one refresh token per
     connection, each from its own code exchange, and wrk's ``response()`` takes the rotated token
     from each answer, so there are as many rotation chains as connections and no token is used twice;
   - code exchange: POST /token ``grant_type=authorization_code`` with codes minted beforehand
     through the real flow (GET /authorize?prompt=none with the SSO cookie -> 302 with a code),
     each used once; as many as the refresh rate says the run needs (more, and a second run, when
     wrk runs out);

   and records for each: requests/s, non-2xx answers (and 2xx answers without the expected body:
   an introspection must say ``"active": true``), socket errors, p50/p99 latency, the CPU of the
   server, of PostgreSQL's backends, of wrk itself and of everything else, and /proc/loadavg before
   and after (other people's work on the machine shows there);
5. for each ``--node`` storage (default both), runs ``npm ci`` in ``bench/node`` if needed, starts the
   Node ``oidc-provider`` there (``provider.mjs``: the same client id, secret, redirect URI and scope,
   clientCredentials/introspection/revocation enabled, refresh-token rotation, the same account
   claims, codes, refresh tokens and access tokens minted through its own models) on another free
   loopback port, in memory, then with its tokens, codes, grants and sessions in PostgreSQL
   (``pg_adapter.mjs``, in a database of its own, ``motid_bench_<pid>_node``, created and dropped
   here), and drives the same workloads with the same wrk scripts;
6. prints everything side by side with the targets of issue 12, each a ratio within this run
   (discovery and JWKS ≥ 0.8 × the constant ceiling under the fastest server measured;
   client_credentials ≥ 0.7 × the JWT ceiling, UserInfo and introspection ≥ 0.4 × it; refresh and
   code exchange ≥ 0.5 × oidc-provider on PostgreSQL and ≥ 1,000/s and ≥ 800/s; p99 < 50 ms and no
   errors everywhere), each marked met or not, and, with ``--write``, rewrites this database's
   section of the given Markdown file (between ``<!-- oidc-bench:<db>:start -->`` and
   ``<!-- oidc-bench:<db>:end -->``).

``--smoke`` proves that the harness works, for CI, in about a minute: every row for 1 s, no warm-up,
no waiting for an idle machine; it fails only when a run fails or answers with errors, never on a
figure.

Needs ``wrk`` (``scripts/install-wrk.sh``, Debian's package), granian (above) for its ceilings and, for the
comparison, Node.js 20+ with npm (and PostgreSQL for the second run). Everything it starts (servers,
temporary folder, PostgreSQL databases) is removed on exit, Ctrl-C or error. All traffic goes to
127.0.0.1; every loop is bounded in time.
"""
from __future__ import annotations

import argparse
import base64
import datetime as dt
import http.client
import json
import math
import os
import platform
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from typing import NamedTuple
from urllib.parse import parse_qs, quote, urlencode, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from login_bench import (  # noqa: E402  (the shared pieces of the login benchmark)
    CSRF_RE, HOST, IDP, ROOT, VENV_BIN, PgDatabase, Server, Stop, _cookie, _Null, _on_signal, base_env, free_port,
    hardware, machine_busy_seconds, postgres_backend_cpu, run_idp, wait_until_quiet, write_section,
)

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
WRK_DIR = os.path.join(BENCH_DIR, "wrk")
NODE_DIR = os.path.join(BENCH_DIR, "node")
WRK_INSTALL = "scripts/install-wrk.sh (Debian: apt-get install -y wrk)"

ACCOUNT = ("096201000077", "Bench-oidc-77-kestrel-harbour", "oidc-bench@example.org", "Nguyễn Văn Bench")
REDIRECT_URI = "http://127.0.0.1/oidc-bench/callback"  # nothing listens there: the code is read from Location
SCOPE = "openid profile email offline_access"
CC_SCOPE = "profile email"



class Workload(NamedTuple):
    """One workload and its target, a ratio to a reference measured in the same run (issue 12):
    ``ref`` is "constant" or "jwt" (that bare-Flask ceiling under the fastest server measured) or
    "node_pg" (oidc-provider on PostgreSQL, the same workload); ``floor`` an absolute req/s also required."""
    name: str
    title: str
    script: str
    expect: str  # what a 2xx body must contain (Lua pattern)
    ref: str
    factor: float
    floor: int | None = None


WORKLOADS = [
    Workload("discovery", "Discovery: GET /.well-known/openid-configuration", "static.lua", '"issuer"', "constant", 0.8),
    Workload("jwks", "JWKS: GET /jwks.json", "static.lua", '"keys"', "constant", 0.8),
    Workload("client_credentials", "client_credentials: POST /token", "static.lua", '"access_token"', "jwt", 0.7),
    Workload("userinfo", "UserInfo: GET with a bearer token", "static.lua", '"sub"', "jwt", 0.4),
    Workload("introspection", "Introspection: POST of a valid access token", "static.lua", '"active"%s*:%s*true',
             "jwt", 0.4),
    Workload("refresh", "Refresh with rotation: POST /token", "refresh.lua", '"refresh_token"', "node_pg", 0.5, 1000),
    Workload("code", "Code exchange (pre-minted codes): POST /token", "codes.lua", '"id_token"', "node_pg", 0.5, 800),
]
REFERENCES = {
    "constant": "constant-JSON Flask ceiling, fastest server",
    "jwt": "ES256-JWT Flask ceiling, fastest server",
    "node_pg": "oidc-provider on PostgreSQL",
}

# The bare-Flask ceilings (bench/ceiling_apps.py) and the servers they run under; every one is measured
# under the same wrk load as MotID.
CEILING_APPS = [  # name, title, factory in ceiling_apps, what a 2xx body must contain
    ("constant", "Flask, constant small JSON", "create_constant_app", '"status"'),
    ("jwt", "Flask, one ES256 JWT signed per request (joserfc)", "create_jwt_app", '"access_token"'),
]
CEILING_SERVERS = ["gunicorn-sync", "gunicorn-gthread", "granian"]
GRANIAN_INSTALL = ".venv/bin/pip install 'granian>=2.5,<3'"
NODE_STORAGES = ["memory", "postgresql"]
P99_TARGET_MS = 50.0

SECTION_START = "<!-- oidc-bench:{db}:start -->"
SECTION_END = "<!-- oidc-bench:{db}:end -->"
TITLES = {"sqlite": "SQLite (embedded, WAL)", "postgresql": "PostgreSQL"}
INTRO = """# Benchmarks

Figures on this page come from scripts in `bench/` (see `bench/README.md`), run against a real
MotID server: `idp serve` (gunicorn) started on a free port of 127.0.0.1, driven over loopback
by a small load generator on the same machine, so client and server share its cores. Each
section names the exact command, the date and the hardware; rerun the command with
`--write docs/benchmarks.md` to refresh a section.
"""
OIDC_HEADING = "## OpenID Connect endpoints"
OIDC_INTRO = """
`bench/oidc_bench.py` drives each endpoint with wrk (Lua scripts in `bench/wrk/`) over keep-alive
connections on 127.0.0.1, in one run: first the bare-Flask ceilings (`bench/ceiling_apps.py`: a
constant small JSON, and one ES256 JWT signed per request) under gunicorn sync, gunicorn gthread (as
`idp serve` configures it) and granian (WSGI, 2 workers); then `idp serve --workers 2`; then the Node
`oidc-provider` (OpenID Certified, `bench/node/provider.mjs`) configured with the same client, account
and features, once in memory and once on PostgreSQL (`bench/node/pg_adapter.mjs`). One confidential
first-party client (`client_secret_basic`); access tokens for UserInfo and introspection come from a
real code exchange; refresh tokens rotate on every use, one chain of rotations per wrk
connection; codes are minted beforehand through the real flow (MotID: GET /authorize?prompt=none with
one SSO session; oidc-provider: its `AuthorizationCode` model) and each is used once. A request
counts as an error when the answer is not 2xx, or is 2xx without the expected body (an
introspection must say `"active": true`). The targets are ratios to references measured in the same
run (the ceilings under the fastest server, oidc-provider on PostgreSQL) and p99 under 50 ms. wrk
shares the 2 cores with the servers, so its own CPU is reported, and so is `/proc/loadavg` before and
after each run: other people's test suites run on this machine.
"""


# --------------------------------------------------------------------------- helpers
def loadavg() -> str:
    try:
        with open("/proc/loadavg") as fh:
            return " ".join(fh.read().split()[:3])
    except OSError:
        return "?"


def proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def basic_auth(client_id: str, secret: str) -> str:
    # RFC 6749 §2.3.1: both form-encoded before base64
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def http_request(port: int, method: str, path: str, headers: dict | None = None, body: bytes | None = None,
                 timeout: float = 30):
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers={"User-Agent": "motid-oidc-bench/1", **(headers or {})})
        response = conn.getresponse()
        return response, response.read()
    finally:
        conn.close()


def check_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError(f"wrk is not installed: {WRK_INSTALL}")
    return wrk


# --------------------------------------------------------------------------- wrk
class WrkRun:
    """One wrk process; its own CPU comes from wait4's rusage."""

    def __init__(self, wrk: str, url: str, script: str, seconds: float, threads: int, connections: int,
                 env: dict, timeout_s: int = 5):
        self.cmd = [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
                    "--timeout", f"{timeout_s}s", "-s", os.path.join(WRK_DIR, script), url]
        self.env = {**os.environ, **env, "BENCH_THREADS": str(threads)}
        self.seconds = seconds

    def run(self) -> tuple[dict, float, str]:
        proc = subprocess.Popen(self.cmd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        out: list[bytes] = []
        readers = [threading.Thread(target=lambda s=s: out.append(s.read()), daemon=True)
                   for s in (proc.stdout, proc.stderr)]
        for reader in readers:
            reader.start()
        deadline = time.monotonic() + self.seconds + 60
        rusage = None
        try:
            while time.monotonic() < deadline:
                pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    proc.returncode = os.waitstatus_to_exitcode(status)
                    break
                time.sleep(0.05)
            else:
                raise RuntimeError(f"wrk did not finish within {self.seconds + 60:.0f} s")
        finally:
            if proc.returncode is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)  # the group this script created for wrk
                except ProcessLookupError:
                    pass
                proc.wait(timeout=10)
        for reader in readers:
            reader.join(timeout=10)
        text = b"".join(out).decode("utf-8", "replace")
        summary = None
        for line in text.splitlines():
            if line.startswith("BENCH_JSON "):
                summary = json.loads(line[len("BENCH_JSON "):])
        if proc.returncode != 0 or summary is None:
            raise RuntimeError(f"wrk failed ({proc.returncode}): {' '.join(self.cmd)}\n{text[-3000:]}")
        return summary, rusage.ru_utime + rusage.ru_stime, text


# --------------------------------------------------------------------------- MotID and oidc-provider
class Target:
    """What the workloads need from a server: paths, tokens, and which processes to account CPU to."""

    name = ""  # as printed
    key = ""  # in file names
    paths: dict[str, str] = {}

    def __init__(self, port: int, client_id: str, secret: str):
        self.port, self.client_id, self.secret = port, client_id, secret
        self.url = f"http://{HOST}:{port}"
        self.auth = basic_auth(client_id, secret)

    def server_cpu(self) -> float:
        raise NotImplementedError

    def pg_cpu(self) -> float | None:
        return None

    def mint_codes(self, count: int, deadline: float) -> list[str]:
        raise NotImplementedError

    def refresh_tokens(self, count: int) -> list[str]:
        raise NotImplementedError

    def access_token(self) -> str:
        raise NotImplementedError

    def token_request(self, body: dict) -> dict:
        response, data = http_request(self.port, "POST", self.paths["token"], {
            "Authorization": self.auth, "Content-Type": "application/x-www-form-urlencoded"},
            urlencode(body).encode())
        if response.status != 200:
            raise RuntimeError(f"{self.name}: POST {self.paths['token']} {body.get('grant_type')} -> "
                               f"{response.status}: {data[:500]!r}")
        return json.loads(data)


class MotID(Target):
    name = key = "MotID"
    paths = {"discovery": "/.well-known/openid-configuration", "jwks": "/jwks.json", "token": "/token",
             "userinfo": "/userinfo", "introspection": "/introspect"}

    def __init__(self, port: int, client_id: str, secret: str, server: Server, pg):
        super().__init__(port, client_id, secret)
        self.server, self.pg = server, pg
        self.sso = None

    def server_cpu(self) -> float:
        return self.server.cpu_seconds()

    def pg_cpu(self) -> float | None:
        return postgres_backend_cpu(self.pg.name) if self.pg else None

    def login(self) -> None:
        citizen_id, password, _, _ = ACCOUNT
        response, page = http_request(self.port, "GET", "/login")
        token, ui = CSRF_RE.search(page), _cookie(response, "motid_ui")
        if response.status != 200 or not token or not ui:
            raise RuntimeError(f"GET /login -> {response.status} without a CSRF token or motid_ui cookie")
        form = urlencode({"csrf_token": token.group(1).decode(), "identifier": citizen_id,
                          "password": password}).encode()
        response, _ = http_request(self.port, "POST", "/login", {
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"motid_ui={ui}"}, form)
        self.sso = _cookie(response, "motid_sso")
        if response.status != 302 or not self.sso:
            raise RuntimeError(f"POST /login -> {response.status} without motid_sso")

    def _authorize_path(self, n: int) -> str:
        return "/authorize?" + urlencode({
            "response_type": "code", "client_id": self.client_id, "redirect_uri": REDIRECT_URI, "scope": SCOPE,
            "state": f"s{n}", "nonce": f"n{n}", "prompt": "none"})

    def mint_codes(self, count: int, deadline: float, workers: int = 4) -> list[str]:
        """``count`` codes through GET /authorize?prompt=none with the one SSO session (several keep-alive
        connections side by side), until ``deadline``."""
        codes: list[str] = []
        errors: list[str] = []
        lock = threading.Lock()
        remaining = [count]

        def worker(index: int) -> None:
            conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
            headers = {"Cookie": f"motid_sso={self.sso}", "User-Agent": "motid-oidc-bench/1"}
            n = index
            try:
                while time.monotonic() < deadline:
                    with lock:
                        if remaining[0] <= 0 or len(errors) > 20:
                            return
                        remaining[0] -= 1
                    n += workers
                    try:
                        conn.request("GET", self._authorize_path(n), headers=headers)
                        response = conn.getresponse()
                        response.read()
                    except (OSError, http.client.HTTPException) as exc:
                        conn.close()
                        conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
                        with lock:
                            errors.append(type(exc).__name__)
                            remaining[0] += 1
                        continue
                    location = response.getheader("Location") or ""
                    code = parse_qs(urlsplit(location).query).get("code")
                    with lock:
                        if response.status == 302 and location.startswith(REDIRECT_URI) and code:
                            codes.append(code[0])
                        else:
                            errors.append(f"{response.status} {location[:200]}")
                            remaining[0] += 1
            finally:
                conn.close()

        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(1.0, deadline - time.monotonic() + 35))
        if errors and not codes:
            raise RuntimeError(f"MotID: GET /authorize?prompt=none gave no code: {errors[:3]}")
        return codes

    def _exchange(self) -> dict:
        code = self.mint_codes(1, time.monotonic() + 30, workers=1)
        return self.token_request({"grant_type": "authorization_code", "code": code[0], "redirect_uri": REDIRECT_URI})

    def refresh_tokens(self, count: int) -> list[str]:
        return [self._exchange()["refresh_token"] for _ in range(count)]

    def access_token(self) -> str:
        return self._exchange()["access_token"]


class NodeProvider(Target):
    """``node bench/node/provider.mjs`` in its own process group, stopped (TERM, then KILL) on exit.

    ``storage`` is "memory" (an unbounded in-process store) or "postgresql": then ``pg`` is a fresh
    database of this run (a :class:`PgDatabase`) and the provider keeps its tokens, codes, grants and sessions
    there through ``bench/node/pg_adapter.mjs``; the CPU of its PostgreSQL backends is accounted like MotID's."""

    paths = {"discovery": "/.well-known/openid-configuration", "jwks": "/jwks", "token": "/token",
             "userinfo": "/me", "introspection": "/token/introspection"}

    def __init__(self, port: int, client_id: str, secret: str, tmp: str, claims: dict, sub: str,
                 storage: str = "memory", pg=None, pool_size: int = 10):
        super().__init__(port, client_id, secret)
        self.storage, self.pg = storage, pg
        self.name = f"oidc-provider ({'PostgreSQL' if storage == 'postgresql' else 'memory'})"
        self.key = f"node-{storage}"
        self.admin_port = free_port()
        self.config_path = os.path.join(tmp, f"provider-{storage}.json")
        self.log_path = os.path.join(tmp, f"provider-{storage}.log")
        config = {"port": port, "adminPort": self.admin_port, "issuer": self.url,
                  "client": {"client_id": client_id, "client_secret": secret, "redirect_uri": REDIRECT_URI,
                             "scope": SCOPE},
                  "account": {"sub": sub, "claims": claims}, "storage": {"type": "memory"}}
        if storage == "postgresql":
            config["storage"] = {"type": "postgresql", "url": f"postgresql://postgres@{HOST}:5432/{pg.name}",
                                 "poolSize": pool_size}
        with open(self.config_path, "w") as fh:
            json.dump(config, fh)
        self.proc: subprocess.Popen | None = None
        self.log = None
        self.version = ""

    def pg_cpu(self) -> float | None:
        return postgres_backend_cpu(self.pg.name) if self.pg else None

    @staticmethod
    def ensure_installed() -> dict:
        """``npm ci`` unless node_modules holds exactly the locked versions of the direct dependencies;
        returns them (name -> version)."""
        node, npm = shutil.which("node"), shutil.which("npm")
        if node is None or npm is None:
            raise RuntimeError("Node.js (node and npm) is needed for the oidc-provider comparison; "
                               "or run with --skip-node")
        with open(os.path.join(NODE_DIR, "package-lock.json")) as fh:
            packages = json.load(fh)["packages"]
        locked = {name: packages[f"node_modules/{name}"]["version"] for name in packages[""]["dependencies"]}

        def installed(name: str) -> str | None:
            try:
                with open(os.path.join(NODE_DIR, "node_modules", name, "package.json")) as fh:
                    return json.load(fh)["version"]
            except (OSError, ValueError, KeyError):
                return None
        if any(installed(name) != version for name, version in locked.items()):
            print(f"npm ci in {os.path.relpath(NODE_DIR, ROOT)} "
                  f"({', '.join(f'{k} {v}' for k, v in locked.items())})", flush=True)
            done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, capture_output=True,
                                  text=True, timeout=300)
            if done.returncode != 0:
                raise RuntimeError(f"npm ci failed: {(done.stderr or done.stdout)[-2000:]}")
        return locked

    def __enter__(self):
        self.versions = self.ensure_installed()
        self.version = self.versions["oidc-provider"]
        self.log = open(self.log_path, "wb")
        env = {**os.environ, "NODE_ENV": "production"}
        self.proc = subprocess.Popen([shutil.which("node"), "provider.mjs", self.config_path], cwd=NODE_DIR, env=env,
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        try:  # __exit__ does not run when __enter__ raises: stop it here then
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"provider.mjs exited with {self.proc.returncode}:\n{self.tail()}")
                if '"ready":true' in self.tail():
                    return self
                time.sleep(0.2)
            raise RuntimeError(f"provider.mjs not ready after 60 s:\n{self.tail()}")
        except BaseException:
            self.__exit__()
            raise

    def tail(self, n: int = 4000) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                return fh.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.proc.pid, sig)  # the group this script created for node
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self.log is not None:
            self.log.close()

    def server_cpu(self) -> float:
        return proc_cpu(self.proc.pid)

    def _mint(self, **counts) -> dict:
        response, data = http_request(self.admin_port, "POST", "/mint", {"Content-Type": "application/json"},
                                      json.dumps(counts).encode(), timeout=120)
        if response.status != 200:
            raise RuntimeError(f"oidc-provider mint -> {response.status}: {data[:500]!r}")
        return json.loads(data)

    def mint_codes(self, count: int, deadline: float) -> list[str]:
        return self._mint(codes=count)["codes"]

    def refresh_tokens(self, count: int) -> list[str]:
        return self._mint(refresh=count)["refresh"]

    def access_token(self) -> str:
        return self._mint(access=1)["access"][0]


# --------------------------------------------------------------------------- the bare-Flask ceilings
SERVER_WORKERS = 2  # MotID runs under `idp serve --workers 2`; every ceiling server gets as many processes


def tree_pids(root: int) -> list[int]:
    """``root`` and every live descendant (granian's and gunicorn's workers, whatever the depth)."""
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as fh:
                    todo += [int(p) for p in fh.read().split()]
        except OSError:
            pass
    return pids


def serve_defaults() -> dict:
    """``idp serve``'s own option defaults (threads per worker, access log), read from the command itself so
    that the gthread ceiling runs as ``idp serve`` configures gunicorn."""
    try:
        from idp.cli import serve
        return {param.name: param.default for param in serve.params}
    except Exception as exc:  # an idp that does not import: say so, use what it was when this was written
        print(f"warning: could not read idp serve's defaults ({exc}); assuming 4 threads, no access log",
              file=sys.stderr)
        return {"threads": 4, "access_log": False}


def granian_bin() -> str | None:
    path = os.path.join(VENV_BIN, "granian")
    return path if os.path.exists(path) else shutil.which("granian")


def tool_version(cmd: list[str]) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (done.stdout + done.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def describe_server(kind: str, threads: int) -> str:
    return {
        "gunicorn-sync": f"gunicorn, {SERVER_WORKERS} sync workers",
        "gunicorn-gthread": f"gunicorn, {SERVER_WORKERS} gthread workers x {threads} threads (as `idp serve`)",
        "granian": f"granian, WSGI interface, {SERVER_WORKERS} workers (its defaults otherwise)",
    }[kind]


class CeilingServer(Server):
    """One of ``bench/ceiling_apps.py``'s applications under one server, in its own process group (stopped
    like ``idp serve``: TERM, then KILL); its CPU is that of the whole process tree."""

    def __init__(self, kind: str, factory: str, port: int, tmp: str, threads: int, log_path: str):
        if kind == "granian":
            cmd = [granian_bin(), "--interface", "wsgi", "--host", HOST, "--port", str(port),
                   "--workers", str(SERVER_WORKERS), "--no-ws", "--factory", "--working-dir", BENCH_DIR,
                   f"ceiling_apps:{factory}"]
        else:
            worker_class, n = ("sync", 1) if kind == "gunicorn-sync" else ("gthread", threads)
            cmd = [os.path.join(VENV_BIN, "gunicorn"), "--bind", f"{HOST}:{port}", "--workers", str(SERVER_WORKERS),
                   "--worker-class", worker_class, "--threads", str(n), "--graceful-timeout", "10",
                   "--pythonpath", BENCH_DIR, f"ceiling_apps:{factory}()"]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "GRANIAN_", "GUNICORN_"))}
        env["PYTHONUNBUFFERED"] = "1"
        self.cmd, self.env, self.cwd, self.port, self.log_path = cmd, env, tmp, port, log_path
        self.proc = None

    def cpu_seconds(self) -> float:
        return sum(proc_cpu(pid) for pid in tree_pids(self.proc.pid))


class Ceiling(Target):
    paths = {"ceiling": "/"}

    def __init__(self, port: int, server: CeilingServer, app: str, kind: str):
        super().__init__(port, "", "")
        self.server = server
        self.name, self.key = f"ceiling {app} / {kind}", f"ceiling-{app}-{kind}"

    def server_cpu(self) -> float:
        return self.server.cpu_seconds()


def run_ceilings(args, wrk: str, tmp: str, threads: int, apps: set[str]) -> dict:
    """{app: {server: result}}: each ceiling application in ``apps`` under each server, the same wrk load as
    MotID."""
    results: dict[str, dict] = {}
    for kind in args.ceiling_servers:
        for app, _, factory, expect in CEILING_APPS:
            if app not in apps:
                continue
            port = free_port()
            log_path = os.path.join(tmp, f"ceiling-{app}-{kind}.log")
            with CeilingServer(kind, factory, port, tmp, threads, log_path) as server:
                server.wait_healthy()
                target = Ceiling(port, server, app, kind)
                env = {"BENCH_HEADERS": "", "BENCH_EXPECT": expect, "BENCH_METHOD": "GET", "BENCH_PATH": "/"}
                print(f"[ceiling] {app} under {kind}: {args.seconds:g} s, {args.connections} connections, "
                      f"load {loadavg()}", flush=True)
                try:
                    result = measure(args, wrk, target, f"ceiling-{app}", "static.lua", env, warm=True)
                except RuntimeError as exc:
                    raise RuntimeError(f"{exc}\nserver log:\n{server.tail()}") from None
            results.setdefault(app, {})[kind] = result
            print(f"[ceiling] {app} under {kind}: {result['rps']:.0f} req/s, p50 {result['p50']:.1f} ms, "
                  f"p99 {result['p99']:.1f} ms, errors {errors_total(result)}; CPU per request: server "
                  f"{result['server_ms']:.3f} ms, wrk {result['wrk_ms']:.3f} ms", flush=True)
    return results


# --------------------------------------------------------------------------- the workloads
def measure(args, wrk: str, target: Target, name: str, script: str, env: dict, warm: bool) -> dict:
    if warm and args.warmup > 0:
        WrkRun(wrk, target.url, script, args.warmup, args.wrk_threads, args.connections, env).run()
    load_before = loadavg()
    profiler = Profiler(args, target, name) if args.profile and isinstance(target, MotID) else None
    cpu0 = (target.server_cpu(), target.pg_cpu(), machine_busy_seconds())
    try:
        summary, wrk_cpu, _ = WrkRun(wrk, target.url, script, args.seconds, args.wrk_threads, args.connections,
                                     env).run()
    finally:
        cpu1 = (target.server_cpu(), target.pg_cpu(), machine_busy_seconds())
        load_after = loadavg()
        if profiler:
            profiler.finish()
    seconds = summary["duration_us"] / 1e6
    pg = (cpu1[1] - cpu0[1]) if cpu0[1] is not None and cpu1[1] is not None else None
    server = cpu1[0] - cpu0[0]
    machine = cpu1[2] - cpu0[2]
    socket = {k: v for k, v in summary["errors"].items() if k != "status" and v}
    lat = summary["latency_us"]
    return {
        "rps": summary["requests"] / seconds, "requests": summary["requests"], "seconds": seconds,
        "non2xx": summary["non2xx"], "unexpected": summary["unexpected"], "socket": socket,
        "statuses": summary["statuses"], "p50": lat["p50"] / 1000, "p99": lat["p99"] / 1000,
        "max": lat["max"] / 1000, "server_cores": server / seconds, "pg_cores": pg / seconds if pg is not None else None,
        "wrk_cores": wrk_cpu / seconds, "other_cores": max(0.0, (machine - server - wrk_cpu - (pg or 0)) / seconds),
        "machine_cores": machine / seconds, "load_before": load_before, "load_after": load_after,
        "extra": {k: summary[k] for k in ("exhausted", "used", "starved", "rotations") if k in summary},
        "server_ms": server / max(summary["requests"], 1) * 1000,
        "pg_ms": pg / max(summary["requests"], 1) * 1000 if pg is not None else None,
        "wrk_ms": wrk_cpu / max(summary["requests"], 1) * 1000,
        "profile": profiler.summary() if profiler else None,
    }


# --------------------------------------------------------------------------- profiling (--profile)
# Innermost match wins: each sample is charged to the first category found walking from the leaf frame
# outwards, so the shares add up to 100 % of the time the workers held the GIL.
CATEGORIES = [  # py-spy names a frame "function (package/module.py:line)"
    ("JSON encode/decode", ("(json/",)),
    ("Fernet: client secret decryption", ("(cryptography/fernet.py",)),
    ("JOSE: key import, JWT sign/verify (joserfc, cryptography)", ("(joserfc/", "(cryptography/")),
    ("Database: SQLAlchemy ORM/Core + driver", ("(sqlalchemy/", "(psycopg/", "(psycopg_pool/", "(sqlite3/",
                                                "<sqlalchemy generated")),
    ("Authlib: OAuth request parsing, client auth", ("(authlib/",)),
    ("Flask-Limiter / limits", ("(flask_limiter/", "(limits/")),
    ("Flask-Babel / Babel", ("(flask_babel/", "(babel/")),
    ("Flask-WTF / WTForms", ("(flask_wtf/", "(wtforms/")),
    ("Jinja2", ("(jinja2/",)),
    ("MotID code (idp/)", ("(idp/",)),
    ("logging (gunicorn access log)", ("(logging/", "(gunicorn/glogging.py")),
    ("gunicorn: HTTP parsing, worker loop", ("(gunicorn/",)),
    ("Werkzeug / Flask: routing, request, response", ("(werkzeug/", "(flask/", "(itsdangerous/", "(blinker/")),
]


class Profiler:
    """py-spy (``--py-spy``) on each server worker during one measured run: samples of the threads that
    hold the GIL (``--gil``), without pausing the workers (``--nonblocking``), as collapsed stacks."""

    def __init__(self, args, target: "MotID", workload: str):
        self.args, self.workload, self.procs, self.files = args, workload, [], []
        os.makedirs(args.profile, exist_ok=True)
        for pid in target.server.worker_pids():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    if b"serve" not in fh.read().split(b"\0"):  # the `idp worker` helper, not a gunicorn worker
                        continue
            except (OSError, IndexError):
                continue
            path = os.path.join(args.profile, f"{workload}-{pid}.txt")
            self.files.append(path)
            self.procs.append(subprocess.Popen(
                [args.py_spy, "record", "--pid", str(pid), "--rate", "200", "--gil", "--nonblocking",
                 "--format", "raw", "--duration", str(int(math.ceil(args.seconds)) + 1), "--output", path],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True))
        time.sleep(0.5)  # let py-spy attach before the load starts

    def finish(self) -> None:
        for proc in self.procs:
            try:
                proc.wait(timeout=self.args.seconds + 30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGINT)  # py-spy writes what it has on SIGINT
                proc.wait(timeout=10)

    def summary(self, top: int = 12) -> dict:
        categories: dict[str, int] = {}
        self_time: dict[str, int] = {}
        inclusive: dict[str, int] = {}
        total = 0
        for path in self.files:
            try:
                with open(path) as fh:
                    lines = fh.read().splitlines()
            except OSError:
                continue
            for line in lines:
                stack, _, count = line.rpartition(" ")
                if not stack or not count.isdigit():
                    continue
                n = int(count)
                frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]  # per function, not line
                total += n
                self_time[frames[-1]] = self_time.get(frames[-1], 0) + n
                for frame in set(frames):
                    if "(idp/" in frame or "(authlib/" in frame:
                        inclusive[frame] = inclusive.get(frame, 0) + n
                for frame in reversed(frames):
                    label = next((name for name, needles in CATEGORIES if any(x in frame for x in needles)), None)
                    if label:
                        categories[label] = categories.get(label, 0) + n
                        break
                else:
                    categories["other (interpreter, stdlib)"] = categories.get("other (interpreter, stdlib)", 0) + n

        def ranked(table):
            return [(k, v / total) for k, v in sorted(table.items(), key=lambda kv: -kv[1])[:top]] if total else []
        return {"samples": total, "categories": ranked(categories), "self": ranked(self_time),
                "inclusive": ranked(inclusive), "files": self.files}


def print_profile(name: str, profile: dict) -> None:
    print(f"  profile of {name}: {profile['samples']} samples with the GIL held")
    for label, share in profile["categories"]:
        print(f"    {share * 100:5.1f} %  {label}")
    print("    top self time:")
    for frame, share in profile["self"][:8]:
        print(f"    {share * 100:5.1f} %  {frame}")
    print("    inclusive (idp/, authlib/):")
    for frame, share in profile["inclusive"][:10]:
        print(f"    {share * 100:5.1f} %  {frame}")


def write_lines(path: str, lines: list[str]) -> str:
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def run_workloads(args, wrk: str, target: Target, tmp: str, selected: list[str]) -> dict:
    results: dict[str, dict] = {}
    base = {"BENCH_HEADERS": ""}
    form = "Content-Type: application/x-www-form-urlencoded"
    for name, _, script, expect, *_ in WORKLOADS:
        if name not in selected:
            continue
        env = dict(base, BENCH_EXPECT=expect)
        print(f"[{target.name}] {name}: {args.seconds:g} s, {args.connections} connections, load {loadavg()}",
              flush=True)
        if name in ("discovery", "jwks"):
            env.update(BENCH_METHOD="GET", BENCH_PATH=target.paths[name])
            result = measure(args, wrk, target, name, script, env, warm=True)
        elif name == "client_credentials":
            env.update(BENCH_METHOD="POST", BENCH_PATH=target.paths["token"],
                       BENCH_BODY=urlencode({"grant_type": "client_credentials", "scope": CC_SCOPE}),
                       BENCH_HEADERS=f"Authorization: {target.auth}\n{form}")
            result = measure(args, wrk, target, name, script, env, warm=True)
        elif name == "userinfo":
            env.update(BENCH_METHOD="GET", BENCH_PATH=target.paths["userinfo"],
                       BENCH_HEADERS=f"Authorization: Bearer {target.access_token()}")
            result = measure(args, wrk, target, name, script, env, warm=True)
        elif name == "introspection":
            env.update(BENCH_METHOD="POST", BENCH_PATH=target.paths["introspection"],
                       BENCH_BODY=urlencode({"token": target.access_token(), "token_type_hint": "access_token"}),
                       BENCH_HEADERS=f"Authorization: {target.auth}\n{form}")
            result = measure(args, wrk, target, name, script, env, warm=True)
        elif name == "refresh":
            tokens = target.refresh_tokens(args.connections)  # one per connection, each its own family
            env.update(BENCH_PATH=target.paths["token"], BENCH_HEADERS=f"Authorization: {target.auth}",
                       BENCH_TOKENS_FILE=write_lines(os.path.join(tmp, f"refresh-{target.key}.txt"), tokens))
            result = measure(args, wrk, target, name, script, env, warm=False)
            result["extra"]["chains"] = len(tokens)
        else:  # code exchange
            result = run_code_exchange(args, wrk, target, tmp, env, results.get("refresh"))
        results[name] = result
        print(f"[{target.name}] {name}: {result['rps']:.0f} req/s, p50 {result['p50']:.1f} ms, "
              f"p99 {result['p99']:.1f} ms, errors {errors_total(result)}; CPU per request: server "
              f"{result['server_ms']:.2f} ms" + (f", PostgreSQL {result['pg_ms']:.2f} ms" if result["pg_ms"] is not None
                                                   else "")
              + f", wrk {result['wrk_ms']:.3f} ms; load {result['load_before']} -> {result['load_after']}", flush=True)
        if result.get("profile"):
            print_profile(name, result["profile"])
    return results


def run_code_exchange(args, wrk, target: Target, tmp: str, env: dict, refresh: dict | None) -> dict:
    """Mint enough codes (the refresh rate is the estimate), run; if wrk ran out, mint more and run again."""
    estimate = refresh["rps"] * 1.5 if refresh else 2000.0
    attempts = []
    for attempt in (1, 2):
        count = min(args.max_codes, int(math.ceil(estimate * args.seconds)) + 200)
        started = time.monotonic()
        codes = target.mint_codes(count, deadline=started + args.mint_timeout)
        minted_in = time.monotonic() - started
        print(f"[{target.name}] code: {len(codes)} codes minted in {minted_in:.1f} s "
              f"({len(codes) / max(minted_in, 1e-6):.0f}/s)", flush=True)
        env = dict(env, BENCH_PATH=target.paths["token"], BENCH_HEADERS=f"Authorization: {target.auth}",
                   BENCH_REDIRECT_URI=REDIRECT_URI,
                   BENCH_CODES_FILE=write_lines(os.path.join(tmp, f"codes-{target.key}-{attempt}.txt"), codes))
        result = measure(args, wrk, target, "code", "codes.lua", env, warm=False)
        result["extra"].update(minted=len(codes), mint_seconds=minted_in, attempt=attempt)
        attempts.append(result)
        if not result["extra"].get("exhausted") or len(codes) >= args.max_codes:
            break
        estimate = max(estimate, result["rps"]) * 2.0
        print(f"[{target.name}] code: wrk ran out of codes; minting more and running again", flush=True)
    result = attempts[-1]
    if result["extra"].get("exhausted"):
        result["note"] = "ran out of codes: a lower bound"
    return result


def errors_total(r: dict) -> int:
    return r["non2xx"] + r["unexpected"] + sum(r["socket"].values())


# --------------------------------------------------------------------------- report
def fmt_errors(r: dict) -> str:
    parts = [f"{r['non2xx']} non-2xx"]
    if r["unexpected"]:
        parts.append(f"{r['unexpected']} 2xx without the expected body")
    socket = sum(r["socket"].values())
    parts.append(f"{socket} socket" + (f" ({', '.join(f'{k} {v}' for k, v in r['socket'].items())})" if socket else ""))
    return ", ".join(parts)


def cpu_rate(r: dict, cores: int, server_cores: int | None = None) -> float:
    """The rate the CPU per request allows on an otherwise idle machine: ``cores`` ÷ (server + PostgreSQL +
    wrk) CPU per request; ``server_cores`` caps the server (one Node process uses one core; MotID's and the
    ceilings' 2 workers can use both)."""
    total = r["server_ms"] + (r["pg_ms"] or 0) + r["wrk_ms"]
    rate = cores * 1000 / total if total > 0 else float("inf")
    if server_cores is not None and r["server_ms"] > 0:
        rate = min(rate, server_cores * 1000 / r["server_ms"])
    return rate


def cpu_text(r: dict) -> str:
    if r["pg_ms"] is None:
        return f"{r['server_ms']:.2f} ms"
    return f"{r['server_ms'] + r['pg_ms']:.2f} ms ({r['server_ms']:.2f} + {r['pg_ms']:.2f})"


def best_ceilings(result: dict) -> dict[str, tuple[str, dict]]:
    """{app: (server, result)}: the fastest server measured for each ceiling application."""
    out = {}
    for app, by_server in (result.get("ceilings") or {}).items():
        if by_server:
            out[app] = max(by_server.items(), key=lambda kv: kv[1]["rps"])
    return out


def target_text(w: Workload, best: dict) -> str:
    if w.ref in ("constant", "jwt"):
        ref = f"{w.ref} ceiling" + (f" ({best[w.ref][0]})" if w.ref in best else "")
    else:
        ref = "oidc-provider on PostgreSQL"
    return f"≥ {w.factor:g} × {ref}" + (f" and ≥ {w.floor:,}/s" if w.floor else "")


def evaluate(result: dict) -> dict[str, dict]:
    """Each MotID workload against its issue-12 target, every reference from this same run: the ratio of
    req/s (the target), the same ratio of the rates the CPU per request allows (less sensitive to other
    processes on the machine; for information), the absolute floor, p99 < 50 ms and no errors."""
    motid, node_pg, cores = result["motid"], result.get("node_pg") or {}, result["cores"]
    best = best_ceilings(result)
    out = {}
    for w in WORKLOADS:
        r = motid.get(w.name)
        if r is None:
            continue
        ref, ref_rate = None, None
        if w.ref in best:
            ref = best[w.ref][1]
            ref_rate = cpu_rate(ref, cores)
        elif w.ref == "node_pg" and w.name in node_pg:
            ref = node_pg[w.name]
            ref_rate = cpu_rate(ref, cores, 1)
        misses = []
        ratio = r["rps"] / ref["rps"] if ref and ref["rps"] > 0 else None
        if ratio is None:
            misses.append(f"{REFERENCES[w.ref]} not measured")
        elif ratio < w.factor:
            misses.append(f"ratio {ratio:.2f} < {w.factor:g}")
        if w.floor and r["rps"] < w.floor:
            misses.append(f"{r['rps']:,.0f}/s < {w.floor:,}/s")
        if r["p99"] >= P99_TARGET_MS:
            misses.append(f"p99 {r['p99']:.1f} ms ≥ {P99_TARGET_MS:g} ms")
        if errors_total(r):
            misses.append(f"{errors_total(r)} errors")
        out[w.name] = {
            "target": target_text(w, best), "ref_rps": ref["rps"] if ref else None,
            "need": max(w.factor * ref["rps"] if ref else 0.0, float(w.floor or 0)),
            "ratio": ratio, "cpu_ratio": cpu_rate(r, cores) / ref_rate if ref_rate else None,
            "misses": misses, "met": not misses,
        }
    return out


def _n(value, fmt: str = ",.0f", none: str = "–") -> str:
    return none if value is None else format(value, fmt)


def _rps(r: dict | None) -> str:
    if not r:
        return "–"
    text = f"{r['rps']:,.0f}"
    if errors_total(r):
        text += f" ({errors_total(r)} err)"
    if r.get("note"):
        text += " (ran out of codes)"
    return text


def print_result(result: dict) -> None:
    motid, node, node_pg = result["motid"], result.get("node") or {}, result.get("node_pg") or {}
    ceilings, cores = result.get("ceilings") or {}, result["cores"]
    print(f"\n{TITLES[result['database']]}: {result['seconds']:g} s per workload after {result['warmup']:g} s warm-up, "
          f"{result['connections']} connections, wrk -t{result['wrk_threads']}"
          + ("  [SMOKE RUN: the figures mean nothing]" if result.get("smoke") else ""))
    if ceilings:
        servers = [k for k in CEILING_SERVERS if any(k in by for by in ceilings.values())]
        print("  Bare-Flask ceilings (bench/ceiling_apps.py): req/s, p99, errors, server CPU per request")
        print(f"  {'':<10}" + "".join(f"{k:>36}" for k in servers))
        for app, _, _, _ in CEILING_APPS:
            if app not in ceilings:
                continue
            cells = []
            for kind in servers:
                c = ceilings[app].get(kind)
                cells.append(f"{c['rps']:>8,.0f}/s p99 {c['p99']:5.1f} err {errors_total(c):>2} {c['server_ms']:.3f} ms"
                             if c else "–")
            print(f"  {app:<10}" + "".join(f"{cell:>36}" for cell in cells))
    evaluation = evaluate(result)
    print(f"  {'workload':<19}{'MotID/s':>9}{'p50':>6}{'p99':>7}{'err':>5}{'CPU/req':>9}{'node/s':>9}{'node-pg/s':>10}"
          f"  {'target':<44}{'ref/s':>8}{'need/s':>8}{'ratio':>7}{'cpu-r':>7}  met")
    for w in WORKLOADS:
        if w.name not in motid:
            continue
        r, e = motid[w.name], evaluation[w.name]
        cpu = r["server_ms"] + (r["pg_ms"] or 0)
        n, npg = node.get(w.name), node_pg.get(w.name)
        print(f"  {w.name:<19}{r['rps']:>9,.0f}{r['p50']:>6.1f}{r['p99']:>7.1f}{errors_total(r):>5}{cpu:>7.2f}ms"
              f"{_n(n and n['rps']):>9}{_n(npg and npg['rps']):>10}  {e['target']:<44}{_n(e['ref_rps']):>8}"
              f"{_n(e['need'] or None):>8}{_n(e['ratio'], '.2f'):>7}{_n(e['cpu_ratio'], '.2f'):>7}  "
              + ("yes" if e["met"] else "NO: " + "; ".join(e["misses"])))
    print(f"  every target also needs p99 < {P99_TARGET_MS:g} ms and no errors; ratio = MotID ÷ reference in req/s "
          "(the target); cpu-r = the same ratio of the rates the CPU per request allows (for information)")
    print("  CPU per request (server + PostgreSQL / wrk, ms) and the rate it allows on an idle machine; "
          "other processes' cores; loadavg:")
    for w in WORKLOADS:
        if w.name not in motid:
            continue
        r = motid[w.name]
        line = (f"  {w.name:<19} MotID {cpu_text(r):<24} / {r['wrk_ms']:.2f} -> {cpu_rate(r, cores):>6,.0f}/s")
        for label, runs in (("node", node), ("node-pg", node_pg)):
            if runs.get(w.name):
                n = runs[w.name]
                line += f" | {label} {cpu_text(n)} / {n['wrk_ms']:.2f} -> {cpu_rate(n, cores, 1):>6,.0f}/s"
        print(line + f" | other {r['other_cores']:.2f} cores, load {r['load_before']} -> {r['load_after']}")
    for name, runs in (("MotID", motid), ("oidc-provider (PostgreSQL)", node_pg)):
        details = run_details(runs)
        if details:
            print(f"  {name}: {'; '.join(details)}")
    print(f"  hardware            {result['hardware']}")


def run_details(runs: dict) -> list[str]:
    code, refresh = runs.get("code", {}), runs.get("refresh", {})
    details = []
    if code:
        details.append(f"code exchange used {code['extra'].get('used', 0):,} of {code['extra'].get('minted', 0):,} "
                       f"codes minted in {code['extra'].get('mint_seconds', 0):.0f} s"
                       + (f" (run {code['extra']['attempt']}: the first ran out)" if code['extra'].get('attempt', 1) > 1
                          else ""))
    if refresh:
        details.append(f"refresh ran {refresh['extra'].get('chains', 0)} chains, "
                       f"{refresh['extra'].get('rotations', 0):,} rotations")
    return details


def render_section(result: dict) -> str:
    motid, node, node_pg = result["motid"], result.get("node") or {}, result.get("node_pg") or {}
    ceilings, cores = result.get("ceilings") or {}, result["cores"]
    pg = result["database"] == "postgresql"
    evaluation = evaluate(result)
    lines = [SECTION_START.format(db=result["database"]), f"### {TITLES[result['database']]}", ""]
    lines += [f"Every target also needs p99 < {P99_TARGET_MS:g} ms and no errors. Ratio: MotID ÷ the reference, "
              "both in req/s, both from this run (the target); CPU ratio: the same for the rates their CPU per "
              "request allows on an idle machine (less sensitive to other processes; for information).", "",
              "| Workload | MotID req/s | MotID CPU/request" + (" (server + PostgreSQL)" if pg else "")
              + " | MotID p50 / p99 | MotID errors | oidc-provider in memory req/s | oidc-provider on PostgreSQL req/s "
              "| Target | Reference req/s | Ratio | CPU ratio | Met |",
              "| --- | ---: | ---: | --- | --- | ---: | ---: | --- | ---: | ---: | ---: | --- |"]
    for w in WORKLOADS:
        if w.name not in motid:
            continue
        r, e = motid[w.name], evaluation[w.name]
        lines.append(
            f"| {w.title} | **{r['rps']:,.0f}**{' (' + r['note'] + ')' if r.get('note') else ''} | {cpu_text(r)} "
            f"| {r['p50']:.1f} / {r['p99']:.1f} ms | {fmt_errors(r)} | {_rps(node.get(w.name))} "
            f"| {_rps(node_pg.get(w.name))} | {e['target']} | {_n(e['ref_rps'])} | **{_n(e['ratio'], '.2f')}** "
            f"| {_n(e['cpu_ratio'], '.2f')} | {'yes' if e['met'] else '**no**: ' + '; '.join(e['misses'])} |")
    if ceilings:
        servers = [k for k in CEILING_SERVERS if any(k in by for by in ceilings.values())]
        lines += ["", "The bare-Flask ceilings (`bench/ceiling_apps.py`: not MotID, the most a Flask endpoint does on "
                  "this stack), same load: req/s; p50 / p99; server CPU per request. The fastest server of each row "
                  "is the reference of the targets above.", "",
                  "| Ceiling | " + " | ".join(describe_server(k, result["threads"]) for k in servers) + " |",
                  "| --- |" + " ---: |" * len(servers)]
        for app, title, _, _ in CEILING_APPS:
            if app not in ceilings:
                continue
            cells = []
            for kind in servers:
                c = ceilings[app].get(kind)
                cells.append(f"**{c['rps']:,.0f}**{f' ({errors_total(c)} err)' if errors_total(c) else ''}; "
                             f"{c['p50']:.1f} / {c['p99']:.1f} ms; {c['server_ms']:.3f} ms" if c else "–")
            lines.append(f"| {title} | " + " | ".join(cells) + " |")
    lines += ["", "CPU per request during the same runs (server" + (" + PostgreSQL backends" if pg else "")
              + " / wrk), the rate it allows on this machine with nothing else running "
              f"({cores} cores ÷ all of it; one Node process is also capped at 1 core ÷ node), the cores other "
              "processes used and `/proc/loadavg` (1, 5, 15 min) before → after:", "",
              "| Workload | MotID | ≈ rate | oidc-provider, memory | ≈ rate | oidc-provider, PostgreSQL (node + PostgreSQL) "
              "| ≈ rate | other processes (cores): MotID / memory / PostgreSQL | loadavg, MotID run |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for w in WORKLOADS:
        if w.name not in motid:
            continue
        r = motid[w.name]
        row = f"| {w.name} | {cpu_text(r)} / {r['wrk_ms']:.2f} ms | {cpu_rate(r, cores):,.0f}/s |"
        others = [f"{r['other_cores']:.2f}"]
        for runs in (node, node_pg):
            n = runs.get(w.name)
            if n:
                row += f" {cpu_text(n)} / {n['wrk_ms']:.2f} ms | {cpu_rate(n, cores, 1):,.0f}/s |"
                others.append(f"{n['other_cores']:.2f}")
            else:
                row += " – | – |"
                others.append("–")
        lines.append(row + f" {' / '.join(others)} | {r['load_before']} → {r['load_after']} |")
    lines += [
        "",
        f"- Command: `{result['command']}`",
        f"- Date: {result['date']}",
        f"- Hardware: {result['hardware']}",
        f"- MotID: `idp serve --workers 2` with its defaults ({result['threads']} threads per worker, access log "
        f"{'on' if result['access_log'] else 'off'}); Python {platform.python_version()}, {result['db_version']}",
    ]
    if ceilings:
        lines.append(f"- Ceilings: Flask {result['versions'].get('flask', '?')}, joserfc "
                     f"{result['versions'].get('joserfc', '?')}, {result['versions'].get('gunicorn', '?')}"
                     + (f", {result['versions']['granian']}" if "granian" in result["versions"] else ""))
    if node or node_pg:
        lines.append(f"- oidc-provider {result['node_version']} on Node.js {result['node_runtime']}, one process; "
                     "opaque access tokens (its default; MotID's are ES256 JWTs stored nowhere), ID tokens ES256 like "
                     "MotID's; in memory (an unbounded in-process store) and on PostgreSQL (`bench/node/pg_adapter.mjs`, "
                     f"pg {result['node_versions'].get('pg', '?')}, pool of {result['node_pool']}, its own database)")
    details = [f"MotID: {'; '.join(run_details(motid))}"] if run_details(motid) else []
    if run_details(node_pg):
        details.append(f"oidc-provider on PostgreSQL: {'; '.join(run_details(node_pg))}")
    lines.append(f"- Load: wrk {result['wrk_version']}, -t{result['wrk_threads']} -c{result['connections']}, "
                 f"{result['warmup']:g} s warm-up (repeatable requests only) then {result['seconds']:g} s per workload"
                 + (f"; {'; '.join(details)}" if details else ""))
    lines.append(SECTION_END.format(db=result["database"]))
    return "\n".join(lines) + "\n"


def write_markdown(path: str, result: dict) -> None:
    write_section(path, render_section(result), result["database"], order=list(TITLES), start_mark=SECTION_START,
                  end_mark=SECTION_END, heading=OIDC_HEADING, heading_intro=OIDC_INTRO, file_intro=INTRO)


# --------------------------------------------------------------------------- main
class NamedPgDatabase(PgDatabase):
    """A fresh database of this run under another name (oidc-provider's: ``motid_bench_<pid>_node``)."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=10, help="measured duration per workload (default 10)")
    parser.add_argument("--warmup", type=float, default=2,
                        help="unmeasured load before each repeatable workload (default 2)")
    parser.add_argument("--connections", type=int, default=8,
                        help="wrk keep-alive connections (default 8: 2 workers x 4 threads)")
    parser.add_argument("--wrk-threads", type=int, default=1,
                        help="wrk threads (default 1: one core is plenty for wrk; the server needs the rest)")
    parser.add_argument("--only", help="comma-separated workloads: " + ",".join(w.name for w in WORKLOADS))
    parser.add_argument("--max-codes", type=int, default=60000, help="most codes minted for one run (default 60000)")
    parser.add_argument("--mint-timeout", type=float, default=180, help="longest code minting (default 180 s)")
    parser.add_argument("--quiet-wait", type=float, default=30,
                        help="wait up to this many seconds for an idle machine before measuring (default 30)")
    parser.add_argument("--ceiling-servers", default=",".join(CEILING_SERVERS),
                        help="servers for the bare-Flask ceilings, comma-separated (default: all of "
                             f"{','.join(CEILING_SERVERS)}); 'none' skips the ceilings")
    parser.add_argument("--node", default=",".join(NODE_STORAGES),
                        help="oidc-provider runs, comma-separated storages (default memory,postgresql: both; the "
                             "PostgreSQL one needs the server on 127.0.0.1:5432 whatever --database says); "
                             "'none' skips them")
    parser.add_argument("--skip-node", action="store_true", help="the same as --node none")
    parser.add_argument("--node-pool", type=int, default=10,
                        help="pg pool size of oidc-provider on PostgreSQL (default 10, node-postgres' default)")
    parser.add_argument("--smoke", action="store_true",
                        help="prove the harness works, in about a minute (for CI): every row, 1 s each, no "
                             "warm-up, no waiting for an idle machine, at most 400 codes; exits non-zero only when a run "
                             "fails or answers with errors, never because of a figure; not with --write")
    parser.add_argument("--write", metavar="MARKDOWN", help="rewrite this database's section of this file")
    parser.add_argument("--profile", metavar="DIR",
                        help="run py-spy on the server workers during each MotID workload, keep the collapsed "
                             "stacks in DIR and print where the time went (py-spy's own CPU then competes with "
                             "the server: do not --write figures from a profiled run)")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "/tmp/pyspy/bin/py-spy",
                        help="py-spy executable for --profile (default: on PATH, else /tmp/pyspy/bin/py-spy, where "
                             "`.venv/bin/pip install --target /tmp/pyspy py-spy` puts it)")
    args = parser.parse_args(argv)
    if args.smoke:
        if args.write:
            parser.error("--smoke figures mean nothing: not with --write")
        args.seconds, args.warmup, args.quiet_wait = 1, 0, 0
        args.max_codes, args.mint_timeout = min(args.max_codes, 400), min(args.mint_timeout, 60)
    if args.profile and args.write:
        parser.error("--profile and --write do not go together: profiling slows the server down")
    if args.profile and not os.path.exists(args.py_spy):
        parser.error(f"--profile needs py-spy: {args.py_spy} not found (e.g. .venv/bin/pip install --target "
                     "/tmp/pyspy py-spy)")
    if args.profile:
        args.profile = os.path.abspath(args.profile)
    if args.seconds < 1 or args.warmup < 0 or args.connections < 1 or args.wrk_threads < 1 or args.node_pool < 1:
        parser.error("--seconds must be at least 1, --connections, --wrk-threads and --node-pool positive, "
                     "--warmup not negative")
    if args.connections % args.wrk_threads:
        parser.error("--connections must be a multiple of --wrk-threads (wrk splits them evenly)")
    args.ceiling_servers = _choices(parser, "--ceiling-servers", args.ceiling_servers, CEILING_SERVERS)
    args.node = [] if args.skip_node else _choices(parser, "--node", args.node, NODE_STORAGES)
    if "granian" in args.ceiling_servers and granian_bin() is None:
        parser.error(f"granian is not installed: {GRANIAN_INSTALL}; or leave it out "
                     "with --ceiling-servers gunicorn-sync,gunicorn-gthread")
    selected = [w.name for w in WORKLOADS]
    if args.only:
        selected = [s.strip() for s in args.only.split(",") if s.strip()]
        unknown = set(selected) - {w.name for w in WORKLOADS}
        if unknown:
            parser.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
        if "code" in selected and "refresh" not in selected:
            print("note: without the refresh run, code minting assumes 2000 exchanges/s", file=sys.stderr)
    if not os.path.exists(IDP):
        parser.error(f"{IDP} not found: run this with the project's virtualenv python")
    try:
        wrk = check_wrk()
    except RuntimeError as exc:
        print(f"oidc_bench: {exc}", file=sys.stderr)
        return 1

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    command = shlex.join([".venv/bin/python", "bench/oidc_bench.py", *(argv if argv is not None else sys.argv[1:])])
    tmp = tempfile.mkdtemp(prefix="motid-oidc-bench-")
    try:
        os.makedirs(os.path.join(tmp, "instance"))
        os.makedirs(os.path.join(tmp, "keys"), mode=0o700)
        port = free_port()
        pg = None
        if args.database == "postgresql":
            from cryptography.fernet import Fernet
            pg = PgDatabase()
        with (pg or _Null()) as database:
            if pg:
                env = base_env(tmp, database.url, Fernet.generate_key().decode(), port)
                db_version = f"PostgreSQL {database.version} (127.0.0.1:5432, TCP)"
            else:
                env = base_env(tmp, "", "", port)
                db_version = f"SQLite {sqlite3.sqlite_version}"
            env["IDP_CODE_SECONDS"] = "3600"  # codes are minted before the run that uses them
            result = run(args, wrk, env, tmp, port, pg, selected)
        defaults = serve_defaults()
        result.update(database=args.database, command=command, db_version=db_version, hardware=hardware(),
                      date=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                      cores=len(os.sched_getaffinity(0)), seconds=args.seconds, warmup=args.warmup,
                      connections=args.connections, wrk_threads=args.wrk_threads, smoke=args.smoke,
                      wrk_version=wrk_version(wrk), threads=defaults.get("threads", 4),
                      access_log=bool(defaults.get("access_log")), node_pool=args.node_pool)
        print_result(result)
        if args.write:
            write_markdown(os.path.join(ROOT, args.write) if not os.path.isabs(args.write) else args.write, result)
            print(f"wrote the {args.database} section of {args.write}")
        if args.smoke:
            return smoke_verdict(result)
        return 0
    except (KeyboardInterrupt, Stop) as exc:
        print(f"\ninterrupted ({exc or 'SIGINT'}); cleaning up", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"oidc_bench: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _choices(parser, option: str, value: str, allowed: list[str]) -> list[str]:
    chosen = [v.strip() for v in value.split(",") if v.strip() and v.strip() != "none"]
    unknown = set(chosen) - set(allowed)
    if unknown:
        parser.error(f"{option}: unknown {', '.join(sorted(unknown))} (choose from {', '.join(allowed)}, or none)")
    return [v for v in allowed if v in chosen]


def smoke_verdict(result: dict) -> int:
    """--smoke: every run must have answered, and answered well (no figure is checked)."""
    runs = [(f"MotID {k}", r) for k, r in result["motid"].items()]
    runs += [(f"{label} {k}", r) for key, label in (("node", "oidc-provider (memory)"),
                                                    ("node_pg", "oidc-provider (PostgreSQL)"))
             for k, r in (result.get(key) or {}).items()]
    runs += [(f"ceiling {app} / {kind}", r) for app, by in (result.get("ceilings") or {}).items()
             for kind, r in by.items()]
    bad = [f"{name}: {r['requests']} requests, {fmt_errors(r)}" for name, r in runs
           if r["requests"] == 0 or r["non2xx"] or r["unexpected"]]
    if bad:
        print("smoke: FAILED\n  " + "\n  ".join(bad), file=sys.stderr)
        return 1
    print(f"smoke: every run answered ({len(runs)} runs); figures not checked")
    return 0


def wrk_version(wrk: str) -> str:
    try:
        done = subprocess.run([wrk, "--version"], capture_output=True, text=True, timeout=10)
        return (done.stdout + done.stderr).split()[1]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def package_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version
    out = {}
    for name in ("flask", "joserfc"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "?"
    out["gunicorn"] = tool_version([os.path.join(VENV_BIN, "gunicorn"), "--version"])
    if granian_bin():
        out["granian"] = tool_version([granian_bin(), "--version"])
    return out


def run(args, wrk: str, env: dict, tmp: str, port: int, pg, selected: list[str]) -> dict:
    print(f"[{args.database}] idp db upgrade; account and client", flush=True)
    run_idp(["db", "upgrade"], env, tmp)
    citizen_id, password, email, full_name = ACCOUNT
    sub = run_idp(["accounts", "create", "--kind", "citizen", "--citizen-id", citizen_id, "--name", full_name,
                   "--email", email, "--password-stdin"], env, tmp, stdin=password + "\n").strip().splitlines()[-1]
    meta = os.path.join(tmp, "client.json")
    with open(meta, "w") as fh:
        json.dump({"introspection_allowed": True}, fh)  # an administrator's setting: this client may introspect
    out = run_idp(["clients", "create", "--name", "OIDC bench", "--redirect-uri", REDIRECT_URI,
                   "--auth-method", "client_secret_basic", "--grant-type", "authorization_code",
                   "--grant-type", "refresh_token", "--grant-type", "client_credentials", "--scope", SCOPE,
                   "--first-party", "--json", meta], env, tmp)
    fields = dict(line.split(": ", 1) for line in out.splitlines() if line.startswith(("client_id: ", "client_secret: ")))
    client_id, secret = fields["client_id"].strip(), fields["client_secret"].split()[0]

    if args.quiet_wait > 0:
        wait_until_quiet(args.quiet_wait)
    result: dict = {"versions": package_versions()}
    apps = {w.ref for w in WORKLOADS if w.name in selected}  # the ceilings the selected workloads refer to
    if args.ceiling_servers and apps & {app for app, *_ in CEILING_APPS}:
        result["ceilings"] = run_ceilings(args, wrk, tmp, serve_defaults().get("threads", 4), apps)
    with Server("idp-serve", env, tmp, port, 2, os.path.join(tmp, "server.log")) as server:
        server.wait_healthy()
        motid = MotID(port, client_id, secret, server, pg)
        motid.login()
        response, data = http_request(port, "GET", "/userinfo", {"Authorization": f"Bearer {motid.access_token()}"})
        if response.status != 200:
            raise RuntimeError(f"MotID: GET /userinfo -> {response.status}: {data[:300]!r}")
        claims = json.loads(data)  # the node provider states exactly the same claims
        print(f"[{args.database}] MotID up on {HOST}:{port} (2 workers); client {client_id}", flush=True)
        try:
            result["motid"] = run_workloads(args, wrk, motid, tmp, selected)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\nserver log:\n{server.tail()}") from None
    claims.pop("sub", None)
    for storage in args.node:
        node_db = NamedPgDatabase(f"motid_bench_{os.getpid()}_node") if storage == "postgresql" else None
        with (node_db or _Null()):
            with NodeProvider(free_port(), client_id, secret, tmp, claims, sub, storage, node_db,
                              args.node_pool) as node:
                result["node_version"], result["node_versions"] = node.version, node.versions
                result["node_runtime"] = subprocess.run([shutil.which("node"), "--version"], capture_output=True,
                                                        text=True, timeout=10).stdout.strip()
                print(f"[{args.database}] {node.name} {node.version} up on {HOST}:{node.port}", flush=True)
                try:
                    result["node" if storage == "memory" else "node_pg"] = run_workloads(args, wrk, node, tmp,
                                                                                          selected)
                except RuntimeError as exc:
                    raise RuntimeError(f"{exc}\nprovider log:\n{node.tail()}") from None
    return result


if __name__ == "__main__":
    sys.exit(main())
