"""Who a certificate names (:mod:`idp.accounts.certificates.identity`): the replaceable UID parser."""
from __future__ import annotations

import pytest

from idp.accounts.certificates.identity import parse_subject
from tests.accounts.certificates.test_pki import vn_name


def test_uid_values_are_multi_valued_and_normalised(pki):
    identity = parse_subject(pki.certs["officer"][0])
    assert identity.tax_codes == ["0100109106"] and identity.citizen_ids == ["096190000456"]


@pytest.mark.parametrize("uids, field, expected", [
    (["cccd: 096 301 001 234"], "citizen_ids", ["096301001234"]),
    (["CMND:381234567"], "legacy_ids", ["381234567"]),
    (["HC:c1234567"], "passports", ["C1234567"]),
    (["MST:0100109106-001"], "tax_codes", ["0100109106-001"]),
    (["MST:0101234567", "MNS:1047665"], "budget_codes", ["1047665"]),
    (["BHXH:7912345678"], "social_insurance", ["7912345678"]),
    (["CCCD:999301001234"], "other", ["CCCD:999301001234"]),  # not a province prefix
    (["PID:123", "no prefix"], "other", ["PID:123", "no prefix"]),
])
def test_uid_prefixes(uids, field, expected, pki):
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP256R1())
    cert = pki.inter.issue(vn_name("X", uids=uids), key.public_key())
    assert getattr(parse_subject(cert), field) == expected


def test_common_name_is_never_identity(pki):
    assert parse_subject(pki.certs["no_uid"][0]).is_empty


def test_parser_is_replaceable(make_app, trust_dir, pki, accounts):
    app = make_app(IDP_CERT_IDENTITY_PARSER="tests.accounts.certificates.test_identity:pretend_parser")
    assert app.extensions["idp.certificates"].parse_identity is pretend_parser


def pretend_parser(certificate):
    return parse_subject(certificate)
