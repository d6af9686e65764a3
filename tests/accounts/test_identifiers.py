"""Vietnamese identifiers: shape, province prefix, check digits, E.164."""
from __future__ import annotations

import pytest

from idp.accounts.identifiers import (InvalidIdentifier, login_candidates, normalize_citizen_id, normalize_email,
                                      normalize_name, normalize_phone, normalize_tax_code)


@pytest.mark.parametrize("value, expected", [("096201000123", "096201000123"), ("001 099 012 345", "001099012345"),
                                             ("079-301-000-001", "079301000001")])
def test_citizen_ids(value, expected):
    assert normalize_citizen_id(value) == expected


@pytest.mark.parametrize("value, code", [("", "citizen_id.shape"), ("12345678901", "citizen_id.shape"),
                                         ("0962010001234", "citizen_id.shape"), ("09620100012a", "citizen_id.shape"),
                                         ("003201000123", "citizen_id.province"),
                                         ("100201000123", "citizen_id.province")])
def test_bad_citizen_ids(value, code):
    with pytest.raises(InvalidIdentifier, match=code):
        normalize_citizen_id(value)


def test_tax_codes():
    assert normalize_tax_code("0100109106") == "0100109106"
    assert normalize_tax_code("0100109106001") == "0100109106-001"
    for bad in ("0100109107", "123", "0100109106-000", "abcdefghij"):
        with pytest.raises(InvalidIdentifier):
            normalize_tax_code(bad)


@pytest.mark.parametrize("value", ["0912345678", "84912345678", "+84912345678", "+84 91 234 5678", "091.234.5678"])
def test_phones_become_e164(value):
    assert normalize_phone(value) == "+84912345678"


@pytest.mark.parametrize("value", ["", "12345", "+14155550100", "0012345678", "0" * 30])
def test_bad_phones(value):
    with pytest.raises(InvalidIdentifier):
        normalize_phone(value)


def test_email_and_name():
    assert normalize_email(" An.Nguyen@Example.VN ") == "an.nguyen@example.vn"
    decomposed = "Nguye\u0302\u0303n  Va\u0306n"  # combining marks: NFD
    assert normalize_name(decomposed) == "Nguyễn Văn"
    for bad in ("", "a\x00b", "x" * 201):
        with pytest.raises(InvalidIdentifier):
            normalize_name(bad)


def test_login_candidates():
    assert login_candidates("0912345678") == (("phone", "+84912345678"),)
    assert login_candidates("096301001234") == (("citizen_id", "096301001234"),)
    assert login_candidates("bad@") == ()
    assert login_candidates("x" * 300) == ()
