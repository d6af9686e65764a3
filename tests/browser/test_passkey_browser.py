"""Passkeys (WebAuthn) in Chromium, with the browser's own virtual authenticator (DevTools protocol,
``WebAuthn.addVirtualAuthenticator``: a CTAP2 platform authenticator with resident keys and user
verification, which answers without a person touching anything).

A citizen without any second factor logs in with her password, adds a passkey from MotID's security page
(the passkey alone does not log her in yet: MotID answers 403 and makes no session), and from then on the
password alone is not enough: the portal's login goes through the second-factor page,
where "Dùng khóa truy cập" finishes it at level 2 (amr pwd hwk mfa). She then allows logging in with the
passkey alone and logs in to the portal with only "Đăng nhập bằng khóa truy cập" (amr hwk mfa). Finally,
with the authenticator's credential gone, the passkey button says it could not be used and no session is
made.

Why this module has its own ``stack``: browsers refuse WebAuthn on an IP-address origin. The package's
stack names its issuer http://127.0.0.1:<port>, so MotID's relying-party ID is "127.0.0.1", and Chromium
rejects ``navigator.credentials.create()`` there with "SecurityError: This is an invalid domain." (whatever
rp.id says, even none). So the provider here is the same ``idp serve`` on the same loopback address, with
the same demo applications and citizens made the same way, but its issuer is http://localhost:<port>: a
secure context for the browser and a valid relying-party ID ("localhost"). Nothing else differs.

The citizens are this module's own (the package's belong to the other browser tests, which expect them to
have no second factor). The artefacts folder also gets ``passkey-network.json``: every request to a passkey
endpoint, with the status and the JSON body of its answer, and the authenticator's events."""
from __future__ import annotations

import json
import re
import time

import pytest

from tests.browser.conftest import (Citizen, expect, live_stack, motid_login, rp_expect_logged_in, rp_start_login,
                                    wait_until_logged_out)
from tests.conftest import live_database

pytestmark = pytest.mark.browser

LOA2 = "urn:motid:loa:2"
# Made with `idp accounts create` when the stack starts, as conftest makes its citizens.
CITIZENS = {
    "thu": Citizen("096190002468", "Võ Thị Thu", "thu@example.vn"),      # registers and uses a passkey
    "nam": Citizen("096085001357", "Đặng Văn Nam", "nam@example.vn"),    # loses it (negative case)
}

# Vietnamese texts of idp/translations/vi for the passkey parts of the pages.
PK = {
    "security": "Bảo mật",
    "name_new": "Tên cho khóa truy cập mới",
    "add": "Thêm khóa truy cập",
    "allow_alone": "Cho phép đăng nhập chỉ bằng khóa truy cập",
    "alone_on": "Bạn có thể đăng nhập chỉ bằng khóa truy cập.",
    "use_instead": "Dùng khóa truy cập",
    "login_with": "Đăng nhập bằng khóa truy cập",
    "could_not_use": "Không dùng được khóa truy cập.",
    "not_allowed": "Tài khoản này không cho phép đăng nhập chỉ bằng khóa truy cập.",
    "second_factor": "Xác nhận đó là bạn",
    "logged_out": "Bạn đã đăng xuất",
}
PASSKEY_PATHS = re.compile(r"/(account/security/passkeys|login/passkey)")
ISSUER_HOST = "localhost"     # not 127.0.0.1: see the module's docstring


# --------------------------------------------------------------------------- the stack, named localhost

@pytest.fixture(scope="module")
def stack(tmp_path_factory, smtp_server):
    """As conftest's ``stack`` (which every fixture of this module, ``web`` included, gets in its place),
    but the issuer is http://localhost:<port>. Its own database and instance folder."""
    with live_database("browser_passkeys") as database:
        yield from live_stack(tmp_path_factory.mktemp("browser-passkeys"), smtp_server, database,
                              issuer_host=ISSUER_HOST, citizens=CITIZENS)


# --------------------------------------------------------------------------- the authenticator

class VirtualAuthenticator:
    """Chromium's virtual authenticator for one tab (it stays through the tab's navigations)."""

    OPTIONS = {"protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
               "isUserVerified": True, "automaticPresenceSimulation": True}

    def __init__(self, page):
        self.cdp = page.context.new_cdp_session(page)
        self.events: list[dict] = []
        for name in ("WebAuthn.credentialAdded", "WebAuthn.credentialAsserted"):
            self.cdp.on(name, lambda params, name=name: self.events.append(
                {"event": name, "at": time.strftime("%H:%M:%S"),
                 "credentialId": (params.get("credential") or {}).get("credentialId"),
                 "signCount": (params.get("credential") or {}).get("signCount")}))
        self.cdp.send("WebAuthn.enable", {"enableUI": False})
        self.id = self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": self.OPTIONS})["authenticatorId"]

    def credentials(self) -> list[dict]:
        return self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})["credentials"]

    def clear(self) -> None:
        self.cdp.send("WebAuthn.clearCredentials", {"authenticatorId": self.id})


class PasskeyNetwork:
    """Every request to a passkey endpoint and its answer (status and JSON body), for the report."""

    def __init__(self, page):
        self.exchanges: list[dict] = []
        page.on("response", self._response)
        page.on("requestfailed", lambda request: PASSKEY_PATHS.search(request.url) and self.exchanges.append(
            {"method": request.method, "url": request.url, "failure": request.failure}))

    def _response(self, response) -> None:
        if not PASSKEY_PATHS.search(response.url):
            return
        entry = {"method": response.request.method, "url": response.url, "status": response.status,
                 "request": _shorten(response.request.post_data)}
        try:
            entry["response"] = _shorten(response.text())
        except Exception:    # noqa: BLE001 - gone once the script navigated (window.location)
            entry["response"] = "(not kept: the page had already navigated)"
        self.exchanges.append(entry)

    def calls(self, path: str) -> list[dict]:
        return [entry for entry in self.exchanges if entry["url"].split("?")[0].endswith(path)]


def _shorten(text: str | None, limit: int = 600) -> str | None:
    return text if text is None or len(text) <= limit else text[:limit] + f"… ({len(text)} characters)"


def save_report(web, network: PasskeyNetwork, authenticator: VirtualAuthenticator, timings: dict) -> None:
    (web.folder / "passkey-network.json").write_text(json.dumps(
        {"timings_seconds": timings, "exchanges": network.exchanges, "authenticator_events": authenticator.events},
        indent=2, ensure_ascii=False), encoding="utf-8")


# --------------------------------------------------------------------------- steps

def log_out_of_motid(page, stack) -> None:
    page.goto(stack.issuer + "/account")
    page.get_by_role("button", name="Đăng xuất", exact=True).click()
    expect(page.locator("h1")).to_have_text(PK["logged_out"])


def expect_no_motid_session(page, stack) -> None:
    page.goto(stack.issuer + "/account")
    expect(page).to_have_url(re.compile(re.escape(stack.issuer) + r"/login\?next="))


def add_passkey(page, stack, authenticator: VirtualAuthenticator, name: str) -> float:
    """Logged in to MotID: the security page, a name, "Thêm khóa truy cập"; the page reloads and lists it.
    Returns the seconds from the click to the reloaded page."""
    page.goto(stack.issuer + "/account")
    page.get_by_role("link", name=PK["security"]).click()
    expect(page).to_have_url(stack.issuer + "/account/security")
    button = page.get_by_role("button", name=PK["add"])
    expect(button).to_be_visible()      # passkeys.js shows it only where the browser has WebAuthn
    expect(page.locator("#passkeys .passkey")).to_have_count(0)
    page.get_by_label(PK["name_new"]).fill(name)
    started = time.monotonic()
    with page.expect_navigation(url=stack.issuer + "/account/security"):
        button.click()
    seconds = time.monotonic() - started
    listed = page.locator("#passkeys .passkey")
    expect(listed).to_have_count(1)
    expect(listed.locator("input[name=name]")).to_have_value(name)
    expect(page.locator("#passkey-status")).to_have_text("")
    expect(page.get_by_role("button", name=PK["allow_alone"])).to_be_visible()
    credentials = authenticator.credentials()
    assert len(credentials) == 1, credentials
    assert credentials[0]["isResidentCredential"] is True, credentials
    assert credentials[0]["rpId"] == stack.issuer.split("//")[1].split(":")[0], credentials
    return round(seconds, 2)


def portal_claim(page, claim: str) -> str:
    return page.locator("tr", has=page.locator("th", has_text=re.compile(f"^{claim}$"))).locator("td").inner_text()


# --------------------------------------------------------------------------- the tests

def test_passkey_as_second_factor_then_alone(web, stack):
    thu = stack.citizens["thu"]
    page = web.page("desktop")
    authenticator = VirtualAuthenticator(page)
    network = PasskeyNetwork(page)
    timings: dict[str, float] = {}
    try:
        # 1. Password login to MotID, then a passkey from the security page.
        started = time.monotonic()
        page.goto(stack.issuer + "/account")
        motid_login(page, stack, thu.email)
        expect(page).to_have_url(stack.issuer + "/account")
        expect(page.locator("h1")).to_have_text("Xin chào, " + thu.name)
        timings["register_click_to_reload"] = add_passkey(page, stack, authenticator, "Máy tính ở nhà")
        web.shot(page, "security-with-passkey")
        assert [e["status"] for e in network.calls("/account/security/passkeys")] == [200], network.exchanges
        timings["password_login_and_register"] = round(time.monotonic() - started, 2)
        log_out_of_motid(page, stack)

        # The passkey alone is not allowed yet: the authenticator signs, MotID refuses, no session.
        page.goto(stack.issuer + "/login")
        with page.expect_response(stack.issuer + "/login/passkey") as refused:
            page.get_by_role("button", name=PK["login_with"]).click()
        assert refused.value.status == 403 and refused.value.json()["error"] == "passkey.not_allowed", \
            network.exchanges
        expect(page.locator("#passkey-status")).to_have_text(PK["not_allowed"])
        web.shot(page, "passkey-alone-not-allowed-yet")
        expect_no_motid_session(page, stack)

        # The portal's login: the password, then the second-factor page offers the passkey (no code field:
        # she has no authenticator app).
        started = time.monotonic()
        rp_start_login(page, stack.portal)
        motid_login(page, stack, thu.citizen_id)
        expect(page).to_have_url(stack.issuer + "/login/second-factor")
        expect(page.locator("h1")).to_have_text(PK["second_factor"])
        expect(page.locator("input[name=code]")).to_have_count(0)
        use_passkey = page.get_by_role("button", name=PK["use_instead"])
        expect(use_passkey).to_be_visible()
        web.shot(page, "second-factor-passkey")
        use_passkey.click()
        rp_expect_logged_in(page, stack.portal, thu.name)
        expect(page.locator("#acr")).to_have_text(LOA2)
        assert json.loads(portal_claim(page, "amr")) == ["pwd", "hwk", "mfa"]
        assert [e["status"] for e in network.calls("/login/passkey")][1:] == [200], network.exchanges
        timings["password_and_passkey_login"] = round(time.monotonic() - started, 2)
        web.shot(page, "portal-after-passkey-second-factor")
        # The provider's own session is the same one: MotID knows her without asking anything.
        page.goto(stack.issuer + "/account")
        expect(page.locator("h1")).to_have_text("Xin chào, " + thu.name)

        # 2. She allows the passkey alone, logs out everywhere, and logs in with the passkey button only.
        page.get_by_role("link", name=PK["security"]).click()
        page.get_by_role("button", name=PK["allow_alone"]).click()
        expect(page.locator("#passkeys")).to_contain_text(PK["alone_on"])
        log_out_of_motid(page, stack)
        wait_until_logged_out(page, stack.portal)
        expect_no_motid_session(page, stack)

        started = time.monotonic()
        passwords_typed = []    # MotID's login form posted (the portal's own "POST /login" is its button)
        page.on("request", lambda request: request.method == "POST"
                and request.url.split("?")[0] == stack.issuer + "/login" and passwords_typed.append(request.url))
        rp_start_login(page, stack.portal)
        expect(page).to_have_url(re.compile(re.escape(stack.issuer) + r"/login\?"))
        login_with = page.get_by_role("button", name=PK["login_with"])
        expect(login_with).to_be_visible()
        expect(page.get_by_label("Mật khẩu", exact=True)).to_have_value("")
        web.shot(page, "login-with-passkey")
        mark = len(network.exchanges)
        login_with.click()
        rp_expect_logged_in(page, stack.portal, thu.name)
        expect(page.locator("#acr")).to_have_text(LOA2)
        assert json.loads(portal_claim(page, "amr")) == ["hwk", "mfa"]
        assert not passwords_typed, passwords_typed
        assert [(e["url"].split("?")[0].removeprefix(stack.issuer), e["status"]) for e in network.exchanges[mark:]] \
            == [("/login/passkey/options", 200), ("/login/passkey", 200)], network.exchanges[mark:]
        timings["passkey_alone_login"] = round(time.monotonic() - started, 2)
        web.shot(page, "portal-after-passkey-alone")
        assert [e["event"] for e in authenticator.events] == ["WebAuthn.credentialAdded"] + \
            ["WebAuthn.credentialAsserted"] * 3, authenticator.events
        # The refused passkey-alone login is answered with 403, on purpose; nothing else may fail.
        web.assert_clean(allow=(r"/login .*status of 403",))
    finally:
        save_report(web, network, authenticator, timings)


def test_passkey_login_without_the_credential_fails_and_makes_no_session(web, stack):
    nam = stack.citizens["nam"]
    page = web.page("desktop")
    authenticator = VirtualAuthenticator(page)
    network = PasskeyNetwork(page)
    timings: dict[str, float] = {}
    try:
        page.goto(stack.issuer + "/account")
        motid_login(page, stack, nam.email)
        expect(page).to_have_url(stack.issuer + "/account")
        timings["register_click_to_reload"] = add_passkey(page, stack, authenticator, "Điện thoại")
        page.get_by_role("button", name=PK["allow_alone"]).click()
        expect(page.locator("#passkeys")).to_contain_text(PK["alone_on"])
        log_out_of_motid(page, stack)

        # The passkey is gone from the authenticator (a reset phone, another computer).
        authenticator.clear()
        assert authenticator.credentials() == []
        page.goto(stack.issuer + "/login")
        mark = len(network.exchanges)
        started = time.monotonic()
        page.get_by_role("button", name=PK["login_with"]).click()
        expect(page.locator("#passkey-status")).to_have_text(PK["could_not_use"])
        timings["failure_shown"] = round(time.monotonic() - started, 2)
        web.shot(page, "passkey-login-failed")
        expect(page).to_have_url(stack.issuer + "/login")
        # The options were asked for; nothing was sent for verification, and there is no session.
        assert [e["url"].split("?")[0].removeprefix(stack.issuer) for e in network.exchanges[mark:]] \
            == ["/login/passkey/options"], network.exchanges[mark:]
        assert not [event for event in authenticator.events if event["event"] == "WebAuthn.credentialAsserted"]
        expect_no_motid_session(page, stack)
        web.assert_clean()
    finally:
        save_report(web, network, authenticator, timings)
