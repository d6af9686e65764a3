"""Each benchmark in ``bench/`` runs once in its smoke mode, as CI runs it: it must work, not meet a
figure (no assertion here reads one). The database is this pass's: PostgreSQL on 127.0.0.1:5432 when
``IDP_TEST_DATABASE_URL`` is set (each benchmark creates and drops its own ``motid_bench_<pid>``
databases there, whatever that URL names), SQLite otherwise.

They need wrk (installed by ``scripts/install-wrk.sh`` when missing), granian in the virtualenv and
Node.js 20+ with npm (``oidc_bench.py`` runs ``npm ci`` in ``bench/node`` itself when needed); without
them these tests fail rather than skip.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "postgresql" if os.environ.get("IDP_TEST_DATABASE_URL") else "sqlite"
RUN_TIMEOUT = 300   # one smoke run: about a minute on a busy 2-core machine
STOP_TIMEOUT = 60   # after SIGTERM the benchmark stops its servers and drops its databases

OIDC_WORKLOADS = ["discovery", "jwks", "client_credentials", "userinfo", "introspection", "refresh", "code"]
CEILING_APPS = ["constant", "jwt"]
CEILING_SERVERS = ["gunicorn-sync", "gunicorn-gthread", "granian"]
LOGIN_ROWS = ["logins/s", "raw argon2id/s", "ratio", "POST p50 / p99", "login p50 / p99", "errors",
              "CPU per login", "beyond argon2id"]


@pytest.fixture(scope="module")
def wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        result = subprocess.run(["bash", str(ROOT / "scripts" / "install-wrk.sh")], capture_output=True, text=True,
                                timeout=900)
        if result.returncode != 0:
            pytest.fail("scripts/install-wrk.sh failed:\n" + result.stdout[-2000:] + result.stderr[-2000:])
        found = shutil.which("wrk")
    assert found, "scripts/install-wrk.sh succeeded but wrk is not on PATH"
    return found


@pytest.fixture(scope="module")
def node() -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("Node.js (node and npm) is needed for oidc_bench's oidc-provider comparison")


def run_smoke(script: str, *args: str) -> str:
    """Run ``bench/<script> --database DATABASE --smoke ARGS`` with the project's interpreter; its output
    (stdout and stderr, in order) is printed, so pytest shows it on failure."""
    cmd = [sys.executable, str(ROOT / "bench" / script), "--database", DATABASE, "--smoke", *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.terminate()  # SIGTERM, not SIGKILL: the benchmark cleans up what it started
        try:
            output, _ = proc.communicate(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        print(output)
        pytest.fail(f"{shlex.join(cmd)} did not finish within {RUN_TIMEOUT} s")
    print(output)
    assert proc.returncode == 0, (f"{shlex.join(cmd)} exited with {proc.returncode}; its output is in the "
                                  "captured stdout")
    return output


def missing_lines(output: str, patterns: dict[str, str]) -> list[str]:
    return [name for name, pattern in patterns.items() if not re.search(pattern, output, re.MULTILINE)]


def test_oidc_bench_smoke(wrk, node):
    output = run_smoke("oidc_bench.py")
    # each workload's row names MotID's rate, then oidc-provider's in memory and on PostgreSQL
    rows = {w: rf"^  {w} +[\d,]+ +[\d.]+ +[\d.]+ +\d+ +[\d.]+ms +[\d,]+ +[\d,]+  " for w in OIDC_WORKLOADS}
    cell = r"[\d,]+/s p99 +[\d.]+ err +\d+ [\d.]+ ms"  # one ceiling server's rate, p99, errors, CPU
    rows.update({f"ceiling {app}": rf"^  {app} +" + " +".join([cell] * len(CEILING_SERVERS)) + "$"
                 for app in CEILING_APPS})
    rows["header"] = r"^ +" + " +".join(re.escape(s) for s in CEILING_SERVERS) + "$"
    runs = len(CEILING_APPS) * len(CEILING_SERVERS) + 3 * len(OIDC_WORKLOADS)  # MotID and 2 oidc-provider
    rows["verdict"] = rf"^smoke: every run answered \({runs} runs\); figures not checked$"
    assert not missing_lines(output, rows), f"rows missing from the output: {missing_lines(output, rows)}"


@pytest.mark.parametrize("server", ["idp-serve", "minimal"])
def test_login_bench_smoke(server):
    output = run_smoke("login_bench.py", "--server", server)
    rows = {row: rf"^  {re.escape(row)} +\S" for row in LOGIN_ROWS}
    rows["title"] = (r"^The floor: a minimal Flask login on " if server == "minimal" else r"^(SQLite|PostgreSQL)\b")
    rows["verdict"] = r"^smoke: [1-9]\d* logins in the window, none failed; figures not checked$"
    assert not missing_lines(output, rows), f"rows missing from the output: {missing_lines(output, rows)}"
