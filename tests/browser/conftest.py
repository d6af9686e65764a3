"""End-to-end tests in a real browser: Debian's Chromium driven by Playwright for Python.

Once for this folder (package-scoped: stopped when its last test is done), each on a free loopback
port and with its own temporary instance:

- a real SMTP server (aiosmtpd) keeping every message, so a test can open the link of an email;
- ``idp serve`` (gunicorn, 2 workers, plus the ``idp worker`` it starts for back-channel logout) on a
  fresh SQLite file, the two demo applications registered through the ``idp`` CLI with the metadata
  of examples/demo.py, and a few citizens created through the CLI;
- the two demo relying parties of examples/rp_app.py: the Cà Mau portal and the one-stop dossier system.

The browser is /usr/bin/chromium (``MOTID_CHROMIUM`` to use another): scripts/install-browser.sh installs
it with apt when it is missing. No browser is ever downloaded (``playwright install`` is never run);
Playwright itself comes from the test extras.

Artefacts: every test writes its screenshots and ``browser-log.json`` (console messages, CSP violations,
page errors, failed requests, HTTP errors, navigations) to tests/browser/artifacts/<test>/ (or
``$MOTID_BROWSER_ARTIFACTS``), and the servers' logs as well when it fails. ``MOTID_UPDATE_SCREENSHOTS=1``
also writes the curated screenshots of the README into docs/screenshots/.
"""
from __future__ import annotations

import email.policy
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pyotp
import pytest
import requests
from aiosmtpd.controller import Controller

from tests.conftest import PASSWORD, Mailbox, free_port, live_database

try:
    from playwright.sync_api import expect
except ImportError:     # the chromium fixture fails every test with an explanation
    expect = None

ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = ROOT / "scripts" / "install-browser.sh"
CHROMIUM = Path(os.environ.get("MOTID_CHROMIUM") or "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("MOTID_BROWSER_ARTIFACTS") or ROOT / "tests" / "browser" / "artifacts")
DOC_SCREENSHOTS = ROOT / "docs" / "screenshots"
UPDATE_DOC_SCREENSHOTS = os.environ.get("MOTID_UPDATE_SCREENSHOTS") == "1"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOST = "127.0.0.1"
CLI_TIMEOUT = 120        # one `idp …` command
START_TIMEOUT = 60       # the servers answering /healthz
INSTALL_TIMEOUT = 900    # apt-get update + install
TIMEOUT_MS = 15_000      # one browser action or navigation
CSP_PREFIX = "motid-csp-violation "
# Reported by the page itself, as structured data (the browser's own console line is kept too).
CSP_LISTENER = """document.addEventListener("securitypolicyviolation", (e) => console.error(%r + JSON.stringify({
  directive: e.effectiveDirective || e.violatedDirective, blocked: e.blockedURI, document: e.documentURI,
  source: e.sourceFile, line: e.lineNumber, sample: e.sample, disposition: e.disposition})));""" % CSP_PREFIX

# Vietnamese texts of the provider's pages (idp/translations/vi) and of the demo applications.
VI = {
    "login": "Đăng nhập",
    "identifier": "Số định danh cá nhân, email hoặc số điện thoại",
    "password": "Mật khẩu",
    "rp_login": "Đăng nhập bằng MotID",
    "rp_logged_out": "Bạn chưa đăng nhập",
    "rp_hello": "Xin chào, ",
    "second_factor": "Xác nhận đó là bạn",
    "code": "Mã trên ứng dụng xác thực, hoặc một mã khôi phục",
    "continue": "Tiếp tục",
}


# --------------------------------------------------------------------------- markers and reports

FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


# --------------------------------------------------------------------------- the people

@dataclass(frozen=True)
class Citizen:
    citizen_id: str
    name: str
    email: str
    password: str = PASSWORD


# Made with `idp accounts create` when the stack starts (email already verified, no second factor).
CITIZENS = {
    "hoa": Citizen("096301001234", "Nguyễn Thị Hoa", "hoa@example.vn"),   # TOTP: enrol, log in, recovery code
    "lan": Citizen("096301005678", "Phạm Thị Lan", "lan@example.vn"),     # step-up of a password-only session
    "mai": Citizen("092195004321", "Lê Thị Mai", "mai@example.vn"),       # single sign-on on a phone
    "tuan": Citizen("079088001122", "Trần Văn Tuấn", "tuan@example.vn"),   # a kiosk at the one-stop centre
}


class Authenticator:
    """The person's authenticator app, from the key shown at enrolment.

    MotID accepts the codes of the previous, current and next 30-second step, and never a step at or
    before the last one it accepted. So a person who logs in several times within half a minute uses
    the previous step's code first (only while several seconds of this step remain), then the current,
    then the next one; only a fourth use within one step waits for the next step."""

    def __init__(self, secret: str):
        self.secret = secret
        self.totp = pyotp.TOTP(secret)
        self.last_step: int | None = None

    def code(self) -> str:
        while True:
            moment = time.time()
            step, left = int(moment // 30), 30 - moment % 30
            lowest = step - 1 if left > 6 else step
            candidate = lowest if self.last_step is None else max(lowest, self.last_step + 1)
            if candidate <= step + 1:
                self.last_step = candidate
                return self.totp.at(candidate * 30)
            time.sleep(left + 0.2)


# --------------------------------------------------------------------------- mail

class CollectingMailbox(Mailbox):
    async def handle_DATA(self, server, session, envelope):
        # tests.conftest.Mailbox uses email.policy without importing it (it works there only when another
        # module imported it first); parse here with an explicit import.
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted"

    def wait_for(self, to: str, *, subject: str | None = None, after: int = 0, timeout: float = 10) -> EmailMessage:
        """The first message to ``to`` (and with ``subject`` in its Subject) received after message number
        ``after``."""
        deadline = time.monotonic() + timeout
        while True:
            for message in list(self.messages)[after:]:
                if to in str(message["To"]) and (subject is None or subject in str(message["Subject"])):
                    return message
            if time.monotonic() > deadline:
                seen = [(str(m["To"]), str(m["Subject"])) for m in self.messages]
                raise AssertionError(f"no message to {to} (subject {subject!r}) within {timeout}s; received: {seen}")
            time.sleep(0.1)

    @staticmethod
    def link(message: EmailMessage, path: str) -> str:
        body = message.get_body(("plain",)).get_content()
        match = re.search(r"https?://\S+" + re.escape(path) + r"\S*", body)
        assert match, f"no link to {path} in:\n{body}"
        return match.group(0)


# --------------------------------------------------------------------------- processes

def _load_demo():
    """examples/demo.py: the applications' titles and the metadata it registers (the demo as shipped)."""
    spec = importlib.util.spec_from_file_location("motid_examples_demo", ROOT / "examples" / "demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_DEMO = _load_demo()


class Processes(_DEMO.Children):
    """Servers in their own process groups (the provider's group includes its logout worker): the demo
    launcher's children (examples/demo.py), started from the repository with a log file each."""

    def __init__(self):
        super().__init__(log_dir=None, verbose=False)

    def start(self, name: str, args: list[str], env: dict, log_path: Path) -> None:
        with open(log_path, "ab") as log:
            process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       cwd=ROOT, start_new_session=True, preexec_fn=_DEMO._die_with_parent)
        self.running.append((name, process, log_path))


def _tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


# --------------------------------------------------------------------------- the stack

@dataclass
class RelyingParty:
    key: str
    title: str
    url: str
    client_id: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class Stack:
    issuer: str
    env: dict
    mailbox: CollectingMailbox
    portal: RelyingParty
    dossier: RelyingParty
    citizens: dict
    provider_log: Path

    def idp(self, *args: str, stdin: str | None = None) -> str:
        return _idp(self.env, *args, stdin=stdin)

    def logs(self) -> dict[str, Path]:
        return {"provider": self.provider_log, "portal": self.portal.log_path, "dossier": self.dossier.log_path}


def _idp(env: dict, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run([sys.executable, "-m", "idp", *args], env=env, capture_output=True, text=True,
                            input=stdin, timeout=CLI_TIMEOUT, cwd=ROOT)
    if result.returncode != 0:
        raise AssertionError(f"idp {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result.stdout


# Several `idp` commands in ONE interpreter (each through click, exactly as typed in a shell, each building
# its own app): starting Python and importing MotID once instead of once per command keeps the setup short.
_BATCH = r"""
import json, sys
from click.testing import CliRunner
from idp.cli import main
results = []
for args, stdin in json.loads(sys.stdin.read()):
    result = CliRunner().invoke(main, args, input=stdin)
    results.append({"exit": result.exit_code, "output": result.output,
                    "exception": repr(result.exception) if result.exit_code else None})
    if result.exit_code:
        break
sys.stdout.write("\n" + json.dumps(results) + "\n")
"""


def _idp_batch(env: dict, commands: list[tuple[list[str], str | None]]) -> list[str]:
    """The output of each ``idp`` command, run in order; the first failure fails the session."""
    result = subprocess.run([sys.executable, "-c", _BATCH], env=env, capture_output=True, text=True,
                            input=json.dumps(commands), timeout=CLI_TIMEOUT, cwd=ROOT)
    try:
        results = json.loads(result.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise AssertionError(f"idp commands failed (exit {result.returncode}):\n{result.stdout[-3000:]}\n"
                             f"{result.stderr[-3000:]}") from None
    for (args, _stdin), outcome in zip(commands, results):
        if outcome["exit"] != 0:
            raise AssertionError(f"idp {' '.join(args)} exited {outcome['exit']}: {outcome['exception']}\n"
                                 f"{outcome['output']}\n{result.stderr[-3000:]}")
    assert len(results) == len(commands), results
    return [outcome["output"] for outcome in results]


def _client_command(demo, app: dict, workdir: Path) -> tuple[list[str], None]:
    """``idp clients create`` with the metadata examples/demo.py registers, as a first-party client."""
    metadata_file = workdir / f"{app['key']}.json"
    metadata_file.write_text(json.dumps(demo.metadata(app), ensure_ascii=False), encoding="utf-8")
    return ["clients", "create", "--json", str(metadata_file), "--first-party"], None


def _client_credentials(out: str) -> tuple[str, str]:
    client_id = re.search(r"^client_id: (\S+)", out, re.M)
    secret = re.search(r"^client_secret: (\S+)", out, re.M)
    assert client_id and secret, f"unexpected output of idp clients create:\n{out}"
    return client_id.group(1), secret.group(1)


def _citizen_command(citizen: Citizen) -> tuple[list[str], str]:
    return (["accounts", "create", "--kind", "citizen", "--citizen-id", citizen.citizen_id, "--name", citizen.name,
             "--email", citizen.email, "--password-stdin"], citizen.password + "\n")


def _wait_until_up(processes: Processes, checks: list[tuple[str, str, Path]]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    for name, url, log_path in checks:
        while True:
            dead = processes.dead()
            if dead:
                pytest.fail(f"{dead} exited while starting:\n{_tail(log_path)}")
            try:
                if requests.get(url, timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{name} did not answer {url} within {START_TIMEOUT}s:\n{_tail(log_path)}")
            time.sleep(0.2)


@pytest.fixture(scope="package")
def smtp_server():
    mailbox = CollectingMailbox()
    controller = Controller(mailbox, hostname=HOST, port=free_port())
    controller.start()
    mailbox.url = f"smtp://{HOST}:{controller.port}"
    yield mailbox
    controller.stop()


@pytest.fixture(scope="package")
def browser_database():
    with live_database("browser") as env:
        yield env


@pytest.fixture(scope="package")
def stack(tmp_path_factory, smtp_server, browser_database):
    """The provider (on PostgreSQL in the PostgreSQL run), its logout worker and both demo applications,
    live, with the CITIZENS."""
    yield from live_stack(tmp_path_factory.mktemp("browser"), smtp_server, browser_database)


def live_stack(workdir, mailbox, database: dict, issuer_host: str = HOST, citizens: dict | None = None):
    """Start the provider at http://<issuer_host>:<port> with ``citizens`` (default: CITIZENS) and both
    demo applications; yield the Stack."""
    citizens = CITIZENS if citizens is None else citizens
    demo = _load_demo()
    port = free_port()
    issuer = f"http://{issuer_host}:{port}"
    env = {**os.environ, "IDP_ISSUER": issuer, "IDP_KEYS_PATH": str(workdir / "keys"),
           "IDP_INSTANCE_PATH": str(workdir / "instance"), "IDP_REDIS_URL": "",
           "IDP_SMTP_URL": mailbox.url, "IDP_DEBUG": "", **database,
           "IDP_ARGON2_TIME_COST": "1", "IDP_ARGON2_MEMORY_KIB": "1024",
           "IDP_LOGIN_LIMIT_PER_IP": "1000/minute", "IDP_LOGIN_LIMIT_PER_ACCOUNT": "1000/minute",
           "PYTHONUNBUFFERED": "1"}
    apps = [{**app, "port": free_port()} for app in demo.APPS]
    outputs = _idp_batch(env, [(["db", "upgrade"], None)]
                         + [_client_command(demo, app, workdir) for app in apps]
                         + [_citizen_command(citizen) for citizen in citizens.values()])
    for app, out in zip(apps, outputs[1:]):
        app["client_id"], app["client_secret"] = _client_credentials(out)

    processes = Processes()
    provider_log = workdir / "provider.log"
    try:
        processes.start("provider", [sys.executable, "-m", "idp", "serve", "--host", HOST, "--port", str(port),
                                     "--workers", "2", "--threads", "4"], env, provider_log)
        parties = []
        for index, app in enumerate(apps):
            other = apps[1 - index]
            url = f"http://{HOST}:{app['port']}"
            app_env = {**os.environ, "RP_CLIENT_ID": app["client_id"], "RP_CLIENT_SECRET": app["client_secret"],
                       "RP_ISSUER": issuer, "RP_HOST": HOST, "RP_PORT": str(app["port"]), "RP_NAME": app["key"],
                       "RP_TITLE": app["title"], "RP_TITLE_EN": app["title_en"], "RP_COLOUR": app["colour"],
                       "RP_OTHER_URL": f"http://{HOST}:{other['port']}/", "RP_OTHER_TITLE": other["title"],
                       "PYTHONUNBUFFERED": "1"}
            log_path = workdir / f"{app['key']}.log"
            processes.start(app["key"], [sys.executable, str(ROOT / "examples" / "rp_app.py")], app_env, log_path)
            parties.append(RelyingParty(key=app["key"], title=app["title"], url=url, client_id=app["client_id"],
                                        log_path=log_path))
        _wait_until_up(processes, [("provider", issuer + "/healthz", provider_log)]
                       + [(rp.key, rp.url + "/healthz", rp.log_path) for rp in parties])
        yield Stack(issuer=issuer, env=env, mailbox=mailbox, portal=parties[0], dossier=parties[1],
                    citizens=citizens, provider_log=provider_log)
    finally:
        processes.stop()


# --------------------------------------------------------------------------- the browser

def _ensure_chromium() -> None:
    if CHROMIUM.exists():
        return
    if not os.environ.get("MOTID_CHROMIUM"):
        result = subprocess.run(["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True,
                                timeout=INSTALL_TIMEOUT, stdin=subprocess.DEVNULL)
        if result.returncode == 0 and CHROMIUM.exists():
            return
        pytest.fail(f"{INSTALL_SCRIPT} could not install Chromium (exit {result.returncode}):\n"
                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    pytest.fail(f"no browser at {CHROMIUM}")


@pytest.fixture(scope="package")
def chromium():
    """One Chromium for the session; every test opens its own contexts (separate cookie jars)."""
    _ensure_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright for Python is missing: pip install -e '.[test]' (never `playwright install`: "
                    f"the tests drive {CHROMIUM})")
    manager = sync_playwright().start()
    try:
        browser = manager.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000)
    except Exception:
        manager.stop()
        raise
    expect.set_options(timeout=TIMEOUT_MS)
    yield browser
    browser.close()
    manager.stop()


class Recorder:
    """What the pages of one browser context said and did."""

    def __init__(self, name: str):
        self.name = name
        self.console: list[dict] = []
        self.csp: list[dict] = []
        self.page_errors: list[dict] = []
        self.failed_requests: list[dict] = []
        self.http_errors: list[dict] = []
        self.navigations: list[str] = []      # committed main-frame URLs
        self.documents: list[str] = []        # every main-frame document request, redirects included

    def attach(self, page) -> None:
        page.on("request", lambda request: request.is_navigation_request() and request.frame == page.main_frame
                and self.documents.append(f"{request.method} {request.url}"))
        page.on("console", lambda message: self._console(page, message))
        page.on("pageerror", lambda error: self.page_errors.append({"page": page.url, "error": str(error)}))
        page.on("requestfailed", lambda request: self.failed_requests.append(
            {"url": request.url, "failure": request.failure, "frame_page": page.url}))
        page.on("response", lambda response: response.status >= 400 and self.http_errors.append(
            {"url": response.url, "status": response.status}))
        page.on("framenavigated", lambda frame: frame.parent_frame is None and self.navigations.append(frame.url))

    def _console(self, page, message) -> None:
        text = message.text
        if text.startswith(CSP_PREFIX):
            try:
                self.csp.append({"page": page.url, **json.loads(text[len(CSP_PREFIX):])})
            except ValueError:
                self.csp.append({"page": page.url, "raw": text})
            return
        self.console.append({"type": message.type, "text": text, "page": page.url,
                             "location": message.location.get("url")})

    def as_dict(self) -> dict:
        return {"context": self.name, "csp_violations": self.csp, "page_errors": self.page_errors,
                "console": self.console, "failed_requests": self.failed_requests,
                "http_errors": self.http_errors, "navigations": self.navigations, "documents": self.documents}


class Web:
    """A test's browser: contexts (one per person and device), screenshots and what went wrong."""

    DESKTOP = {"viewport": {"width": 1280, "height": 800}}
    PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True,
             "device_scale_factor": 2}

    def __init__(self, browser, stack: Stack, folder: Path):
        self.browser, self.stack, self.folder = browser, stack, folder
        self.contexts: list[tuple[object, Recorder]] = []
        self.shots = 0
        version = browser.version.split(".")[0]
        self.user_agents = {
            False: f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{version}.0.0.0 "
                   "Safari/537.36",
            True: f"Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) "
                  f"Chrome/{version}.0.0.0 Mobile Safari/537.36",
        }

    def page(self, name: str, *, phone: bool = False):
        """A new page in a new context: a separate browser (cookies), Vietnamese, Vietnam's time zone."""
        options = {**(self.PHONE if phone else self.DESKTOP), "locale": "vi-VN", "timezone_id": "Asia/Ho_Chi_Minh",
                   "user_agent": self.user_agents[phone], "color_scheme": "light"}
        context = self.browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        context.add_init_script(CSP_LISTENER)
        recorder = Recorder(name)
        context.on("page", recorder.attach)
        self.contexts.append((context, recorder))
        return context.new_page()

    def recorder(self, page) -> Recorder:
        return next(recorder for context, recorder in self.contexts if context == page.context)

    def shot(self, page, name: str, *, doc: str | None = None, full_page: bool = True) -> Path:
        """A screenshot in the test's artefacts; ``doc``: also docs/screenshots/<doc>.png when updating them."""
        self.shots += 1
        path = self.folder / f"{self.shots:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=full_page, animations="disabled", caret="hide")
        if doc and UPDATE_DOC_SCREENSHOTS:
            DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOC_SCREENSHOTS / f"{doc}.png")
        return path

    def problems(self, allow: tuple[str, ...] = ()) -> list[str]:
        """CSP violations, uncaught page errors and console errors (but those whose "<page URL> <text>"
        matches a pattern of ``allow``)."""
        found = []
        for _context, recorder in self.contexts:
            found += [f"[{recorder.name}] CSP violation on {v.get('page')}: {v}" for v in recorder.csp]
            found += [f"[{recorder.name}] page error on {e['page']}: {e['error']}" for e in recorder.page_errors]
            for entry in recorder.console:
                if entry["type"] != "error" or "Content Security Policy" in entry["text"] and recorder.csp:
                    continue
                if any(re.search(pattern, f"{entry['page']} {entry['text']}") for pattern in allow):
                    continue
                if (entry["location"] or "").endswith("/favicon.ico"):    # the browser's own request; no icon
                    continue
                found.append(f"[{recorder.name}] console error on {entry['page']}: {entry['text']}")
        return found

    def assert_clean(self, allow: tuple[str, ...] = ()) -> None:
        problems = self.problems(allow)
        assert not problems, "the browser reported problems:\n" + "\n".join(problems)

    def finish(self, failed: bool) -> None:
        report = [recorder.as_dict() for _context, recorder in self.contexts]
        if failed:
            for index, (context, recorder) in enumerate(self.contexts):
                for number, page in enumerate(context.pages):
                    try:
                        page.screenshot(path=str(self.folder / f"failure-{index}-{recorder.name}-{number}.png"),
                                        full_page=True, timeout=5000)
                        (self.folder / f"failure-{index}-{recorder.name}-{number}.html").write_text(
                            page.content(), encoding="utf-8")
                    except Exception as exc:    # noqa: BLE001 - best effort while reporting a failure
                        (self.folder / f"failure-{index}-{number}.txt").write_text(repr(exc))
            for name, path in self.stack.logs().items():
                (self.folder / f"{name}.log").write_text(_tail(path, 200_000), encoding="utf-8")
        (self.folder / "browser-log.json").write_text(json.dumps(report, indent=2, ensure_ascii=False),
                                                      encoding="utf-8")
        for context, _recorder in self.contexts:
            try:
                context.close()
            except Exception:   # noqa: BLE001 - the browser may already be gone
                pass


@pytest.fixture
def web(request, chromium, stack):
    folder = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    browser = Web(chromium, stack, folder)
    yield browser
    browser.finish(failed=request.node.stash.get(FAILED, True))


# --------------------------------------------------------------------------- steps people take

def motid_login(page, stack: Stack, identifier: str, password: str = PASSWORD) -> None:
    """On MotID's login page (where an application sent the browser): type the identifier and password."""
    expect(page).to_have_url(re.compile(re.escape(stack.issuer) + r"/login(\?|$)"))
    expect(page.locator("h1")).to_have_text(VI["login"])
    page.get_by_label(VI["identifier"]).fill(identifier)
    page.get_by_label(VI["password"], exact=True).fill(password)
    page.get_by_role("button", name=VI["login"], exact=True).click()


def rp_start_login(page, rp: RelyingParty, *, go: bool = True, tap: bool = False) -> None:
    """On the application's home page (``go``: open it first), press "Đăng nhập bằng MotID"."""
    if go:
        page.goto(rp.url + "/")
    expect(page).to_have_url(rp.url + "/")
    expect(page.locator("h1")).to_have_text(VI["rp_logged_out"])
    button = page.get_by_role("button", name=re.compile("^" + VI["rp_login"]))
    button.tap() if tap else button.click()


def rp_expect_logged_in(page, rp: RelyingParty, name: str) -> str:
    """The application's home page greets the person; returns the MotID session id (sid) it got."""
    expect(page).to_have_url(rp.url + "/")
    expect(page.locator("h1")).to_have_text(VI["rp_hello"] + name)
    return page.locator("#sid").inner_text()


def wait_until_logged_out(page, rp: RelyingParty, timeout: float = 10) -> float:
    """Reload the application's home page until it no longer knows the person; returns the seconds it took."""
    started = time.monotonic()
    while True:
        page.goto(rp.url + "/")
        heading = page.locator("h1").inner_text()
        if heading == VI["rp_logged_out"]:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{rp.title} still shows {heading!r} {timeout}s after the logout:\n"
                                 f"{_tail(rp.log_path, 2000)}")
        page.wait_for_timeout(300)


def sideways_scroll(page, where: str) -> str | None:
    """None when the page fits the phone's width; otherwise what sticks out, for the report.

    Compared with the viewport's width (``clientWidth``), not ``window.innerWidth``: on a mobile browser
    (Playwright's is_mobile) a page wider than the screen widens the layout viewport, so innerWidth grows
    with it and ``scrollWidth <= innerWidth`` would hold even for a page that overflows."""
    size = page.evaluate("""() => {
      const width = document.documentElement.clientWidth;
      const wide = [...document.querySelectorAll("body *")]
        .filter((e) => e.getBoundingClientRect().right > width + 0.5)
        .filter((e) => !e.parentElement || e.parentElement.getBoundingClientRect().right <= width + 0.5)
        .slice(0, 8)
        .map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") +
             (e.className && typeof e.className === "string" ? "." + e.className.trim().split(/\\s+/).join(".") : "") +
             " (right edge at " + Math.round(e.getBoundingClientRect().right) + "px)");
      return {scrollWidth: document.documentElement.scrollWidth, clientWidth: width, innerWidth: window.innerWidth,
              wide};
    }""")
    screen = page.viewport_size["width"]
    if size["scrollWidth"] <= size["clientWidth"] <= screen and size["innerWidth"] <= screen:
        return None
    return (f"{where}: the page scrolls sideways on a {screen}px-wide phone ({size['scrollWidth']}px of content, "
            f"layout viewport {size['innerWidth']}px) at {page.url}; outermost elements sticking out: {size['wide']}")
