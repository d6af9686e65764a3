"""Single sign-on and single logout in Chromium, as a citizen lives them: register on MotID, confirm the
email, log in to the provincial portal, enter the one-stop dossier system without a password, see the
session on MotID, log out from the portal and find the dossier system logged out too; then the same
on a phone-sized screen, which must never scroll sideways."""
from __future__ import annotations

import re
import time

import pytest

from tests.browser.conftest import (Citizen, sideways_scroll, expect, motid_login,
                                    rp_expect_logged_in, rp_start_login, wait_until_logged_out)

pytestmark = pytest.mark.browser

NEW_CITIZEN = Citizen("079090001234", "Trần Văn Bình", "binh@example.vn")
PHONE = "0912345678"
BIRTHDATE = "1990-05-17"
LOA1 = "urn:motid:loa:1"


def login_url(stack):
    return re.compile(re.escape(stack.issuer) + r"/login\?")


def journey_since(recorder, mark: int) -> list[str]:
    return recorder.documents[mark:]


def test_register_then_single_sign_on_and_single_logout(web, stack):
    page = web.page("desktop")
    recorder = web.recorder(page)

    # 1. Registration on MotID's own page, in Vietnamese.
    page.goto(stack.issuer + "/register")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.locator("h1")).to_have_text("Đăng ký tài khoản công dân")
    page.get_by_label("Họ và tên").fill(NEW_CITIZEN.name)
    page.get_by_label("Số định danh cá nhân (12 chữ số)").fill(NEW_CITIZEN.citizen_id)
    page.get_by_label("Ngày sinh").fill(BIRTHDATE)
    page.get_by_label("Email").fill(NEW_CITIZEN.email)
    page.get_by_label("Số điện thoại di động (không bắt buộc)").fill(PHONE)
    page.get_by_label("Mật khẩu (ít nhất 10 ký tự)").fill(NEW_CITIZEN.password)
    page.get_by_label("Nhập lại mật khẩu").fill(NEW_CITIZEN.password)
    web.shot(page, "register", doc="register")
    received = len(stack.mailbox.messages)
    page.get_by_role("button", name="Tạo tài khoản").click()
    expect(page.locator("h1")).to_have_text("Hãy kiểm tra email của bạn")
    expect(page.locator("main")).to_contain_text(NEW_CITIZEN.email)

    # 2. The confirmation link from the email (a real SMTP server received it).
    message = stack.mailbox.wait_for(NEW_CITIZEN.email, after=received)
    link = stack.mailbox.link(message, "/verify-email/")
    assert link.startswith(stack.issuer + "/verify-email/"), link
    page.goto(link)
    expect(page.locator("h1")).to_have_text("Đã xác nhận email")

    # 3. The portal sends the browser to MotID's login page; back on the portal, logged in.
    rp_start_login(page, stack.portal)
    expect(page).to_have_url(login_url(stack))
    web.shot(page, "motid-login", doc="login")
    motid_login(page, stack, NEW_CITIZEN.citizen_id)
    sid = rp_expect_logged_in(page, stack.portal, NEW_CITIZEN.name)
    expect(page.locator("#acr")).to_have_text(LOA1)
    web.shot(page, "portal-home", doc="portal-home", full_page=False)

    # 4. The dossier system: "log in with MotID" needs no password (the same MotID session).
    mark = len(recorder.documents)
    page.get_by_role("link", name=stack.dossier.title).click()
    rp_start_login(page, stack.dossier, go=False)
    dossier_sid = rp_expect_logged_in(page, stack.dossier, NEW_CITIZEN.name)
    journey = journey_since(recorder, mark)
    assert any(step.startswith(f"GET {stack.issuer}/authorize?") for step in journey), journey
    assert not any(f"{stack.issuer}/login" in step for step in journey), f"asked to log in again: {journey}"
    assert dossier_sid == sid
    web.shot(page, "dossier-home-sso")

    # 5. MotID's sessions page: one session (this browser) that used both services.
    page.goto(stack.issuer + "/account/sessions")
    expect(page.locator("h1")).to_have_text("Các phiên đăng nhập của bạn")
    cards = page.locator("main section.card")
    expect(cards).to_have_count(1)
    expect(cards).to_contain_text("thiết bị này")
    services = cards.locator("dt", has_text="Dịch vụ đã dùng").locator("xpath=following-sibling::dd[1]")
    expect(services).to_contain_text(stack.portal.title)
    expect(services).to_contain_text(stack.dossier.title)
    web.shot(page, "motid-sessions", doc="sessions")

    # 6. RP-initiated logout from the portal. The dossier system's front-channel frame is blocked in this
    #    browser, so only the back-channel (MotID's worker POSTing a logout token) can end its session.
    page.context.route(re.compile(re.escape(stack.dossier.url) + r"/frontchannel-logout"),
                       lambda route: route.abort())
    page.goto(stack.portal.url + "/")
    logout_started = time.monotonic()
    page.get_by_role("button", name=re.compile("^Đăng xuất")).click()
    expect(page).to_have_url(re.compile(re.escape(stack.issuer) + r"/connect/logout\?"))
    expect(page.locator("h1")).to_have_text("Bạn đã đăng xuất")
    expect(page.locator("iframe.logout-frame")).to_have_count(2)
    web.shot(page, "motid-logged-out", doc="logged-out")
    # The page sends the browser back to the portal's post_logout_redirect_uri, with its state.
    expect(page).to_have_url(re.compile(re.escape(stack.portal.url) + r"/logged-out\?state="), timeout=10_000)
    expect(page.locator("h1")).to_have_text("Bạn đã đăng xuất khỏi MotID và ứng dụng này")

    # 7. The dossier system, reloaded, no longer knows the person (within ~10 s of the logout).
    wait_until_logged_out(page, stack.dossier, timeout=max(10 - (time.monotonic() - logout_started), 2))
    assert re.search(rf"back-channel logout sid={re.escape(sid)} sub=\S+: 1 session\(s\) ended", stack.dossier.log())
    page.goto(stack.issuer + "/account")
    expect(page).to_have_url(login_url(stack))
    web.assert_clean()


def test_single_sign_on_on_a_phone(web, stack):
    mai = stack.citizens["mai"]
    page = web.page("phone", phone=True)
    recorder = web.recorder(page)
    layout = []     # pages that scroll sideways: all reported at the end, after the single logout is checked

    rp_start_login(page, stack.portal, tap=True)
    expect(page).to_have_url(login_url(stack))
    layout.append(sideways_scroll(page, "MotID login page"))
    web.shot(page, "phone-motid-login", doc="phone-login")
    motid_login(page, stack, mai.email)
    sid = rp_expect_logged_in(page, stack.portal, mai.name)
    layout.append(sideways_scroll(page, "portal home page"))
    web.shot(page, "phone-portal-home")

    mark = len(recorder.documents)
    page.get_by_role("link", name=stack.dossier.title).tap()
    rp_start_login(page, stack.dossier, go=False, tap=True)
    assert rp_expect_logged_in(page, stack.dossier, mai.name) == sid
    journey = journey_since(recorder, mark)
    assert not any(f"{stack.issuer}/login" in step for step in journey), f"asked to log in again: {journey}"
    layout.append(sideways_scroll(page, "dossier home page"))

    page.goto(stack.issuer + "/account/sessions")
    expect(page.locator("main section.card")).to_have_count(1)
    layout.append(sideways_scroll(page, "MotID sessions page"))
    web.shot(page, "phone-motid-sessions")

    # Log out from the dossier system this time, with both logout channels working: the portal hears
    # of it through the front-channel frame (in this browser) and the back-channel (from the worker).
    page.goto(stack.dossier.url + "/")
    page.get_by_role("button", name=re.compile("^Đăng xuất")).tap()
    expect(page).to_have_url(re.compile(re.escape(stack.issuer) + r"/connect/logout\?"))
    expect(page.locator("h1")).to_have_text("Bạn đã đăng xuất")
    layout.append(sideways_scroll(page, "MotID logged-out page"))
    expect(page).to_have_url(re.compile(re.escape(stack.dossier.url) + r"/logged-out\?state="), timeout=10_000)
    expect(page.locator("h1")).to_have_text("Bạn đã đăng xuất khỏi MotID và ứng dụng này")
    layout.append(sideways_scroll(page, "dossier logged-out page"))
    wait_until_logged_out(page, stack.portal)
    deadline = time.monotonic() + 10
    channels = [rf"front-channel logout sid={re.escape(sid)}:", rf"back-channel logout sid={re.escape(sid)} "]
    while not all(re.search(pattern, stack.portal.log()) for pattern in channels):
        assert time.monotonic() < deadline, (f"the portal did not hear of the logout by both channels:\n"
                                             f"{stack.portal.log()[-2000:]}")
        time.sleep(0.2)
    assert not [e for e in recorder.http_errors if "/frontchannel-logout" in e["url"]], recorder.http_errors
    web.assert_clean()
    problems = [problem for problem in layout if problem]
    assert not problems, "\n".join(problems)
