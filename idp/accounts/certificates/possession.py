"""Proof of possession: the signed response a holder sends (``idp-sign`` output) and the check that
its signature was made with the certificate's key (RSA PKCS#1 v1.5 or PSS with SHA-256, or ECDSA,
DER or the raw ``r||s`` a PKCS#11 token gives)."""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from .validation import CertificateRejected, parse_presented

MAX_SIGNATURE_CHARS = 2048
MAX_RESPONSE_CHARS = 64 * 1024


@dataclass
class SignedResponse:
    """What a holder sends back: the challenge, their certificate (and chain), the signature."""

    challenge: str
    certificate: x509.Certificate
    chain: list[x509.Certificate]
    signature: bytes


def decode_signature(value: str) -> bytes:
    value = (value or "").strip()
    if not value or len(value) > MAX_SIGNATURE_CHARS:
        raise CertificateRejected("signature", "missing or too long")
    try:
        return base64.b64decode(value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4),
                                validate=True)
    except (binascii.Error, ValueError):
        raise CertificateRejected("signature", "not base64") from None


def parse_response(text: str) -> SignedResponse:
    """The JSON that ``idp-sign`` prints: ``challenge``, ``certificate``, ``chain``, ``signature``."""
    if not text or len(text) > MAX_RESPONSE_CHARS:
        raise CertificateRejected("too_large" if text else "malformed")
    try:
        document = json.loads(text)
    except ValueError:
        raise CertificateRejected("malformed", "not JSON") from None
    if not isinstance(document, dict) or not all(isinstance(document.get(k), str)
                                                  for k in ("challenge", "certificate", "signature")):
        raise CertificateRejected("malformed", "challenge, certificate and signature are required")
    chain_parts = document.get("chain") or []
    if not isinstance(chain_parts, list) or not all(isinstance(p, str) for p in chain_parts):
        raise CertificateRejected("malformed", "chain must be a list of certificates")
    leaf, others = parse_presented("\n".join([document["certificate"], *chain_parts]))
    return SignedResponse(document["challenge"], leaf, others, decode_signature(document["signature"]))


def verify_possession(certificate: x509.Certificate, message: bytes, signature: bytes) -> None:
    """The signature over ``message`` was made with the certificate's key, or CertificateRejected."""
    key = certificate.public_key()
    attempts = []
    if isinstance(key, rsa.RSAPublicKey):
        attempts = [lambda: key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256()),
                    lambda: key.verify(signature, message, padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                                                       salt_length=padding.PSS.AUTO),
                                       hashes.SHA256())]
    elif isinstance(key, ec.EllipticCurvePublicKey):
        size = (key.curve.key_size + 7) // 8
        signatures = [signature]
        if len(signature) == 2 * size:  # PKCS#11 CKM_ECDSA gives raw r||s
            signatures.append(encode_dss_signature(int.from_bytes(signature[:size], "big"),
                                                   int.from_bytes(signature[size:], "big")))
        attempts = [lambda s=s, h=h: key.verify(s, message, ec.ECDSA(h))
                    for s in signatures for h in (hashes.SHA256(), hashes.SHA384(), hashes.SHA512())]
    for attempt in attempts:
        try:
            attempt()
            return
        except (InvalidSignature, ValueError):
            continue
    raise CertificateRejected("signature")
