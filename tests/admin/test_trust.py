"""Trusted certification authorities in the console, the API and ``idp trust``: what an administrator
sees, that an uploaded anchor counts for the very next validation (and stops counting when removed),
bad files refused with a reason and nothing changed, and who may not."""
from __future__ import annotations

import io
import os
import re

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from sqlalchemy import select

from idp.accounts.certificates.validation import CertificateRejected
from idp.db import db
from idp.events import AuditEvent
from tests.accounts.certificates.test_pki import T0, pem, pki  # noqa: F401  (the session's test PKI)
from tests.conftest import CSRF_RE

API = "/admin/api/v1"


def der(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def fingerprint(cert) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def english(b):
    b.set_cookie("motid_lang", "en")
    return b


def csrf(b, page="/admin/trust") -> str:
    return CSRF_RE.search(b.get(page).get_data(as_text=True)).group(1)


def any_csrf(b) -> str:
    """A valid token for this browser from a page anyone logged in sees (the token is per session)."""
    return csrf(b, "/logout")


def upload(b, data: bytes, name: str, path="/admin/trust", token=None):
    return b.post(path, data={"csrf_token": token or csrf(b), "file": (io.BytesIO(data), name)},
                  content_type="multipart/form-data")


def trust_files(app) -> list[str]:
    """What is stored: the names of the trusted CAs and CRLs, as every node reads them from the database."""
    from idp.accounts.certificates.models import TrustedCertificate, TrustedCrl
    with app.app_context():
        return sorted(list(db.session.scalars(select(TrustedCertificate.name)))
                      + [key[:16] + ".crl" for key in db.session.scalars(select(TrustedCrl.issuer_key))])


def validates(app, pki, label="citizen", now=T0):
    """Whether a holder's certificate (sent with its issuing CA) validates now, as a login would check it."""
    cert, _ = pki.certs[label]
    with app.app_context():
        try:
            return app.extensions["idp.certificates"].validator.validate(cert, [pki.inter.cert], now)
        except CertificateRejected as exc:
            assert exc.code == "untrusted", exc.code
            return None


def events(app, prefix="admin:trust:"):
    with app.app_context():
        return [(e.tag, e.actor_id, e.details) for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
                if e.tag.startswith(prefix)]


# -- the console ------------------------------------------------------------------------------------------
def test_province_admin_adds_lists_and_removes_an_anchor(app, world, browser, pki):
    b = english(browser("province"))
    page = b.get("/admin/trust").get_data(as_text=True)
    assert "No certification authority is trusted" in page and 'href="/admin/trust"' in page
    assert validates(app, pki) is None

    added = upload(b, der(pki.root.cert), "Root CA 2026.cer")  # DER, as the national root is published
    assert added.status_code == 302 and added.headers["Location"] == "/admin/trust"
    page = b.get("/admin/trust").get_data(as_text=True)
    assert "Trusted from now on: CN=MotID Test National Root CA" in page
    root_fp = fingerprint(pki.root.cert)
    row = page[page.index(root_fp) - 2000:page.index(root_fp) + 300]
    assert ">root<" in row and format(pki.root.cert.serial_number, "x") in row
    assert "CN=MotID Test National Root CA,O=Bộ Khoa học và Công nghệ (thử nghiệm)" in row
    assert pki.root.cert.not_valid_after_utc.strftime("%Y-%m-%d") in row
    assert f"Root-CA-2026-{root_fp[:16]}.pem" in row
    assert trust_files(app) == [f"Root-CA-2026-{root_fp[:16]}.pem"]
    # The validator sees the new anchor at once: no restart, no reload.
    assert validates(app, pki).chain[-1] == pki.root.cert

    # One PEM file with two CAs: the issuing CA (an intermediate) and another root.
    chain = (pem(pki.inter.cert) + pem(pki.other_root.cert)).encode()
    assert upload(b, chain, "bundle.pem").status_code == 302
    page = b.get("/admin/trust").get_data(as_text=True)
    assert page.count(">root<") == 2 and page.count(">intermediate<") == 1
    assert "CN=MotID Test Issuing CA" in page and "CN=Untrusted Root CA" in page

    confirm = b.get(f"/admin/trust/{root_fp}/remove").get_data(as_text=True)
    assert root_fp in confirm and "can no longer log in" in confirm
    token = CSRF_RE.search(confirm).group(1)
    removed = b.post(f"/admin/trust/{root_fp}/remove", data={"csrf_token": token})
    assert removed.status_code == 302
    page = b.get("/admin/trust").get_data(as_text=True)
    assert "is no longer trusted" in page and root_fp not in page
    # The issuing CA is still listed, but with its root gone nothing chains any more.
    assert validates(app, pki) is None

    province = world.people["province"]["id"]
    recorded = events(app)
    assert [(tag, actor) for tag, actor, _ in recorded] == [("admin:trust:add", province)] * 3 + [
        ("admin:trust:remove", province)]
    assert recorded[0][2]["fingerprint"] == root_fp and recorded[0][2]["kind"] == "anchor"
    assert recorded[-1][2]["subject"].startswith("CN=MotID Test National Root CA")


def test_a_crl_upload_is_used_at_once(app, world, browser, pki):
    b = english(browser("province"))
    assert upload(b, der(pki.root.cert), "root.cer").status_code == 302
    crl = pki.inter.crl().public_bytes(serialization.Encoding.PEM)
    added = upload(b, crl, "inter.crl", path="/admin/trust/crl")
    assert added.status_code == 302
    page = b.get("/admin/trust").get_data(as_text=True)
    assert "The revocation list of CN=MotID Test Issuing CA" in page
    assert re.search(r"<td>1</td><td><code>[0-9a-f]{16}\.crl</code>", page)  # one revoked certificate listed
    valid = validates(app, pki)
    assert valid.revocation[0] == "crl:local"  # the leaf's status came from the uploaded list
    with app.app_context(), pytest.raises(CertificateRejected) as info:
        cert, _ = pki.certs["revoked_crl"]
        app.extensions["idp.certificates"].validator.validate(cert, [pki.inter.cert], T0)
    assert info.value.code == "revoked"
    assert events(app)[-1][0] == "admin:trust:add_crl" and events(app)[-1][2]["revoked"] == 1


BAD_FILES = {
    "garbage": (b"\x00\x01 this is not a certificate", "trust.cer", "is not an X.509 certificate"),
    "empty": (b"", "empty.cer", "is not an X.509 certificate"),
    "truncated_der": (None, "cut.cer", "is not an X.509 certificate"),
    "truncated_pem": (None, "cut.pem", "is not an X.509 certificate"),
    "end_entity": (None, "person.pem", "is not a certification authority"),
    "end_entity_in_a_bundle": (None, "bundle.pem", "is not a certification authority"),
    "duplicate": (None, "again.pem", "is trusted already"),
    "a_crl_as_a_certificate": (None, "list.crl", "is not an X.509 certificate"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_are_refused_with_a_reason_and_change_nothing(app, world, browser, pki, case):
    b = english(browser("province"))
    assert upload(b, der(pki.root.cert), "root.cer").status_code == 302
    before = trust_files(app)
    data, name, reason = BAD_FILES[case]
    if data is None:
        data = {"truncated_der": der(pki.other_root.cert)[:300],
                "truncated_pem": pem(pki.other_root.cert)[:400].encode() + b"\n-----END CERTIFICATE-----\n",
                "end_entity": pem(pki.certs["citizen"][0]).encode(),
                "end_entity_in_a_bundle": (pem(pki.other_root.cert) + pem(pki.certs["citizen"][0])).encode(),
                "duplicate": pem(pki.root.cert).encode(),
                "a_crl_as_a_certificate": pki.inter.crl().public_bytes(serialization.Encoding.DER)}[case]
    response = upload(b, data, name)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and reason in page and "Nothing was changed." in page
    assert trust_files(app) == before
    assert events(app, "admin:request:refuse")[-1][2]["action"] == "trust.add"


def test_oversized_and_missing_files(app, world, browser, pki):
    b = english(browser("province"))
    too_big = upload(b, b"-----BEGIN CERTIFICATE-----\n" + b"A" * (1024 * 1024 + 10), "big.pem")
    assert too_big.status_code == 413 and "too large" in too_big.get_data(as_text=True)
    none = b.post("/admin/trust", data={"csrf_token": csrf(b)}, content_type="multipart/form-data")
    assert none.status_code == 422 and "Choose a file." in none.get_data(as_text=True)
    garbage_crl = upload(b, b"not a list", "x.crl", path="/admin/trust/crl")
    assert garbage_crl.status_code == 422 and "is not a certificate revocation list" in garbage_crl.get_data(
        as_text=True)
    assert trust_files(app) == []


def test_removing_an_unknown_fingerprint_is_not_found(app, world, browser):
    b = english(browser("province"))
    assert b.get(f"/admin/trust/{'ab' * 32}/remove").status_code == 404
    assert b.post(f"/admin/trust/{'ab' * 32}/remove", data={"csrf_token": csrf(b)}).status_code == 404


# -- the attacker's side ------------------------------------------------------------------------------------
@pytest.mark.parametrize("label", ["an_phu_officer", "an_phu_admin", "client_manager"])
def test_others_cannot_see_or_change_the_trust_store(app, world, browser, pki, label):
    b = browser(label)
    token = any_csrf(b)
    assert b.get("/admin/trust").status_code == 403
    assert "/admin/trust" not in b.get("/admin/").get_data(as_text=True)
    assert upload(b, der(pki.root.cert), "root.cer", token=token).status_code == 403
    assert upload(b, pki.inter.crl().public_bytes(serialization.Encoding.DER), "x.crl", path="/admin/trust/crl",
                  token=token).status_code == 403
    assert trust_files(app) == [] and events(app) == []


def test_auditor_reads_but_cannot_change(app, world, browser, pki):
    admin = english(browser("province"))
    assert upload(admin, der(pki.root.cert), "root.cer").status_code == 302
    b = english(browser("auditor"))
    page = b.get("/admin/trust").get_data(as_text=True)
    assert fingerprint(pki.root.cert) in page and "Add a certification authority" not in page and "/remove" not in page
    token = any_csrf(b)
    assert upload(b, der(pki.other_root.cert), "other.cer", token=token).status_code == 403
    fp = fingerprint(pki.root.cert)
    assert b.get(f"/admin/trust/{fp}/remove").status_code == 403
    assert b.post(f"/admin/trust/{fp}/remove", data={"csrf_token": token}).status_code == 403
    assert len(trust_files(app)) == 1 and validates(app, pki) is not None


def test_a_change_without_the_csrf_token_is_refused(app, world, browser, pki):
    b = english(browser("province"))
    no_token = b.post("/admin/trust", data={"file": (io.BytesIO(der(pki.root.cert)), "root.cer")},
                      content_type="multipart/form-data")
    assert no_token.status_code == 400
    assert upload(b, der(pki.root.cert), "root.cer", token="forged").status_code == 400
    assert trust_files(app) == []
    assert upload(b, der(pki.root.cert), "root.cer").status_code == 302
    fp = fingerprint(pki.root.cert)
    assert b.post(f"/admin/trust/{fp}/remove").status_code == 400
    assert b.get(f"/admin/trust/{fp}/remove").status_code == 200  # the confirmation page itself changes nothing
    assert len(trust_files(app)) == 1 and validates(app, pki) is not None


# -- the API ----------------------------------------------------------------------------------------------
def test_api_lists_adds_and_deletes(app, world, token, pki):
    client, headers = app.test_client(), token("province", "admin:trust")
    assert client.get(f"{API}/trust", headers=headers).json == {"items": [], "crls": []}
    added = client.post(f"{API}/trust?file_name=national-root.cer", data=der(pki.root.cert),
                        headers={**headers, "Content-Type": "application/pkix-cert"})
    assert added.status_code == 201, added.json
    (root,) = added.json["items"]
    assert root["kind"] == "anchor" and root["fingerprint"] == fingerprint(pki.root.cert)
    assert root["serial"] == format(pki.root.cert.serial_number, "x")
    assert root["file"].startswith("national-root-") and root["issuer"] == root["subject"]
    assert validates(app, pki) is not None
    bundle = client.post(f"{API}/trust", data=(pem(pki.inter.cert) + pem(pki.other_root.cert)).encode(),
                         headers={**headers, "Content-Type": "application/x-pem-file"})
    assert [i["kind"] for i in bundle.json["items"]] == ["intermediate", "anchor"]
    crl = client.post(f"{API}/trust/crls", data=pki.inter.crl().public_bytes(serialization.Encoding.DER),
                      headers={**headers, "Content-Type": "application/pkix-crl"})
    assert crl.status_code == 201 and crl.json["revoked"] == 1
    listed = client.get(f"{API}/trust", headers=headers).json
    assert len(listed["items"]) == 3 and listed["items"][0]["kind"] == "anchor" and len(listed["crls"]) == 1

    garbage = client.post(f"{API}/trust", data=b"garbage", headers={**headers, "Content-Type": "application/pkix-cert"})
    assert garbage.status_code == 422 and garbage.json["errors"]["file"]["code"] == "trust.unreadable"
    duplicate = client.post(f"{API}/trust", data=der(pki.root.cert),
                            headers={**headers, "Content-Type": "application/octet-stream"})
    assert duplicate.status_code == 422 and duplicate.json["errors"]["file"]["code"] == "trust.duplicate"
    leaf = client.post(f"{API}/trust", data=der(pki.certs["officer"][0]),
                       headers={**headers, "Content-Type": "application/pkix-cert"})
    assert leaf.status_code == 422 and leaf.json["errors"]["file"]["code"] == "trust.not_ca"
    wrong_type = client.post(f"{API}/trust", json={"pem": pem(pki.root.cert)}, headers=headers)
    assert wrong_type.status_code == 415
    too_big = client.post(f"{API}/trust", data=b"0" * (1024 * 1024 + 1),
                          headers={**headers, "Content-Type": "application/pkix-cert"})
    assert too_big.status_code == 422 and too_big.json["errors"]["file"]["code"] == "trust.too_large"
    big_crl = client.post(f"{API}/trust/crls", data=b"0" * (2 * 1024 * 1024),  # past the 1 MiB request limit
                          headers={**headers, "Content-Type": "application/pkix-crl"})
    assert big_crl.status_code == 422 and big_crl.json["errors"]["file"]["code"] == "trust.not_crl"

    short = client.delete(f"{API}/trust/abc", headers=headers)
    assert short.status_code == 422 and short.json["errors"]["fingerprint"]["code"] == "trust.fingerprint"
    deleted = client.delete(f"{API}/trust/{root['fingerprint']}", headers=headers)
    assert deleted.status_code == 200 and deleted.json["items"][0]["fingerprint"] == root["fingerprint"]
    assert client.delete(f"{API}/trust/{root['fingerprint']}", headers=headers).status_code == 404
    assert validates(app, pki) is None
    assert [tag for tag, _, _ in events(app)] == ["admin:trust:add"] * 3 + ["admin:trust:add_crl",
                                                                          "admin:trust:remove"]


def test_api_permissions(app, world, token, pki):
    from tests.admin.conftest import mint_token
    client = app.test_client()
    body = {"data": der(pki.root.cert), "content_type": "application/pkix-cert"}
    without_scope = client.post(f"{API}/trust", headers=token("province", "admin:accounts admin:clients"), **body)
    assert without_scope.status_code == 403 and without_scope.json["reason"] == "insufficient_scope"
    auditor = token("auditor", "admin:trust")
    assert client.get(f"{API}/trust", headers=auditor).status_code == 200
    assert client.post(f"{API}/trust", headers=auditor, **body).status_code == 403
    assert client.get(f"{API}/trust", headers=token("an_phu_admin", "admin:trust")).status_code == 403
    # An application's own token may read the list but never change whom MotID trusts.
    automation = {"Authorization": "Bearer " + mint_token(app, scope="admin:trust")}
    assert client.get(f"{API}/trust", headers=automation).status_code == 200
    assert client.post(f"{API}/trust", headers=automation, **body).status_code == 403
    assert client.delete(f"{API}/trust/{fingerprint(pki.root.cert)}", headers=automation).status_code == 403
    assert trust_files(app) == [] and events(app) == []


# -- the command line ------------------------------------------------------------------------------------
def test_cli_goes_through_the_same_rules(app, runner, pki, tmp_path):
    root = tmp_path / "root.cer"
    root.write_bytes(der(pki.root.cert))
    assert runner.invoke(args=["trust", "add", str(root)]).exit_code == 0
    again = runner.invoke(args=["trust", "add", str(root)])
    assert again.exit_code != 0 and "is trusted already" in again.output
    leaf = tmp_path / "leaf.pem"
    leaf.write_text(pem(pki.certs["citizen"][0]))
    refused = runner.invoke(args=["trust", "add", str(leaf)])
    assert refused.exit_code != 0 and "not a certification authority" in refused.output
    assert runner.invoke(args=["trust", "remove", "00000000"]).output.strip().endswith("matches 00000000")
    assert [(tag, actor) for tag, actor, _ in events(app)] == [("admin:trust:add", None)]


# -- the legacy folder ------------------------------------------------------------------------------------
def test_files_left_in_keys_trust_are_imported_once_and_a_removal_sticks(app, world, browser, pki, make_app):
    from idp.accounts.certificates.trust_store import fingerprint as fp_of
    folder = os.path.join(app.config["IDP_KEYS_PATH"], "trust")
    os.makedirs(os.path.join(folder, "crl"), exist_ok=True)
    with open(os.path.join(folder, "root.pem"), "w") as fh:
        fh.write(pem(pki.root.cert))
    with open(os.path.join(folder, "crl", "issuing.crl"), "wb") as fh:
        fh.write(pki.inter.crl().public_bytes(serialization.Encoding.DER))
    assert validates(app, pki) is not None  # the first read imports the folder
    assert sorted(os.listdir(folder)) == ["crl", "root.pem.imported"]
    assert len(trust_files(app)) == 2
    b = english(browser("province"))
    assert b.post(f"/admin/trust/{fp_of(pki.root.cert)}/remove", data={"csrf_token": csrf(b)}).status_code == 302
    restarted = make_app()  # a new process reads the folder again: the removed root does not come back
    assert validates(restarted, pki) is None
