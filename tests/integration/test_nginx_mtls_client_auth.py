"""RFC 8705 §2 tls_client_auth through a real nginx (``ssl_verify_client optional_no_ca``) with Python
``requests`` presenting its certificate in the TLS handshake: the client registers, authenticates with the
certificate alone, and gets tokens bound to it; without the certificate it is refused."""
from __future__ import annotations

import requests

from tests.accounts.certificates.test_pki import pki  # noqa: F401  (fixture)
from tests.integration.test_nginx_client_certificate import stack  # noqa: F401  (fixture)


def test_tls_client_auth_through_nginx(stack, pki):  # noqa: F811
    subject = pki.certs["citizen"][0].subject.rfc4514_string()
    registered = requests.post(stack["base"] + "/connect/register", verify=stack["ca"], json={
        "client_name": "Trục liên thông (LGSP)", "grant_types": ["client_credentials"], "response_types": [],
        "redirect_uris": [], "token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_subject_dn": subject},
        headers={"Authorization": "Bearer " + stack["registration_token"]})
    assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]
    assert "client_secret" not in registered.json()
    form = {"grant_type": "client_credentials", "client_id": client_id, "scope": "profile"}
    tokens = requests.post(stack["base"] + "/token", verify=stack["ca"], data=form, cert=stack["client_cert"])
    assert tokens.status_code == 200, tokens.text
    info = requests.post(stack["base"] + "/introspect", verify=stack["ca"], cert=stack["client_cert"],
                         data={"token": tokens.json()["access_token"], "client_id": client_id}).json()
    assert info["active"] and info["client_id"] == client_id and info["cnf"] == {"x5t#S256": stack["thumbprint"]}
    refused = requests.post(stack["base"] + "/token", verify=stack["ca"], data=form)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert "access_token" not in refused.json()
