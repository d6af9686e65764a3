"""Interoperability of the Device Authorization Grant (RFC 8628) with openid-client v6 (Node.js):
``initiateDeviceAuthorization`` and ``pollDeviceAuthorizationGrant`` (tests/interop/node/device.mjs) drive a
public kiosk against the live server while this test, as the person's phone, logs in on the verification
page over HTTP and approves."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin

import pytest
import requests

from tests.interop.conftest import FULL_NAME, HTTP_TIMEOUT, NODE_DIR, NODE_TIMEOUT, _idp, _post_forms

DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
SCOPE = "openid profile offline_access"
USER_CODE = re.compile(r"^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$")


@pytest.fixture(scope="module")
def kiosk(live_server):
    """A public kiosk registered through the CLI, allowed the device code grant."""
    out = _idp(live_server.env, "clients", "create", "--name", "Ki-ốt Trung tâm hành chính công", "--auth-method",
               "none", "--grant-type", DEVICE, "--grant-type", "refresh_token", "--scope", SCOPE)
    return re.search(r"^client_id: (\S+)", out, re.M).group(1)


def run_device(payload: dict) -> dict:
    """One step of tests/interop/node/device.mjs."""
    result = subprocess.run([shutil.which("node"), str(NODE_DIR / "device.mjs")], input=json.dumps(payload),
                            capture_output=True, text=True, timeout=NODE_TIMEOUT, cwd=NODE_DIR)
    try:
        output = json.loads(result.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise AssertionError(f"device.mjs {payload['step']}: no JSON output (exit {result.returncode})\n"
                             f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}") from None
    assert output.get("ok"), f"device.mjs {payload['step']} failed: {output}\n{result.stderr[-2000:]}"
    return output


def _form_fields(form: dict, **extra) -> list:
    return [(name, value) for name, value, kind in form["inputs"] if kind in ("hidden", "text")] + list(extra.items())


def approve_on_phone(live_server, uri_complete: str) -> str:
    """The person's part: open verification_uri_complete, log in, confirm the code, approve."""
    phone = requests.Session()
    page = phone.get(uri_complete, timeout=HTTP_TIMEOUT)
    assert page.url.startswith(live_server.issuer + "/login?"), page.url
    login = next(f for f in _post_forms(page.text) if any(n == "password" for n, _, _ in f["inputs"]))
    fields = [(n, v) for n, v, t in login["inputs"] if t == "hidden"]
    fields += [("identifier", live_server.identifier), ("password", live_server.password)]
    page = phone.post(urljoin(page.url, login["action"] or page.url), data=fields, timeout=HTTP_TIMEOUT)
    assert page.url == uri_complete, page.url  # back on the device page, the code filled in
    entry = _post_forms(page.text)[0]
    page = phone.post(urljoin(page.url, entry["action"]), data=_form_fields(entry), timeout=HTTP_TIMEOUT)
    assert page.status_code == 200 and "Ki-ốt Trung tâm hành chính công" in page.text, page.text[:1500]
    confirm = _post_forms(page.text)[0]
    assert ("decision", "allow") in confirm["buttons"]
    page = phone.post(urljoin(page.url, confirm["action"]), data=_form_fields(confirm, decision="allow"),
                      timeout=HTTP_TIMEOUT)
    assert page.status_code == 200, page.text[:1500]
    return page.text


def test_openid_client_device_authorization_grant(node_rp, live_server, kiosk):
    base = {"issuer": live_server.issuer, "client_id": kiosk}
    started = run_device({**base, "step": "start", "scope": SCOPE})
    response = started["response"]
    assert started["server"]["device_authorization_endpoint"] == live_server.issuer + "/device/authorize"
    assert DEVICE in started["server"]["grant_types_supported"]
    assert USER_CODE.match(response["user_code"]) and response["interval"] == 5
    assert response["verification_uri_complete"] == (f"{live_server.issuer}/device?user_code="
                                                     f"{response['user_code']}")

    with ThreadPoolExecutor(max_workers=1) as pool:
        polling = pool.submit(run_device, {**base, "step": "poll", "response": response})
        done = approve_on_phone(live_server, response["verification_uri_complete"])
        result = polling.result(timeout=NODE_TIMEOUT)

    assert "Đã kết nối thiết bị" in done
    claims = result["claims"]
    assert claims["iss"] == live_server.issuer and claims["sub"] == live_server.sub and claims["aud"] == kiosk
    assert claims["acr"] == "urn:motid:loa:1" and claims["amr"] == ["pwd"] and claims["sid"]
    assert result["token"]["has_refresh_token"] and set(result["token"]["scope"].split()) == set(SCOPE.split())
    assert result["userinfo"]["sub"] == live_server.sub and result["userinfo"]["name"] == FULL_NAME
    second = result["second_use"]
    assert second["failed"] and second.get("oauth_error") == "invalid_grant", second
