"""One command for the single sign-on / single logout demo:

    .venv/bin/python examples/demo.py

1. ``idp db upgrade`` and ``idp demo seed`` on the embedded SQLite default in the current directory
   (``instance/``, ``keys/``); the demo passwords are printed the first time only.
2. Registers the two demo applications as first-party clients (idempotent: their ids and secrets are
   kept in ``instance/demo-clients.json``, reused while the provider still knows them), with redirect,
   post-logout redirect, back-channel and front-channel logout URIs.
3. Starts the provider (127.0.0.1:5000) and both applications (5001, 5002), waits until they answer,
   prints where to go, and stops all three on Ctrl-C or SIGTERM.

Options: ``--verbose`` shows the servers' logs here instead of in ``instance/demo-logs/``.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

EXAMPLES = Path(__file__).resolve().parent
PYTHON = sys.executable
HOST = "127.0.0.1"
ISSUER = f"http://{HOST}:5000"
CITIZEN_LOGIN = "096201000123"
SCOPE = "openid profile email phone offline_access"
START_TIMEOUT = 60
APPS = [
    {"key": "portal", "port": 5001, "title": "Cổng dịch vụ công tỉnh Cà Mau",
     "title_en": "Cà Mau provincial public-service portal", "colour": "#0b6e4f"},
    {"key": "one_stop", "port": 5002, "title": "Hệ thống một cửa",
     "title_en": "One-stop dossier system", "colour": "#8a3b12"},
]


def say(text: str = "") -> None:
    print(text, flush=True)


def environment() -> dict:
    """The provider's own settings, except: this issuer, and the embedded SQLite database."""
    env = dict(os.environ)
    env["IDP_ISSUER"] = ISSUER
    env["IDP_DATABASE_URL"] = ""
    return env


def idp(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([PYTHON, "-m", "idp", *args], env=env, capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        say(f"idp {' '.join(args)} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}")
        sys.exit(1)
    return result


def metadata(app: dict) -> dict:
    base = f"http://{HOST}:{app['port']}"
    return {
        "client_name": app["title"],
        "application_type": "web",
        "redirect_uris": [base + "/callback"],
        "post_logout_redirect_uris": [base + "/logged-out"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
        "scope": SCOPE,
        "client_uri": base + "/",
        "backchannel_logout_uri": base + "/backchannel-logout",
        "backchannel_logout_session_required": True,
        "frontchannel_logout_uri": base + "/frontchannel-logout",
        "frontchannel_logout_session_required": True,
    }


def register(env: dict, state_file: Path) -> dict:
    """client_id and client_secret of each app, created once and then reused."""
    try:
        known = json.loads(state_file.read_text())
    except (OSError, ValueError):
        known = {}
    changed = False
    for app in APPS:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as file:
            json.dump(metadata(app), file, ensure_ascii=False)
        try:
            entry = known.get(app["key"]) or {}
            if entry.get("client_id") and entry.get("client_secret") \
                    and idp(env, "clients", "show", entry["client_id"], check=False).returncode == 0:
                # Known: bring its metadata up to date (idempotent), e.g. logout URIs added later.
                result = idp(env, "clients", "update", entry["client_id"], "--json", file.name, "--first-party",
                             check=False)
                action = "reused"
            else:
                result = idp(env, "clients", "create", "--json", file.name, "--first-party", check=False)
                action = "registered"
        finally:
            os.unlink(file.name)
        if result.returncode != 0:
            say(f"The provider refused the metadata of {app['title']!r}:\n{result.stdout}{result.stderr}")
            say("(validate_metadata in idp/oidc/clients.py decides which logout URIs are accepted)")
            sys.exit(1)
        if action == "registered":
            client_id = re.search(r"^client_id: (\S+)", result.stdout, re.M)
            secret = re.search(r"^client_secret: (\S+)", result.stdout, re.M)
            if not client_id or not secret:
                say(f"Unexpected output of idp clients create:\n{result.stdout}")
                sys.exit(1)
            entry = {"client_id": client_id.group(1), "client_secret": secret.group(1)}
            known[app["key"]] = entry
            changed = True
        say(f"  {app['title']}: client {entry['client_id']} ({action})")
        app["client_id"], app["client_secret"] = entry["client_id"], entry["client_secret"]
    if changed:
        state_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(state_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds client secrets
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(known, out, indent=2, ensure_ascii=False)
    return known


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((HOST, port)) != 0


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if this script dies without stopping it."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Children:
    def __init__(self, log_dir: Path, verbose: bool):
        self.log_dir, self.verbose = log_dir, verbose
        self.running: list[tuple[str, subprocess.Popen, Path | None]] = []

    def start(self, name: str, args: list[str], env: dict) -> None:
        log_path = None
        output = None
        if not self.verbose:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_path = self.log_dir / f"{name}.log"
            output = open(log_path, "ab")
        # Its own process group: Ctrl-C reaches only this script, which stops the children in order
        # (and the group includes what a child starts, such as the provider's logout worker).
        process = subprocess.Popen(args, env=env, stdout=output, stderr=subprocess.STDOUT if output else None,
                                   stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent)
        if output:
            output.close()
        self.running.append((name, process, log_path))

    def tail(self, name: str) -> str:
        for child, _process, log_path in self.running:
            if child == name and log_path and log_path.exists():
                return log_path.read_text(errors="replace")[-3000:]
        return ""

    def dead(self) -> str | None:
        for name, process, _log in self.running:
            if process.poll() is not None:
                return name
        return None

    def stop(self) -> None:
        for _name, process, _log in reversed(self.running):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 15
        for _name, process, _log in reversed(self.running):
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                pass
            try:   # whatever of its group is still there (normally nothing)
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if process.poll() is None:
                process.wait(timeout=5)
        self.running.clear()


def wait_until_up(children: Children, checks: list[tuple[str, str]], stopping: dict) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    for name, url in checks:
        while stopping["signal"] is None:
            dead = children.dead()
            if dead:
                raise RuntimeError(f"{dead} exited while starting:\n{children.tail(dead)}")
            try:
                with urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        break
            except (URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not answer {url} within {START_TIMEOUT}s:\n{children.tail(name)}")
            time.sleep(0.25)


def main() -> int:
    parser = argparse.ArgumentParser(description="MotID single sign-on / single logout demo")
    parser.add_argument("--verbose", action="store_true", help="show the servers' logs in this terminal")
    args = parser.parse_args()
    env = environment()
    instance = Path(env.get("IDP_INSTANCE_PATH") or "instance").resolve()

    busy = [port for port in (5000, *(app["port"] for app in APPS)) if not port_free(port)]
    if busy:
        say(f"Port(s) {', '.join(map(str, busy))} on {HOST} are in use: stop what listens there first.")
        return 1

    say("== MotID demo: database and demo accounts")
    idp(env, "db", "upgrade")
    seeded = idp(env, "demo", "seed").stdout
    say(seeded.rstrip())
    citizen_password = re.search(r"citizen\s+login: \S+\s+password: (\S+)", seeded)

    say("== Registering the two applications")
    register(env, instance / "demo-clients.json")

    children = Children(instance / "demo-logs", args.verbose)
    stopping = {"signal": None}

    def on_signal(signum, _frame):
        stopping["signal"] = signum

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        say("== Starting the provider and the applications")
        children.start("provider", [PYTHON, "-m", "idp", "serve", "--host", HOST, "--port", "5000",
                                    "--workers", "2"], env)
        for index, app in enumerate(APPS):
            other = APPS[1 - index]
            app_env = {**os.environ, "RP_CLIENT_ID": app["client_id"], "RP_CLIENT_SECRET": app["client_secret"],
                       "RP_ISSUER": ISSUER, "RP_HOST": HOST, "RP_PORT": str(app["port"]), "RP_NAME": app["key"],
                       "RP_TITLE": app["title"], "RP_TITLE_EN": app["title_en"], "RP_COLOUR": app["colour"],
                       "RP_OTHER_URL": f"http://{HOST}:{other['port']}/", "RP_OTHER_TITLE": other["title"]}
            children.start(app["key"], [PYTHON, str(EXAMPLES / "rp_app.py")], app_env)
        wait_until_up(children, [("provider", ISSUER + "/healthz")]
                      + [(app["key"], f"http://{HOST}:{app['port']}/healthz") for app in APPS], stopping)
    except RuntimeError as exc:
        say(f"Could not start the demo: {exc}")
        children.stop()
        return 1
    if stopping["signal"] is None:
        say()
        say("== Sẵn sàng / Ready")
        say(f"  MotID (nhà cung cấp định danh / identity provider): {ISSUER}/")
        for app in APPS:
            say(f"  {app['title']} / {app['title_en']}: http://{HOST}:{app['port']}/")
        say()
        say(f"  Đăng nhập / login: công dân Nguyễn Văn An, số định danh {CITIZEN_LOGIN}")
        if citizen_password:
            say(f"  Mật khẩu / password: {citizen_password.group(1)}   (chỉ hiện lần đầu / shown only now)")
        else:
            say("  Mật khẩu: in ra khi tạo lần đầu / password: printed when first seeded; to reset:")
            say(f"    echo 'a-new-long-password' | .venv/bin/idp accounts set-password {CITIZEN_LOGIN}")
        if not args.verbose:
            say(f"  Nhật ký / logs: {children.log_dir}/")
        say("  Ctrl-C dừng cả ba / stops all three.")
    while stopping["signal"] is None:
        dead = children.dead()
        if dead:
            say(f"{dead} stopped unexpectedly:\n{children.tail(dead)}")
            break
        time.sleep(0.5)
    say("Stopping …")
    children.stop()
    say("Stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
