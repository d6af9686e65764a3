"""DPoP (RFC 9449) with openid-client v6 (``client.getDPoPHandle``) against the live server: the code
exchanged with a proof, UserInfo with the DPoP scheme, a public client's refresh with the same key; a
refresh and a UserInfo call with another key, and the token used as a Bearer token, refused."""
from __future__ import annotations

import json
import shutil
import subprocess

from joserfc import jwk

from tests.interop.conftest import NODE_DIR, NODE_TIMEOUT
from tests.interop.test_openid_client import _callback, _start


def run_dpop_script(payload: dict) -> dict:
    result = subprocess.run([shutil.which("node"), str(NODE_DIR / "dpop.mjs")], input=json.dumps(payload),
                            capture_output=True, text=True, timeout=NODE_TIMEOUT, cwd=NODE_DIR)
    lines = result.stdout.strip().splitlines()
    assert lines, f"dpop.mjs printed nothing (exit {result.returncode}):\n{result.stderr[-2000:]}"
    output = json.loads(lines[-1])
    assert output.get("ok"), f"dpop.mjs failed: {json.dumps(output, indent=2)}\n{result.stderr[-2000:]}"
    return output


def test_openid_client_dpop_code_flow_userinfo_and_refresh(node_rp, live_server, browser_login):
    client = live_server.clients["node_public"]
    payload, started = _start(node_rp, live_server, client)
    assert "ES256" in started["server"]["dpop_signing_alg_values_supported"]
    callback = _callback(browser_login, live_server, client, started)

    result = run_dpop_script({**payload, "callback_url": callback, "code_verifier": started["code_verifier"],
                              "state": started["state"], "nonce": started["nonce"]})

    jkt = jwk.import_key(result["public_jwk"]).thumbprint()
    assert result["token"]["token_type"].lower() == "dpop" and result["token"]["cnf"] == {"jkt": jkt}
    assert result["userinfo"]["sub"] == live_server.sub
    assert result["refresh"]["token_type"].lower() == "dpop" and result["refresh"]["cnf"] == {"jkt": jkt}
    assert result["userinfo_after_refresh"]["sub"] == live_server.sub
    stolen = result["refresh_with_another_key"]
    assert stolen["failed"] and stolen.get("oauth_error") == "invalid_grant", stolen
    for name in ("userinfo_with_another_key", "userinfo_as_bearer"):
        refused = result[name]
        assert refused["failed"] and refused.get("status") == 401, (name, refused)
        assert refused["www_authenticate"].startswith("DPoP ") and 'error="invalid_token"' in \
            refused["www_authenticate"], (name, refused)
