"""A kiosk at the one-stop centre (examples/kiosk_app.py, RFC 8628) and a citizen's phone, in Chromium: the
kiosk shows a QR code and a user code; the phone opens the verification page, logs in to MotID, checks
the kiosk's name and approves; the kiosk greets the citizen by the name in the ID token."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
import requests

from tests.browser.conftest import ROOT, expect, motid_login, sideways_scroll
from tests.conftest import free_port

pytestmark = pytest.mark.browser

DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
KIOSK_NAME = "Ki-ốt Trung tâm Phục vụ hành chính công"
START_TIMEOUT = 30
KIOSK_POLL_MS = 30_000   # the kiosk polls every 5 seconds: allow a few rounds


@pytest.fixture(scope="module")
def kiosk(stack, tmp_path_factory):
    """examples/kiosk_app.py, live, as a public client registered through the CLI."""
    out = stack.idp("clients", "create", "--name", KIOSK_NAME, "--auth-method", "none", "--grant-type", DEVICE,
                    "--scope", "openid profile")
    client_id = re.search(r"^client_id: (\S+)", out, re.M).group(1)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("kiosk") / "kiosk.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, str(ROOT / "examples" / "kiosk_app.py"), "--client-id", client_id,
                                    "--issuer", stack.issuer, "--port", str(port)], stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if requests.get(url + "/", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text(errors="replace")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_kiosk_shows_a_code_the_phone_approves_and_the_kiosk_completes(web, stack, kiosk):
    citizen = stack.citizens["tuan"]  # his own: the single sign-on test counts mai's sessions
    screen = web.page("kiosk")
    screen.goto(kiosk + "/")
    screen.get_by_role("button", name=re.compile("^Bắt đầu")).click()
    user_code = screen.locator("#user-code")
    expect(user_code).to_have_text(re.compile(r"^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$"))
    expect(screen.locator("#qr svg")).to_be_visible()
    expect(screen.locator("#verification-uri")).to_have_text(stack.issuer + "/device")
    code = user_code.inner_text()
    web.shot(screen, "kiosk-code")

    # The phone scans the QR code: verification_uri_complete, which needs a MotID login first.
    phone = web.page("phone", phone=True)
    phone.goto(f"{stack.issuer}/device?user_code={code}")
    motid_login(phone, stack, citizen.citizen_id, citizen.password)
    expect(phone).to_have_url(f"{stack.issuer}/device?user_code={code}")
    expect(phone.locator("h1")).to_have_text("Kết nối thiết bị")
    expect(phone.get_by_label("Mã trên màn hình (8 chữ cái)")).to_have_value(code)
    assert sideways_scroll(phone, "device page") is None
    phone.get_by_role("button", name="Tiếp tục").click()
    expect(phone.locator("h1")).to_have_text(f"{KIOSK_NAME} yêu cầu dùng tài khoản của bạn")
    expect(phone.locator("main")).to_contain_text(code)
    assert sideways_scroll(phone, "confirm page") is None
    web.shot(phone, "phone-confirm")
    phone.get_by_role("button", name="Đồng ý").click()
    expect(phone.locator("h1")).to_have_text("Đã kết nối thiết bị")

    # The kiosk's next poll gets the tokens; it greets the citizen by the ID token's name.
    expect(screen.locator("#done")).to_contain_text(f"Xin chào, {citizen.name}", timeout=KIOSK_POLL_MS)
    web.shot(screen, "kiosk-done")
    web.assert_clean()
