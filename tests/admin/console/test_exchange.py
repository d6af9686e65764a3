"""The console's section on an application's page: the services it may obtain tokens for (RFC 8693,
RFC 8707), allowed and removed by an administrator, read-only for the auditor; the grant type's box."""
from __future__ import annotations

import re

from tests.admin.console.test_clients import csrf
from tests.oidc.helpers import make_client

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
HOSO = "https://lgsp.camau.gov.vn/hoso"


def rule_csrf(b, page):
    html = b.get(page).get_data(as_text=True)
    return re.search(r'name="rule-csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def test_console_allows_and_removes_a_service(app, world, browser, runner):
    client_id, _ = make_client(app, grant_types=[GRANT], redirect_uris=[])
    b = browser("client_manager")
    page = f"/admin/clients/{client_id}"
    html = b.get(page).get_data(as_text=True)
    assert 'id="token-exchange"' in html and 'checked id="grant_token_exchange"' in html
    added = b.post(f"{page}/token-exchange", data={"rule-csrf_token": rule_csrf(b, page), "rule-audience": HOSO,
                                                    "rule-scope": "email profile"})
    assert added.status_code == 302 and added.headers["Location"].endswith(page)
    assert runner.invoke(args=["clients", "exchange-list", client_id]).output == f"{HOSO}\temail profile\n"
    html = b.get(page).get_data(as_text=True)
    assert f"<code>{HOSO}</code>" in html
    refused = b.post(f"{page}/token-exchange", data={"rule-csrf_token": rule_csrf(b, page), "rule-audience": "x",
                                                      "rule-scope": "bogus"})
    assert refused.status_code == 302
    assert "bogus" not in runner.invoke(args=["clients", "exchange-list", client_id]).output
    assert b.post(f"{page}/token-exchange", data={"rule-audience": "x", "rule-scope": "email"}).status_code == 400
    removed = b.post(f"{page}/token-exchange/remove", data={"csrf_token": csrf(b, page), "audience": HOSO})
    assert removed.status_code == 302
    assert runner.invoke(args=["clients", "exchange-list", client_id]).output == ""


def test_auditor_sees_the_table_without_buttons(app, world, browser, runner):
    client_id, _ = make_client(app, grant_types=[GRANT], redirect_uris=[])
    runner.invoke(args=["clients", "exchange-allow", client_id, HOSO, "--scope", "email"])
    b = browser("auditor")
    html = b.get(f"/admin/clients/{client_id}").get_data(as_text=True)
    assert f"<code>{HOSO}</code>" in html and "token-exchange/remove" not in html
    refused = b.post(f"/admin/clients/{client_id}/token-exchange/remove",
                     data={"csrf_token": csrf(b, f"/admin/clients/{client_id}"), "audience": HOSO})
    assert refused.status_code == 403
    assert runner.invoke(args=["clients", "exchange-list", client_id]).output == f"{HOSO}\temail\n"
