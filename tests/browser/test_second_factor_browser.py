"""The second factor in Chromium: enrolling an authenticator app (TOTP) from the security page, logging
in with a code and with a recovery code, and step-up: an application asking for a stronger login
(acr_values=urn:motid:loa:2) from a session that has only the password.

The step-up path is the real one of idp/oidc/authorize.py: a session at urn:motid:loa:1 whose person
HAS a second factor is sent to /login/second-factor (step_up) and keeps its sid; a person without one
gets ``unmet_authentication_requirements``. Such a session exists when the person logged in with the
password only and then enrolled from another device (enrolling raises only the session it is done from):
Lan logs in to the portal on her laptop, sets up the app on her phone, and the portal's sensitive action
on the laptop asks for a code, nothing else."""
from __future__ import annotations

import re

import pytest

from tests.browser.conftest import (VI, Authenticator, expect, motid_login, rp_expect_logged_in, rp_start_login,
                                    sideways_scroll)

pytestmark = pytest.mark.browser

LOA1, LOA2 = "urn:motid:loa:1", "urn:motid:loa:2"
SENSITIVE = re.compile("^Thao tác nhạy cảm")


def enrol_totp(web, page, stack, *, shot: str | None = None) -> tuple[Authenticator, list[str]]:
    """On MotID's enrolment page: read the key, type the app's code; returns the app and the recovery codes."""
    expect(page).to_have_url(stack.issuer + "/account/security/totp")
    expect(page.locator("h1")).to_have_text("Thiết lập ứng dụng xác thực")
    expect(page.locator(".qr svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
    if shot:
        web.shot(page, shot, doc="totp-enrolment")
    app = Authenticator(secret)
    page.get_by_label("Mã 6 chữ số ứng dụng đang hiển thị").fill(app.code())
    page.get_by_role("button", name="Bật yếu tố xác thực thứ hai").click()
    expect(page.locator("h1")).to_have_text("Mã khôi phục của bạn")
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and len(set(codes)) == 10, codes
    return app, codes


def log_out_of_motid(page, stack) -> None:
    page.goto(stack.issuer + "/account")
    page.get_by_role("button", name="Đăng xuất", exact=True).click()
    expect(page.locator("h1")).to_have_text("Bạn đã đăng xuất")


def second_factor(page, stack, code: str) -> None:
    expect(page).to_have_url(re.compile(re.escape(stack.issuer) + r"/login/second-factor(\?|$)"))
    expect(page.locator("h1")).to_have_text(VI["second_factor"])
    page.get_by_label(VI["code"]).fill(code)
    page.get_by_role("button", name=VI["continue"]).click()


def test_enrol_totp_then_log_in_with_a_code_and_with_a_recovery_code(web, stack):
    hoa = stack.citizens["hoa"]
    page = web.page("desktop")

    page.goto(stack.issuer + "/account")
    motid_login(page, stack, hoa.email)
    expect(page).to_have_url(stack.issuer + "/account")
    expect(page.locator("h1")).to_have_text("Xin chào, " + hoa.name)
    page.get_by_role("link", name="Bảo mật").click()
    page.get_by_role("link", name="Thiết lập ứng dụng xác thực").click()
    app, codes = enrol_totp(web, page, stack, shot="totp-enrolment")
    (web.folder / "recovery-codes.txt").write_text("\n".join(codes) + "\n", encoding="utf-8")  # kept, as asked
    web.shot(page, "recovery-codes")
    page.get_by_role("link", name="Tôi đã lưu các mã này").click()
    expect(page).to_have_url(stack.issuer + "/account")
    log_out_of_motid(page, stack)

    # The password alone is no longer enough: MotID asks for the code.
    page.goto(stack.issuer + "/login")
    motid_login(page, stack, hoa.email)
    expect(page).to_have_url(stack.issuer + "/login/second-factor")
    expect(page.get_by_label(VI["code"])).to_have_attribute("autocomplete", "one-time-code")
    web.shot(page, "second-factor")
    wrong = app.totp.at(0)      # the code of 1970: never valid now
    second_factor(page, stack, wrong)
    expect(page.locator(".error")).to_have_text("Mã này không đúng hoặc đã được dùng.")
    second_factor(page, stack, app.code())
    expect(page).to_have_url(stack.issuer + "/account")
    expect(page.locator("h1")).to_have_text("Xin chào, " + hoa.name)
    log_out_of_motid(page, stack)

    # A recovery code instead of the app; the person is told by email.
    received = len(stack.mailbox.messages)
    page.goto(stack.issuer + "/login")
    motid_login(page, stack, hoa.citizen_id)
    second_factor(page, stack, codes[0])
    expect(page).to_have_url(stack.issuer + "/account")
    stack.mailbox.wait_for(hoa.email, subject="Mã khôi phục của tài khoản MotID đã được sử dụng", after=received)
    page.get_by_role("link", name="Bảo mật").click()
    expect(page.locator("main")).to_contain_text("Số mã khôi phục còn lại: 9")
    log_out_of_motid(page, stack)
    web.assert_clean()


def test_step_up_asks_only_for_the_second_factor_and_keeps_the_session(web, stack):
    lan = stack.citizens["lan"]
    laptop = web.page("laptop")
    recorder = web.recorder(laptop)

    # On the laptop: the portal, with the password only (Lan has no second factor yet).
    rp_start_login(laptop, stack.portal)
    motid_login(laptop, stack, lan.citizen_id)
    sid = rp_expect_logged_in(laptop, stack.portal, lan.name)
    expect(laptop.locator("#acr")).to_have_text(LOA1)
    # The sensitive action cannot get level 2 for her yet: MotID says so, the session stays as it was.
    laptop.get_by_role("button", name=SENSITIVE).click()
    expect(laptop.locator("h1")).to_have_text("Thao tác này cần xác thực hai yếu tố")
    expect(laptop.locator(".detail")).to_contain_text("unmet_authentication_requirements")
    laptop.goto(stack.portal.url + "/")
    expect(laptop.locator("#sid")).to_have_text(sid)
    expect(laptop.locator("#acr")).to_have_text(LOA1)

    # On her phone: she logs in to MotID and sets up the authenticator app.
    phone = web.page("phone", phone=True)
    phone.goto(stack.issuer + "/account/security/totp")
    motid_login(phone, stack, lan.email)
    layout = [sideways_scroll(phone, "MotID enrolment page")]
    app, _codes = enrol_totp(web, phone, stack)
    layout.append(sideways_scroll(phone, "MotID recovery codes page"))
    phone.get_by_role("link", name="Tôi đã lưu các mã này").tap()
    expect(phone).to_have_url(stack.issuer + "/account")

    # Back on the laptop: the sensitive action now asks for the code only (no password), same session.
    mark = len(recorder.documents)
    laptop.get_by_role("button", name=SENSITIVE).click()
    expect(laptop).to_have_url(re.compile(re.escape(stack.issuer) + r"/login/second-factor\?next=(/|%2F)authorize"))
    expect(laptop.locator("main")).to_contain_text("Dịch vụ này cần đăng nhập ở mức bảo mật cao hơn.")
    web.shot(laptop, "step-up-second-factor", doc="step-up")
    second_factor(laptop, stack, app.code())
    expect(laptop).to_have_url(stack.portal.url + "/")
    expect(laptop.locator("#acr")).to_have_text(LOA2)
    expect(laptop.locator("#sid")).to_have_text(sid)
    expect(laptop.locator("#sensitive-result")).to_contain_text(LOA2)
    expect(laptop.locator("#sensitive-result")).to_contain_text("vẫn trong phiên MotID cũ")
    amr = laptop.locator("tr", has=laptop.locator("th", has_text=re.compile("^amr$"))).locator("td")
    expect(amr).to_have_text('["pwd", "otp", "mfa"]')
    journey = recorder.documents[mark:]
    assert any(step.startswith(f"GET {stack.issuer}/authorize?") and "acr_values=urn%3Amotid%3Aloa%3A2" in step
               for step in journey), journey
    assert not any(f"{stack.issuer}/login?" in step for step in journey), f"asked for the password: {journey}"
    web.shot(laptop, "portal-after-step-up")

    # Still two MotID sessions (laptop and phone): the step-up raised the laptop's, it made no new one.
    laptop.goto(stack.issuer + "/account/sessions")
    expect(laptop.locator("main section.card")).to_have_count(2)

    # On the phone, enrolling raised that session to level 2 already: the dossier system's sensitive
    # action goes through without any question.
    rp_start_login(phone, stack.dossier, tap=True)
    phone_sid = rp_expect_logged_in(phone, stack.dossier, lan.name)
    assert phone_sid != sid
    expect(phone.locator("#acr")).to_have_text(LOA2)
    phone_recorder = web.recorder(phone)
    mark = len(phone_recorder.documents)
    phone.get_by_role("button", name=SENSITIVE).tap()
    expect(phone.locator("#sensitive-result")).to_contain_text(LOA2)
    expect(phone.locator("#sid")).to_have_text(phone_sid)
    assert not any("/login" in step.split("?")[0] for step in phone_recorder.documents[mark:]), \
        phone_recorder.documents[mark:]
    # The portal answers the refused sensitive action with 403, on purpose; nothing else may fail.
    web.assert_clean(allow=(r"/callback\?error=unmet_authentication_requirements\S* .*status of 403",))
    problems = [problem for problem in layout if problem]
    assert not problems, "\n".join(problems)
