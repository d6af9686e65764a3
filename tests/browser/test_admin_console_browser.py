"""The administration console in Chromium, end to end.

An administrator (account, unit and the ``idp.admin`` role made with the ``idp`` CLI on the live server's
database) logs in with the password, is led through setting up the authenticator app (administrators must
have a second factor; the console needs assurance level 2), creates a global role, creates an officer in a
commune with an initial password, and gives the officer the role, all through the console's forms.

The officer then logs in to a demo application and is led through enrolling an authenticator app at the
first login; the application's page shows the ``roles`` claim with the role.

The two demo applications of the stack ask for ``openid profile email phone`` only (examples/rp_app.py's
SCOPE, without an option to change it), so this test registers a third instance of examples/rp_app.py
whose client is allowed the restricted ``officer`` scope and which asks for it (SCOPE set before it starts).
"""
from __future__ import annotations

import json
import re
import sys

import pytest

from tests.browser.conftest import (HOST, ROOT, Authenticator, Processes, RelyingParty, _client_credentials,
                                    _idp_batch, _load_demo, _wait_until_up, expect, motid_login,
                                    rp_expect_logged_in, rp_start_login)
from tests.conftest import PASSWORD, free_port

pytestmark = pytest.mark.browser

ADMIN = {"citizen_id": "096185000790", "name": "Trần Văn Quản", "email": "quantri@camau.gov.vn"}
OFFICER = {"citizen_id": "096190000666", "name": "Võ Thị Cán", "email": "can.anphu@camau.gov.vn",
           "position": "Công chức tư pháp - hộ tịch"}
UNITS_CSV = ("code,code_list,name,kind,parent_code\n"
             "96,QĐ19/2025,Tỉnh Cà Mau,province,\n"
             "31234,QĐ19/2025,Xã An Phú,commune,96\n")
ROLE = {"code": "ho_tich.tiep_nhan", "name": "Tiếp nhận hồ sơ hộ tịch"}
OFFICER_SCOPE = "openid profile email phone officer"
RP_WRAPPER = ("import sys; sys.path.insert(0, {examples!r}); import rp_app; rp_app.SCOPE = {scope!r}; "
              "rp_app.main()")


def enrol_at_login(web, page, stack, *, shot: str) -> Authenticator:
    """MotID's enrolment page, shown after the password to someone who must have a second factor."""
    expect(page).to_have_url(re.compile(re.escape(stack.issuer) + r"/account/security/totp(\?|$)"))
    expect(page.locator("h1")).to_have_text("Thiết lập ứng dụng xác thực")
    secret = page.locator("#totp-secret").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
    web.shot(page, shot)
    app = Authenticator(secret)
    page.get_by_label("Mã 6 chữ số ứng dụng đang hiển thị").fill(app.code())
    page.get_by_role("button", name="Bật yếu tố xác thực thứ hai").click()
    expect(page.locator("h1")).to_have_text("Mã khôi phục của bạn")
    assert len(page.locator("#recovery-codes code").all_inner_texts()) == 10
    page.get_by_role("link", name="Tôi đã lưu các mã này").click()
    return app


@pytest.fixture
def officer_app(stack, tmp_path):
    """A third demo application (examples/rp_app.py) allowed and asking for the ``officer`` scope."""
    demo = _load_demo()
    app = {**demo.APPS[0], "key": "officer_portal", "title": "Cổng cán bộ (thử nghiệm)",
           "title_en": "Officers' portal (test)", "port": free_port()}
    metadata = {**demo.metadata(app), "scope": OFFICER_SCOPE}
    metadata_file = tmp_path / "officer_portal.json"
    metadata_file.write_text(json.dumps(metadata, ensure_ascii=False), encoding="utf-8")
    (out,) = _idp_batch(stack.env, [(["clients", "create", "--json", str(metadata_file), "--first-party"], None)])
    client_id, client_secret = _client_credentials(out)
    url = f"http://{HOST}:{app['port']}"
    env = {**stack.env, "RP_CLIENT_ID": client_id, "RP_CLIENT_SECRET": client_secret, "RP_ISSUER": stack.issuer,
           "RP_HOST": HOST, "RP_PORT": str(app["port"]), "RP_NAME": app["key"], "RP_TITLE": app["title"],
           "RP_TITLE_EN": app["title_en"], "RP_COLOUR": app["colour"], "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path / "officer_portal.log"
    processes = Processes()
    try:
        processes.start(app["key"], [sys.executable, "-c", RP_WRAPPER.format(examples=str(ROOT / "examples"),
                                                                            scope=OFFICER_SCOPE)], env, log_path)
        _wait_until_up(processes, [(app["key"], url + "/healthz", log_path)])
        yield RelyingParty(key=app["key"], title=app["title"], url=url, client_id=client_id, log_path=log_path)
    finally:
        processes.stop()


def test_admin_creates_an_officer_gives_a_role_and_the_application_sees_it(web, stack, officer_app, tmp_path):
    units_file = tmp_path / "units.csv"
    units_file.write_text(UNITS_CSV, encoding="utf-8")
    _idp_batch(stack.env, [
        (["units", "import", str(units_file)], None),
        (["accounts", "create", "--kind", "admin", "--citizen-id", ADMIN["citizen_id"], "--name", ADMIN["name"],
          "--email", ADMIN["email"], "--password-stdin"], PASSWORD + "\n"),
        (["admin", "grant", ADMIN["citizen_id"], "idp.admin", "--unit", "96"], None),
    ])

    # The administrator: password, then (first login) the authenticator app, then the console.
    page = web.page("admin")
    page.goto(stack.issuer + "/admin/")
    motid_login(page, stack, ADMIN["citizen_id"])
    enrol_at_login(web, page, stack, shot="admin-totp-enrolment")
    page.goto(stack.issuer + "/admin/")
    expect(page).to_have_url(stack.issuer + "/admin/")
    web.shot(page, "admin-home")

    # A global role, through the console's roles page.
    page.goto(stack.issuer + "/admin/roles")
    page.locator("#code").fill(ROLE["code"])
    page.locator("#name").fill(ROLE["name"])
    page.locator("#code").locator("xpath=ancestor::form").locator("button[type=submit]").click()
    expect(page).to_have_url(stack.issuer + "/admin/roles")
    expect(page.locator("table.data")).to_contain_text(ROLE["code"])
    web.shot(page, "admin-roles")

    # The officer, in Xã An Phú, with an initial password.
    page.goto(stack.issuer + "/admin/accounts/new")
    page.locator("#full_name").fill(OFFICER["name"])
    page.locator("#unit_id").select_option(label="31234 — Xã An Phú")
    page.locator("#position").fill(OFFICER["position"])
    page.locator("#citizen_id").fill(OFFICER["citizen_id"])
    page.locator("#email").fill(OFFICER["email"])
    page.locator("#password").fill(PASSWORD)
    web.shot(page, "admin-new-officer")
    page.locator("#full_name").locator("xpath=ancestor::form").locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(re.escape(stack.issuer) + r"/admin/accounts/[^/?]+$"))
    expect(page.locator("h1")).to_contain_text(OFFICER["name"])
    expect(page.locator("dl.facts")).to_contain_text("Xã An Phú")
    officer_url = page.url

    # The role, in the officer's unit.
    grant = page.locator("form[action$='/roles']")
    grant.locator("#role").select_option(value=ROLE["code"])
    expect(grant.locator("#unit_id option:checked")).to_contain_text("31234")
    grant.locator("button[type=submit]").click()
    expect(page).to_have_url(officer_url)
    expect(page.locator("section.card", has=page.locator("form[action$='/roles']")).locator("ul")) \
        .to_contain_text(ROLE["code"])
    web.shot(page, "admin-officer-with-role")

    # The officer, in another browser: the application, MotID's password, the app set up at the first login.
    officer = web.page("officer")
    rp_start_login(officer, officer_app)
    motid_login(officer, stack, OFFICER["citizen_id"])
    enrol_at_login(web, officer, stack, shot="officer-totp-enrolment")
    rp_expect_logged_in(officer, officer_app, OFFICER["name"])
    roles_row = officer.locator("tr", has=officer.locator("th", has_text=re.compile("^roles$"))).first
    expect(roles_row.locator("td")).to_contain_text(ROLE["code"])
    expect(officer.locator("#acr")).to_have_text("urn:motid:loa:2")
    web.shot(officer, "officer-portal-roles")
    web.assert_clean()
