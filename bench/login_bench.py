#!/usr/bin/env python3
"""Password-login throughput of a real MotID server, compared with raw argon2id.

Run from the repository root with the project's virtualenv::

    .venv/bin/python bench/login_bench.py [--database sqlite|postgresql] [--workers 2]
        [--seconds 20] [--concurrency N] [--write docs/benchmarks.md] [--smoke]

What it does, start to finish:

1. makes a temporary instance/keys folder (and, for PostgreSQL, a fresh database on
   127.0.0.1:5432 as user ``postgres`` with a fresh Fernet ``IDP_MASTER_KEY``);
2. runs ``idp db upgrade`` and creates a few citizen accounts with known passwords, with the
   login rate limits and the lockout raised out of the way and the default argon2id
   parameters (m=19 MiB, t=2, p=1);
3. waits (bounded) for an idle machine, then measures raw argon2id verifications per second with
   as many processes as server workers (``PasswordHasher.verify`` in a loop, same parameters);
4. starts ``idp serve --workers W`` (granian; ``--server gunicorn`` runs gunicorn on
   ``idp:create_app()`` with the same settings instead) on a free loopback port, waits for
   /healthz, checks that no visitor's state leaks into another's request, then drives logins
   for ``--seconds`` (after ``--warmup``) from ``--concurrency`` client threads: each login is
   GET /login (CSRF token and ``motid_ui`` cookie) then POST /login; it counts as a success
   only on a 302 that sets ``motid_sso``;
5. stops the server and measures raw argon2id again (the machine's speed drifts; the ceiling
   is the mean of both runs);
6. prints logins/s, POST latency (p50/p99), errors, the raw argon2id rate and the ratio, where
   the CPU went (server, load generator, PostgreSQL, other processes) and, with ``--write``,
   rewrites this database's section of the given Markdown file.

``--smoke`` proves that the harness works, for CI, in a few seconds of load: 2 s of logins, no
warm-up, 1 s raw argon2id runs, no waiting for an idle machine; it fails only when the harness breaks
or a login fails, never on a figure. One invocation measures one server: CI runs it once with the
default server and once with ``--server minimal``, the floor.

Everything it starts (server, temporary folder, PostgreSQL database) is removed on exit,
Ctrl-C or error. All traffic goes to 127.0.0.1; every loop is bounded in time.
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.client
import multiprocessing
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import urlencode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))
IDP = os.path.join(VENV_BIN, "idp")
HOST = "127.0.0.1"  # every request of this script goes here, and only here
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

ACCOUNTS = [  # 12-digit IDs with a real province prefix (096); passwords pass the policy
    (f"0962010000{n:02d}", f"Bench-login-{n:02d}-kestrel-harbour", f"bench{n:02d}@example.org")
    for n in range(1, 5)
]
CSRF_RE = re.compile(rb'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
SECTION_START = "<!-- login-bench:{db}:start -->"
SECTION_END = "<!-- login-bench:{db}:end -->"
TITLES = {"sqlite": "SQLite (embedded, WAL)", "postgresql": "PostgreSQL",
          "sqlite-minimal": "The floor: a minimal Flask login on SQLite (bench/minimal_login_app.py)",
          "postgresql-minimal": "The floor: a minimal Flask login on PostgreSQL (bench/minimal_login_app.py)"}
INTRO = """# Benchmarks

Figures on this page come from scripts in `bench/` (see `bench/README.md`), run against a real
MotID server: `idp serve` (granian) started on a free port of 127.0.0.1, driven over loopback
by a small load generator on the same machine, so client and server share its cores. Each
section names the exact command, the date and the hardware; rerun the command with
`--write docs/benchmarks.md` to refresh a section.
"""
LOGIN_HEADING = "## Password login"
LOGIN_INTRO = """
One login is what a browser does: GET /login (CSRF token and `motid_ui` cookie), then
POST /login with the identifier and password; it counts only when the answer is a 302 that sets
`motid_sso`. Login rate limits and the lockout are raised out of the way; argon2id keeps its
default parameters (m=19 MiB, t=2, p=1), so each login costs one verification. The raw rate is
`argon2.PasswordHasher.verify` in a loop at the same parameters, in as many processes as server
workers, on the same machine with nothing else running: it is the ceiling a login can approach.
The floor sections measure `bench/minimal_login_app.py` the same way: not MotID, but the least a
password login can be on the same stack, to show what the 85 % target leaves for everything else.
"""


class Stop(Exception):
    """SIGTERM/SIGHUP: unwind through every ``finally`` like Ctrl-C does."""


def _on_signal(signum, frame):
    raise Stop(signal.Signals(signum).name)


# --------------------------------------------------------------------------- environment
def base_env(tmp: str, database_url: str, master_key: str, port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}  # defaults, not the shell's
    env.update({
        "IDP_INSTANCE_PATH": os.path.join(tmp, "instance"),
        "IDP_KEYS_PATH": os.path.join(tmp, "keys"),
        "IDP_ISSUER": f"http://{HOST}:{port}",
        "IDP_LOGIN_LIMIT_PER_IP": "1000000/minute",
        "IDP_LOGIN_LIMIT_PER_ACCOUNT": "1000000/minute",
        "IDP_LOCKOUT_THRESHOLD": "1000000",
    })
    if database_url:
        env["IDP_DATABASE_URL"] = database_url
    if master_key:
        env["IDP_MASTER_KEY"] = master_key
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def run_idp(args: list[str], env: dict, cwd: str, stdin: str | None = None) -> str:
    done = subprocess.run([IDP, *args], env=env, cwd=cwd, input=stdin, capture_output=True, text=True,
                          timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"idp {' '.join(args[:2])} failed ({done.returncode}): "
                           f"{(done.stderr or done.stdout).strip()[-2000:]}")
    return done.stdout


class PgDatabase:
    """A fresh PostgreSQL database, created and dropped by this run."""

    def __init__(self):
        import psycopg  # the project's own driver
        self.psycopg = psycopg
        self.name = f"motid_bench_{os.getpid()}"
        self.version = ""

    def __enter__(self):
        try:
            with self.psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
                self.version = conn.execute("SHOW server_version").fetchone()[0]
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}"')
                conn.execute(f'CREATE DATABASE "{self.name}"')
        except self.psycopg.OperationalError as exc:
            raise RuntimeError(f"PostgreSQL on 127.0.0.1:5432 is not reachable as postgres ({exc}); start it, "
                               "e.g. pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
                               ) from None
        except BaseException:
            self.__exit__()  # e.g. Ctrl-C right after CREATE DATABASE: drop it anyway
            raise
        return self

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.name}"

    def __exit__(self, *exc):
        try:
            with self.psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        except Exception as err:  # report, never mask the original error
            print(f"warning: could not drop database {self.name}: {err}", file=sys.stderr)


SERVERS = {
    "idp-serve": "`idp serve` (granian WSGI workers, 4 blocking threads each)",
    "gunicorn": "gunicorn `idp:create_app()` (sync workers, app built in each worker)",
    "minimal": "granian `bench/minimal_login_app.py` (as `idp serve`: WSGI, 4 blocking threads each): not MotID, the floor",
}


class Server:
    """The server in its own process group, stopped (TERM, then KILL) on exit.

    ``idp-serve`` is the project's own command (granian WSGI workers, 4 blocking threads each).
    ``gunicorn`` runs plain gunicorn on the application factory with sync workers (1 thread, access
    log on stdout, 10 s graceful timeout), a point of comparison in which no CLI application
    context can be inherited by the workers. ``minimal`` runs bench/minimal_login_app.py (the least a
    password login can be on this stack) with idp serve's worker settings.
    """

    def __init__(self, kind: str, env: dict, cwd: str, port: int, workers: int, log_path: str):
        if kind == "idp-serve":
            self.cmd = [IDP, "serve", "--host", HOST, "--port", str(port), "--workers", str(workers)]
        elif kind == "minimal":  # the server and worker settings `idp serve` uses (granian, 4 threads each)
            self.cmd = [os.path.join(VENV_BIN, "granian"), "--interface", "wsgi", "--host", HOST, "--port", str(port),
                        "--workers", str(workers), "--blocking-threads", "4", "--backpressure", "32",
                        "--working-dir", os.path.join(ROOT, "bench"), "--factory", "--no-ws",
                        "minimal_login_app:create_app"]
        else:
            self.cmd = [os.path.join(VENV_BIN, "gunicorn"), "--bind", f"{HOST}:{port}", "--workers", str(workers),
                        "--threads", "1", "--access-logfile", "-", "--graceful-timeout", "10", "idp:create_app()"]
        self.env, self.cwd, self.port, self.log_path = env, cwd, port, log_path
        self.proc: subprocess.Popen | None = None

    def __enter__(self):
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=self.cwd, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; log:\n{self.tail()}")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not healthy after {timeout:.0f}s; log:\n{self.tail()}")

    def worker_pids(self) -> list[int]:
        pids = []
        try:
            for task in os.listdir(f"/proc/{self.proc.pid}/task"):
                with open(f"/proc/{self.proc.pid}/task/{task}/children") as fh:
                    pids += [int(p) for p in fh.read().split()]
        except OSError:
            pass
        return pids

    def cpu_seconds(self) -> float:
        """user+system CPU of the server's main process and its live workers."""
        total = 0.0
        for pid in [self.proc.pid, *self.worker_pids()]:
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            except (OSError, IndexError, ValueError):
                pass
        return total

    def tail(self, n: int = 4000) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                return fh.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.proc.pid, sig)  # the group this script created for the server
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self.log.close()


def machine_busy_seconds() -> float:
    """CPU seconds that processes ran (user + nice + system) on the whole machine since boot, all cores."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:4]]
    return sum(values) / os.sysconf("SC_CLK_TCK")


def wait_until_quiet(max_wait: float, threshold: float = 0.25) -> float:
    """Wait (at most ``max_wait`` s) until the machine is idle; returns the last busy-core reading."""
    deadline = time.monotonic() + max_wait
    said = False
    while True:
        before = machine_busy_seconds()
        time.sleep(1.0)
        busy = machine_busy_seconds() - before
        if busy < threshold or time.monotonic() >= deadline:
            if busy >= threshold:
                print(f"warning: the machine is still busy ({busy:.2f} cores used by other processes); "
                      "figures will be low", file=sys.stderr)
            return busy
        if not said:
            print(f"waiting up to {max_wait:.0f} s for the machine to be idle ({busy:.2f} cores busy)", flush=True)
            said = True


def postgres_backend_cpu(dbname: str) -> float | None:
    """CPU seconds of PostgreSQL backends connected to ``dbname`` (read from /proc; None if unreadable)."""
    try:
        import psycopg
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            pids = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s",
                                               (dbname,)).fetchall()]
        total = 0.0
        for pid in pids:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total
    except Exception:
        return None


# --------------------------------------------------------------------------- raw argon2id
def _argon2_worker(args):
    env, seconds = args
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and terminates the pool
    from idp.accounts.passwords import make_hasher
    from idp.config import from_environ
    hasher = make_hasher(from_environ(env))
    stored = hasher.hash(ACCOUNTS[0][1])
    hasher.verify(stored, ACCOUNTS[0][1])  # warm up the memory allocator
    count = 0
    cpu = time.process_time()
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        hasher.verify(stored, ACCOUNTS[0][1])
        count += 1
    return count, time.perf_counter() - start, time.process_time() - cpu


def raw_argon2_rate(env: dict, processes: int, seconds: float) -> tuple[float, float, float, dict]:
    """(verifies/s over all processes, CPU ms per verify, CPU seconds used, parameters)"""
    from idp.accounts.passwords import make_hasher
    from idp.config import from_environ
    hasher = make_hasher(from_environ(env))
    params = {"memory_kib": hasher.memory_cost, "time_cost": hasher.time_cost,
              "parallelism": hasher.parallelism, "type": hasher.type.name}
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes) as pool:
        results = pool.map_async(_argon2_worker, [(env, seconds)] * processes).get(timeout=seconds + 60)
    rate = sum(count / elapsed for count, elapsed, _ in results)
    cpu = sum(c for _, _, c in results)
    return rate, cpu / sum(count for count, _, _ in results) * 1000, cpu, params


# --------------------------------------------------------------------------- load generator
class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok = 0
        self.errors: dict[str, int] = {}
        self.post_ms: list[float] = []
        self.login_ms: list[float] = []

    def error(self, kind: str) -> None:
        with self.lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1


def _cookie(response, name: str) -> str | None:
    for header in response.headers.get_all("Set-Cookie") or []:
        pair = header.split(";", 1)[0]
        key, _, value = pair.partition("=")
        if key.strip() == name:
            return value.strip()
    return None


class Client(threading.Thread):
    """One simulated visitor after another, over a keep-alive connection (reopened when closed)."""

    def __init__(self, index: int, port: int, window: tuple[float, float], stop: threading.Event, stats: Stats):
        super().__init__(name=f"client-{index}", daemon=True)
        self.index, self.port, self.stats, self.stop = index, port, stats, stop
        self.measure_from, self.deadline = window
        self.conn = None

    def _request(self, method: str, path: str, body: bytes | None, headers: dict, retry: bool):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                if response.will_close:
                    self.conn.close()
                    self.conn = None
                return response, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # a kept-alive connection the server had already closed: reopen once (as browsers do)
                self.conn.close()
                self.conn = None
                if not retry or attempt:
                    raise
        raise AssertionError("unreachable")

    def run(self):
        n = self.index
        headers = {"Host": f"{HOST}:{self.port}", "User-Agent": "motid-login-bench/1"}
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            citizen_id, password, _ = ACCOUNTS[n % len(ACCOUNTS)]
            n += 1
            started = time.monotonic()
            try:
                response, page = self._request("GET", "/login", None, headers, retry=True)
                token = CSRF_RE.search(page)
                ui = _cookie(response, "motid_ui")
                if response.status != 200 or not token or not ui:
                    self.stats.error(f"GET /login {response.status}" + ("" if token else " without CSRF token")
                                     + ("" if ui else " without motid_ui cookie"))
                    time.sleep(0.05)  # do not spin on a broken server
                    continue
                form = urlencode({"csrf_token": token.group(1).decode(), "identifier": citizen_id,
                                  "password": password}).encode()
                post_headers = dict(headers, **{"Content-Type": "application/x-www-form-urlencoded",
                                                "Cookie": f"motid_ui={ui}"})
                post_started = time.monotonic()
                response, _ = self._request("POST", "/login", form, post_headers, retry=False)
                finished = time.monotonic()
            except (OSError, http.client.HTTPException) as exc:
                self.stats.error(type(exc).__name__)
                if self.conn is not None:
                    self.conn.close()
                    self.conn = None
                continue
            if response.status != 302 or not _cookie(response, "motid_sso"):
                self.stats.error(f"POST /login {response.status}")
                continue
            if self.measure_from <= finished <= self.deadline:
                with self.stats.lock:
                    self.stats.ok += 1
                    self.stats.post_ms.append((finished - post_started) * 1000)
                    self.stats.login_ms.append((finished - started) * 1000)
        if self.conn is not None:
            self.conn.close()


def _get(port: int, path: str, headers: dict | None = None, body: bytes | None = None):
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request("POST" if body is not None else "GET", path, body=body,
                     headers={"User-Agent": "motid-login-bench/1", **(headers or {})})
        response = conn.getresponse()
        return response, response.read()
    finally:
        conn.close()


def preflight(port: int, workers: int) -> None:
    """Refuse to measure a server that carries one request's state into the next.

    Each fresh visitor must get its own ``motid_ui`` cookie, and after someone logs in a visitor
    without cookies must be sent to /login, not handed that person's page or ``motid_sso``.
    2 x workers + 2 tries make every worker answer at least twice in practice.
    """
    tries = 2 * workers + 2
    for _ in range(tries):
        response, page = _get(port, "/login")
        if response.status != 200 or not CSRF_RE.search(page) or not _cookie(response, "motid_ui"):
            raise RuntimeError(
                "preflight: a fresh visitor's GET /login came back without its own motid_ui cookie "
                f"(status {response.status}); the server reuses per-request state (flask.g / the "
                "CSRF token) across requests, e.g. an application context left pushed in the workers")
    citizen_id, password, _ = ACCOUNTS[0]
    response, page = _get(port, "/login")
    form = urlencode({"csrf_token": CSRF_RE.search(page).group(1).decode(), "identifier": citizen_id,
                      "password": password}).encode()
    response, _ = _get(port, "/login", {"Content-Type": "application/x-www-form-urlencoded",
                                        "Cookie": f"motid_ui={_cookie(response, 'motid_ui')}"}, form)
    if response.status != 302 or not _cookie(response, "motid_sso"):
        raise RuntimeError(f"preflight: a correct login answered {response.status} without motid_sso")
    for _ in range(tries):
        response, _ = _get(port, "/account")
        if response.status != 302 or _cookie(response, "motid_sso"):
            raise RuntimeError(
                "preflight: a visitor WITHOUT cookies got GET /account -> "
                f"{response.status}{' and a motid_sso cookie' if _cookie(response, 'motid_sso') else ''} "
                "after another visitor logged in: the server leaks one user's SSO session to the next "
                "request (per-request state shared across requests)")


def request_floor(server: Server, port: int, n: int = 300) -> float:
    """Server CPU (ms) of the cheapest request it answers: GET /healthz, one at a time, a new
    connection each, as a login's two requests would cost with no work of their own."""
    for _ in range(20):
        _get(port, "/healthz")
    cpu0 = server.cpu_seconds()
    for _ in range(n):
        response, _ = _get(port, "/healthz")
        if response.status != 200:
            raise RuntimeError(f"GET /healthz answered {response.status}")
    return (server.cpu_seconds() - cpu0) / n * 1000


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


# --------------------------------------------------------------------------- report
def hardware() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    mem = f", {int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, nproc={cores}{mem}, {platform.system()} {platform.release()}"


def render_section(r: dict) -> str:
    def ms(v):
        return f"{v:.1f} ms"
    rows = [
        ("Successful logins/s", f"**{r['rate']:.1f}**"),
        ("Raw argon2id verifies/s (same parameters, "
         f"{r['workers']} process{'es' if r['workers'] != 1 else ''}; mean of before / after)",
         f"{r['raw']:.1f} ({r['raw_before']:.1f} / {r['raw_after']:.1f})"),
        ("Ratio logins/s ÷ raw argon2id (issue 12 compares with the floor instead)", f"**{r['ratio'] * 100:.1f} %**"),
        ("CPU share: argon2id CPU per verify ÷ all CPU per login (server + load generator"
         + (" + PostgreSQL)" if r.get("pg_cpu_ms") is not None else ")"), f"{r['cpu_share'] * 100:.1f} %"),
        ("POST /login latency p50 / p99", f"{ms(r['post_p50'])} / {ms(r['post_p99'])}"),
        ("Whole login (GET + POST) p50 / p99", f"{ms(r['login_p50'])} / {ms(r['login_p99'])}"),
        ("Successful logins in the window", str(r["ok"])),
        ("Errors", str(r["errors_total"]) + (f" ({r['errors_text']})" if r["errors_total"] else "")),
        ("Server CPU per login (main process + workers)", ms(r["server_cpu_ms"])),
        ("argon2id CPU per verify (raw run)", ms(r["argon2_ms"])),
    ]
    if r.get("pg_cpu_ms") is not None:
        rows.append(("PostgreSQL backend CPU per login", ms(r["pg_cpu_ms"])))
    rows.append(("Load generator CPU per login", ms(r["client_cpu_ms"])))
    rows.append(("Server CPU per login beyond argon2id (server − argon2id)", ms(r["server_cpu_ms"] - r["argon2_ms"])))
    rows.append(("Allowed beyond argon2id for 85 % (argon2id ÷ 0.85 − argon2id − load generator"
                 + (" − PostgreSQL)" if r.get("pg_cpu_ms") is not None else ")"), ms(r["budget_ms"])))
    rows.append(("Server CPU of the cheapest request (GET /healthz, one at a time); a login makes two",
                 ms(r["floor_ms"])))
    rows.append(("Cores busy during the load (server / whole machine / other processes)",
                 f"{r['server_cores']:.2f} / {r['machine_cores']:.2f} / {max(0.0, r['other_cores']):.2f}"))
    rows.append(("Cores used by other processes during the raw runs", f"{r['raw_other_cores']:.2f}"))
    lines = [SECTION_START.format(db=r["section"]), f"### {TITLES[r['section']]}", "",
             "| Measure | Value |", "| --- | --- |"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    lines += [
        "",
        f"- Command: `{r['command']}`",
        f"- Date: {r['date']}",
        f"- Hardware: {r['hardware']}",
        f"- Server: {SERVERS[r['server']]}; Python {platform.python_version()}, {r['db_version']}",
        f"- Setup: {r['workers']} workers, {r['concurrency']} concurrent clients, {r['warmup']:g} s warm-up "
        f"then {r['seconds']:g} s measured; argon2id m={r['params']['memory_kib']} KiB, "
        f"t={r['params']['time_cost']}, p={r['params']['parallelism']}; {len(ACCOUNTS)} accounts, round robin",
        SECTION_END.format(db=r["section"]),
    ]
    return "\n".join(lines) + "\n"


def write_section(path: str, section: str, key: str, *, order: list[str], start_mark: str, end_mark: str,
                  heading: str, heading_intro: str, file_intro: str = INTRO) -> None:
    """Put ``section`` (which starts with ``start_mark`` and ends with ``end_mark``, formatted with ``key``)
    into the Markdown file under ``heading``: in place of its previous version, else before the section of
    the next key in ``order``, else after that of the previous one, else right after the heading's intro.
    Shared by every benchmark writing to docs/benchmarks.md."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        text = file_intro
    if heading not in text:
        text = text.rstrip("\n") + "\n\n" + heading + "\n" + heading_intro
    start, end = start_mark.format(db=key), end_mark.format(db=key)
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1].lstrip("\n")
        text = before + section + ("\n" + after if after else "")
    else:
        at_heading = text.index(heading)
        later = [start_mark.format(db=d) for d in order[order.index(key) + 1:]]
        earlier = [end_mark.format(db=d) for d in order[:order.index(key)]]
        positions = [text.index(m, at_heading) for m in later if m in text[at_heading:]]
        if positions:
            at = min(positions)
            text = text[:at] + section + "\n" + text[at:]
        elif any(m in text[at_heading:] for m in earlier):
            mark = max(text.index(m, at_heading) + len(m) for m in earlier if m in text[at_heading:])
            text = text[:mark] + "\n\n" + section.rstrip("\n") + text[mark:]
        else:
            # after the intro: before the first subsection, marker or next chapter that follows the heading
            candidates = [text.find(m, at_heading + len(heading)) for m in ("\n### ", "\n<!-- ", "\n## ")]
            candidates = [c for c in candidates if c != -1]
            if candidates:
                at = min(candidates) + 1
                text = text[:at] + section + "\n" + text[at:]
            else:
                text = text.rstrip("\n") + "\n\n" + section
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def write_markdown(path: str, result: dict) -> None:
    write_section(path, render_section(result), result["section"], order=list(TITLES), start_mark=SECTION_START,
                  end_mark=SECTION_END, heading=LOGIN_HEADING, heading_intro=LOGIN_INTRO)


# --------------------------------------------------------------------------- main
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--workers", type=int, default=2, help="server workers (default 2)")
    parser.add_argument("--seconds", type=float, default=20, help="measured load duration (default 20)")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured load before that (default 3)")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="client threads, each one login at a time (default 2 x workers)")
    parser.add_argument("--raw-seconds", type=float, default=8, help="raw argon2id loop duration (default 8)")
    parser.add_argument("--server", choices=list(SERVERS), default="idp-serve",
                        help="idp-serve: `idp serve --workers W` (default); gunicorn: gunicorn on "
                             "'idp:create_app()' with the same settings")
    parser.add_argument("--quiet-wait", type=float, default=60,
                        help="wait up to this many seconds for an idle machine before measuring (default 60)")
    parser.add_argument("--smoke", action="store_true",
                        help="prove the harness works (for CI): 2 s of logins, no warm-up, 1 s raw argon2id runs, "
                             "no waiting for an idle machine; exits non-zero only when the harness breaks or a "
                             "login fails, never because of a figure; not with --write")
    parser.add_argument("--write", metavar="MARKDOWN", help="rewrite this database's section of this file")
    parser.add_argument("--argon2", metavar="M,T,P", help="argon2id memory KiB, time cost, lanes instead of the "
                        "defaults (printed only: --write records the defaults)")
    args = parser.parse_args(argv)
    if args.smoke:
        if args.write:
            parser.error("--smoke figures mean nothing: not with --write")
        # 2 s, not 1: a login is two requests and an argon2id verification, slow on a busy machine
        args.seconds, args.warmup, args.raw_seconds, args.quiet_wait = 2, 0, 1, 0
    if args.workers < 1 or args.seconds <= 0 or args.warmup < 0 or args.raw_seconds <= 0:
        parser.error("--workers, --seconds and --raw-seconds must be positive, --warmup not negative")
    argon2 = None
    if args.argon2:
        try:
            argon2 = dict(zip(("IDP_ARGON2_MEMORY_KIB", "IDP_ARGON2_TIME_COST", "IDP_ARGON2_PARALLELISM"),
                              (str(int(v)) for v in args.argon2.split(",")), strict=True))
        except ValueError:
            parser.error("--argon2 wants three integers: memory KiB, time cost, lanes (e.g. 47104,1,1)")
        if args.write:
            parser.error("--write records the default argon2id parameters only; drop --argon2 or --write")
    concurrency = args.concurrency or 2 * args.workers
    if concurrency < 1:
        parser.error("--concurrency must be positive")
    if not os.path.exists(IDP):
        parser.error(f"{IDP} not found: run this with the project's virtualenv python")

    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C, even if started with SIGINT ignored
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    command = shlex.join([".venv/bin/python", "bench/login_bench.py", *(argv if argv is not None else sys.argv[1:])])
    tmp = tempfile.mkdtemp(prefix="motid-login-bench-")
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
            env.update(argon2 or {})
            result = run(args, concurrency, env, tmp, port, pg)
        section = args.database + ("-minimal" if args.server == "minimal" else "")
        result.update(database=args.database, section=section, command=command, db_version=db_version, hardware=hardware(),
                      date=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
        print_result(result)
        if args.write:
            write_markdown(os.path.join(ROOT, args.write) if not os.path.isabs(args.write) else args.write, result)
            print(f"wrote the {section} section of {args.write}")
        return smoke_verdict(result) if args.smoke else 0
    except (KeyboardInterrupt, Stop) as exc:
        print(f"\ninterrupted ({str(exc) or 'SIGINT'}); cleaning up", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"login_bench: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def smoke_verdict(result: dict) -> int:
    """--smoke: logins went through and none failed (no figure is checked)."""
    if result["errors_total"]:
        print(f"smoke: FAILED: {result['errors_total']} failed logins ({result['errors_text']})", file=sys.stderr)
        return 1
    print(f"smoke: {result['ok']} logins in the window, none failed; figures not checked")
    return 0


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def run(args, concurrency: int, env: dict, tmp: str, port: int, pg) -> dict:
    print(f"[{args.database}] idp db upgrade", flush=True)
    run_idp(["db", "upgrade"], env, tmp)
    for citizen_id, password, email in ACCOUNTS:
        run_idp(["accounts", "create", "--kind", "citizen", "--citizen-id", citizen_id,
                 "--name", f"Bench Citizen {citizen_id[-2:]}", "--email", email, "--password-stdin"],
                env, tmp, stdin=password + "\n")
    print(f"[{args.database}] {len(ACCOUNTS)} accounts created; raw argon2id with {args.workers} "
          f"process(es) for {args.raw_seconds:g} s", flush=True)
    def raw_run():
        busy0 = machine_busy_seconds()
        started = time.monotonic()
        rate, cpu_ms, cpu, params = raw_argon2_rate(env, args.workers, args.raw_seconds)
        # what other processes used meanwhile (pool start-up included, so a little above zero when idle)
        other = (machine_busy_seconds() - busy0 - cpu) / (time.monotonic() - started)
        return rate, cpu_ms, max(0.0, other), params

    if args.quiet_wait > 0:
        wait_until_quiet(args.quiet_wait)
    raw_before, argon2_ms_before, raw_other_before, params = raw_run()

    with Server(args.server, env, tmp, port, args.workers, os.path.join(tmp, "server.log")) as server:
        server.wait_healthy()
        preflight(port, args.workers)
        print(f"[{args.database}] server up on {HOST}:{port} ({args.workers} workers); "
              f"{concurrency} clients, {args.warmup:g} s warm-up + {args.seconds:g} s", flush=True)
        stats, stop = Stats(), threading.Event()
        now = time.monotonic()
        window = (now + args.warmup, now + args.warmup + args.seconds)
        clients = [Client(i, port, window, stop, stats) for i in range(concurrency)]
        for client in clients:
            client.start()
        try:
            time.sleep(max(0.0, window[0] - time.monotonic()))
            cpu0 = (server.cpu_seconds(), resource.getrusage(resource.RUSAGE_SELF),
                    postgres_backend_cpu(pg.name) if pg else None, machine_busy_seconds())
            time.sleep(max(0.0, window[1] - time.monotonic()))
            cpu1 = (server.cpu_seconds(), resource.getrusage(resource.RUSAGE_SELF),
                    postgres_backend_cpu(pg.name) if pg else None, machine_busy_seconds())
        finally:
            stop.set()
            for client in clients:
                client.join(timeout=35)  # bounded by the socket timeout
        floor_ms = request_floor(server, port)
        server_log = server.tail()
    if stats.ok == 0:
        raise RuntimeError(f"no successful login; errors {stats.errors}; server log:\n{server_log}")
    # The machine's speed drifts (shared host): the ceiling is the mean of a raw run before and after.
    print(f"[{args.database}] raw argon2id again, after the load", flush=True)
    raw_after, argon2_ms_after, raw_other_after, _ = raw_run()
    raw = (raw_before + raw_after) / 2
    argon2_ms = (argon2_ms_before + argon2_ms_after) / 2
    raw_other = max(raw_other_before, raw_other_after)

    rate = stats.ok / args.seconds
    client_cpu = (cpu1[1].ru_utime + cpu1[1].ru_stime) - (cpu0[1].ru_utime + cpu0[1].ru_stime)
    pg_cpu = (cpu1[2] - cpu0[2]) if pg and cpu0[2] is not None and cpu1[2] is not None else None
    server_cpu = cpu1[0] - cpu0[0]
    machine = cpu1[3] - cpu0[3]
    other = machine - server_cpu - client_cpu - (pg_cpu or 0.0)
    return {
        "rate": rate, "raw": raw, "ratio": rate / raw, "ok": stats.ok, "params": params,
        "post_p50": percentile(stats.post_ms, 50), "post_p99": percentile(stats.post_ms, 99),
        "login_p50": percentile(stats.login_ms, 50), "login_p99": percentile(stats.login_ms, 99),
        "errors_total": sum(stats.errors.values()),
        "errors_text": ", ".join(f"{k}: {v}" for k, v in sorted(stats.errors.items())),
        "server_cpu_ms": server_cpu / stats.ok * 1000,
        "client_cpu_ms": client_cpu / stats.ok * 1000,
        "server_cores": server_cpu / args.seconds, "machine_cores": machine / args.seconds,
        "other_cores": other / args.seconds, "raw_other_cores": raw_other,
        "raw_before": raw_before, "raw_after": raw_after,
        "pg_cpu_ms": pg_cpu / stats.ok * 1000 if pg_cpu is not None else None,
        "argon2_ms": argon2_ms, "floor_ms": floor_ms,
        "budget_ms": argon2_ms / 0.85 - argon2_ms - (client_cpu + (pg_cpu or 0.0)) / stats.ok * 1000,
        "cpu_share": argon2_ms / ((server_cpu + client_cpu + (pg_cpu or 0.0)) / stats.ok * 1000),
        "server": args.server, "smoke": args.smoke, "workers": args.workers, "concurrency": concurrency,
        "seconds": args.seconds, "warmup": args.warmup,
    }


def print_result(r: dict) -> None:
    print(f"\n{TITLES[r['section']]}, {SERVERS[r['server']]}: {r['workers']} workers, {r['concurrency']} clients, "
          f"{r['seconds']:g} s" + ("  [SMOKE RUN: the figures mean nothing]" if r["smoke"] else ""))
    print(f"  logins/s            {r['rate']:8.1f}   ({r['ok']} successful)")
    print(f"  raw argon2id/s      {r['raw']:8.1f}   (before {r['raw_before']:.1f}, after {r['raw_after']:.1f}; m={r['params']['memory_kib']} KiB, t={r['params']['time_cost']}, "
          f"p={r['params']['parallelism']}, {r['workers']} processes)")
    print(f"  ratio               {r['ratio'] * 100:7.1f} %  (of raw argon2id; issue 12 holds MotID to >= 0.9 x the floor)")
    print(f"  CPU share           {r['cpu_share'] * 100:7.1f} %  (argon2id CPU per verify / all CPU per login; "
          "what the ratio would be with the cores fully used and nothing else running)")
    print(f"  POST p50 / p99      {r['post_p50']:.1f} / {r['post_p99']:.1f} ms")
    print(f"  login p50 / p99     {r['login_p50']:.1f} / {r['login_p99']:.1f} ms  (GET + POST)")
    print(f"  errors              {r['errors_total']}" + (f"  ({r['errors_text']})" if r["errors_total"] else ""))
    print(f"  CPU per login       server {r['server_cpu_ms']:.1f} ms, argon2id alone {r['argon2_ms']:.1f} ms, "
          + (f"postgres {r['pg_cpu_ms']:.1f} ms, " if r.get("pg_cpu_ms") is not None else "")
          + f"load generator {r['client_cpu_ms']:.1f} ms")
    print(f"  beyond argon2id     server {r['server_cpu_ms'] - r['argon2_ms']:.1f} ms per login; 85 % allows "
          f"{r['budget_ms']:.1f} ms; GET /healthz alone costs the server {r['floor_ms']:.2f} ms")
    print(f"  cores busy          server {r['server_cores']:.2f}, whole machine {r['machine_cores']:.2f}, "
          f"other processes {max(0.0, r['other_cores']):.2f} (during the raw argon2id runs: "
          f"{r['raw_other_cores']:.2f})")
    print(f"  hardware            {r['hardware']}")


if __name__ == "__main__":
    sys.exit(main())
