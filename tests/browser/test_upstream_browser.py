"""Log in with VNeID in Chromium on a 360 px phone, as a citizen lives it: the provincial portal sends the
browser to MotID, the person taps "Đăng nhập bằng VNeID", confirms at the national e-ID (the node
oidc-provider of tests/accounts/upstream, speaking the VNeID profile, with a one-button login page) and
lands in the portal logged in; logging out of the portal ends the session at VNeID too (its
end_session_endpoint) and comes back to the portal. The upstream is registered with ``idp upstreams add``."""
from __future__ import annotations

import re

import pytest

from tests.accounts.upstream.conftest import CLIENT_ID, CLIENT_SECRET, op_client, running_op
from tests.browser.conftest import expect, rp_expect_logged_in, rp_start_login, sideways_scroll

pytestmark = [pytest.mark.browser, pytest.mark.interop]

# A citizen known only to VNeID (level 2): MotID opens the account at the first login.
MINH = {"SoDinhDanh": "001099012345", "HoVaTen": "Đỗ Văn Minh", "NgayThangNamSinh": "19990412",
        "GioiTinh": "Nam", "preferred_username": "001099012345"}


@pytest.fixture(scope="module")
def vneid(tmp_path_factory, stack):
    """The national e-ID stand-in, with MotID (the live stack) as its client, registered in MotID."""
    for op in running_op(tmp_path_factory.mktemp("vneid"), op_client(stack.issuer), {"minh": MINH}):
        stack.idp("upstreams", "add", "vneid", "--issuer", op.issuer, "--client-id", CLIENT_ID,
                  "--client-secret-stdin", "--profile", "vneid", "--acr-values", "2", stdin=CLIENT_SECRET)
        try:
            yield op
        finally:
            stack.idp("upstreams", "remove", "vneid")  # the other browser tests see no VNeID button


def test_log_in_with_vneid_on_a_phone_then_log_out_there_too(web, stack, vneid):
    page = web.page("phone", phone=True)
    recorder = web.recorder(page)

    # 1. The portal sends the browser to MotID's login page: VNeID first, most prominent.
    rp_start_login(page, stack.portal, tap=True)
    expect(page).to_have_url(re.compile(re.escape(stack.issuer) + r"/login\?"))
    button = page.get_by_role("link", name="Đăng nhập bằng VNeID")
    expect(button).to_be_visible()
    assert sideways_scroll(page, "MotID login with VNeID") is None
    web.shot(page, "motid-login-vneid")
    button.tap()

    # 2. At VNeID (its interaction page), the person confirms.
    expect(page).to_have_url(re.compile(re.escape(vneid.issuer) + r"/interaction/"))
    page.get_by_label("Tài khoản").fill("minh")
    web.shot(page, "vneid-login")
    page.get_by_role("button", name="Xác nhận đăng nhập").tap()

    # 3. Back through MotID (account opened just in time) to the portal, logged in at level 2.
    rp_expect_logged_in(page, stack.portal, MINH["HoVaTen"])
    expect(page.locator("#acr")).to_have_text("urn:motid:loa:2")
    assert sideways_scroll(page, "portal home after VNeID") is None
    web.shot(page, "portal-home-vneid", full_page=False)

    # 4. Logging out of the portal: MotID's logged-out page, then VNeID's end-session endpoint (the
    #    person confirms there), then back to the portal's post_logout_redirect_uri with its state.
    mark = len(recorder.documents)
    page.get_by_role("button", name=re.compile("^Đăng xuất")).tap()
    expect(page).to_have_url(re.compile(re.escape(vneid.issuer) + r"/session/end"), timeout=10_000)
    web.shot(page, "vneid-logout")
    page.get_by_role("button", name=re.compile("Yes")).tap()
    expect(page).to_have_url(re.compile(re.escape(stack.portal.url) + r"/logged-out\?state="), timeout=10_000)
    journey = recorder.documents[mark:]
    assert any(step.startswith(f"GET {vneid.issuer}/session/end?") for step in journey), journey
    assert any(f"{stack.issuer}/login/upstream/vneid/logged-out?" in step for step in journey), journey
    web.shot(page, "portal-logged-out")
    page.goto(stack.issuer + "/account")
    expect(page).to_have_url(re.compile(re.escape(stack.issuer) + r"/login\?"))
