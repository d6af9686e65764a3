"""The signature itself: with a key in a PKCS#12 or PEM file (cryptography), or with a key that never
leaves a PKCS#11 token (python-pkcs11, imported only when a token is used: ``pip install motid[sign]``).
"""
from __future__ import annotations

import hashlib

import click
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import pkcs12


class SigningError(click.ClickException):
    """The key or certificate could not be used."""


def pem_text(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def load_certificates(data: bytes) -> list[x509.Certificate]:
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise SigningError("the certificate file is not PEM or DER") from None


def sign_with_key(key, message: bytes, pss: bool) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32) if pss else padding.PKCS1v15()
        return key.sign(message, pad, hashes.SHA256())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(message, ec.ECDSA(hashes.SHA256()))
    raise SigningError("only RSA and EC keys can sign a MotID challenge")


def from_files(message: bytes, *, pkcs12_file=None, key_file=None, cert_file=None, password: bytes | None,
               pss: bool):
    """(signature, certificate, chain) from a PKCS#12 file, or a PEM key and certificate."""
    chain: list[x509.Certificate] = []
    if pkcs12_file:
        try:
            key, cert, extra = pkcs12.load_key_and_certificates(pkcs12_file.read(), password)
        except ValueError:
            raise SigningError("the PKCS#12 file could not be opened (wrong password?)") from None
        chain = list(extra or [])
        if cert is None or key is None:
            raise SigningError("the PKCS#12 file holds no key and certificate")
    else:
        try:
            key = serialization.load_pem_private_key(key_file.read(), password)
        except (ValueError, TypeError):
            raise SigningError("the key file could not be opened (wrong password?)") from None
        cert, *chain = load_certificates(cert_file.read())
    return sign_with_key(key, message, pss), cert, chain


def from_token(message: bytes, *, module: str, token_label: str | None, key_label: str | None,
               key_id: str | None, pin: str, cert_file=None, pss: bool):
    """(signature, certificate, chain) with a private key that never leaves a PKCS#11 token."""
    try:
        import pkcs11
        from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
        from pkcs11.exceptions import PKCS11Error
    except ImportError:
        raise SigningError("python-pkcs11 is not installed (pip install 'motid[sign]')") from None
    try:
        lib = pkcs11.lib(module)
        token = lib.get_token(token_label=token_label) if token_label else next(
            slot.get_token() for slot in lib.get_slots(token_present=True))
        with token.open(user_pin=pin) as session:
            wanted = {"object_class": ObjectClass.PRIVATE_KEY}
            if key_label:
                wanted["label"] = key_label
            if key_id:
                wanted["id"] = bytes.fromhex(key_id)
            key = session.get_key(**wanted)
            cert = _token_certificate(session, key, Attribute, ObjectClass, cert_file)
            if key.key_type == KeyType.RSA:
                if pss:
                    signature = key.sign(message, mechanism=Mechanism.SHA256_RSA_PKCS_PSS,
                                         mechanism_param=(Mechanism.SHA256, pkcs11.MGF.SHA256, 32))
                else:
                    signature = key.sign(message, mechanism=Mechanism.SHA256_RSA_PKCS)
            elif key.key_type == KeyType.EC:
                raw = key.sign(hashlib.sha256(message).digest(), mechanism=Mechanism.ECDSA)
                half = len(raw) // 2
                signature = encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))
            else:
                raise SigningError("only RSA and EC keys can sign a MotID challenge")
    except (PKCS11Error, StopIteration) as exc:
        raise SigningError(f"the token could not sign: {type(exc).__name__} {exc}".strip()) from None
    return signature, cert, []


def _token_certificate(session, key, Attribute, ObjectClass, cert_file):
    if cert_file is not None:
        return load_certificates(cert_file.read())[0]
    for attribute in (Attribute.ID, Attribute.LABEL):
        try:
            value = key[attribute]
        except Exception:  # tokens differ in which attributes they expose
            continue
        if not value:
            continue
        for obj in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE, attribute: value}):
            return x509.load_der_x509_certificate(obj[Attribute.VALUE])
    raise SigningError("no certificate for this key on the token; give --certificate")
