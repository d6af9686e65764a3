"""``idp-sign`` (also ``idp certs sign-challenge``): sign a MotID challenge with a certificate's key.

The reference tool for a holder at a terminal or a kiosk. The key is on a PKCS#11 token (a USB
token's driver, or SoftHSM2 in tests) through python-pkcs11, or in a PKCS#12 or PEM file. It
prints the JSON that MotID's binding and login pages accept: ``challenge``, ``certificate``
(PEM), ``chain`` (PEM, may be empty) and ``signature`` (base64). RSA keys sign with PKCS#1 v1.5
and SHA-256 (``--pss`` for RSASSA-PSS); EC keys with ECDSA and SHA-256 (the hash is computed here
and the token signs it with CKM_ECDSA, which every token supports).

It needs no MotID configuration or database, and the PIN is never taken from the command line:
``--pin-env NAME`` or a prompt (``--pin-stdin`` for scripts).
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import sys

import click
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import pkcs12


class SigningError(click.ClickException):
    """The key or certificate could not be used."""


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _load_certificates(data: bytes) -> list[x509.Certificate]:
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
        cert, *chain = _load_certificates(cert_file.read())
    return sign_with_key(key, message, pss), cert, chain


def from_token(message: bytes, *, module: str, token_label: str | None, key_label: str | None,
               key_id: str | None, pin: str, cert_file=None, pss: bool):
    """(signature, certificate, chain) with a private key that never leaves a PKCS#11 token."""
    try:
        import pkcs11
        from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
        from pkcs11.exceptions import PKCS11Error
    except ImportError:
        raise SigningError("python-pkcs11 is not installed (pip install python-pkcs11)") from None
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
        return _load_certificates(cert_file.read())[0]
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


@click.command("idp-sign")
@click.option("--challenge", help="the challenge text shown by MotID (default: read from standard input)")
@click.option("--pkcs11-module", type=click.Path(dir_okay=False), help="the token's PKCS#11 library (.so)")
@click.option("--token-label", help="which token (default: the first one present)")
@click.option("--key-label", help="the private key's label on the token")
@click.option("--key-id", help="the private key's CKA_ID on the token, in hex")
@click.option("--pin-env", help="read the token PIN (or file password) from this environment variable")
@click.option("--pin-stdin", is_flag=True, help="read the PIN (or password) from the first line of standard input")
@click.option("--pkcs12", "pkcs12_file", type=click.File("rb"), help="a PKCS#12 (.p12/.pfx) file with key and certificate")
@click.option("--key", "key_file", type=click.File("rb"), help="a PEM private key")
@click.option("--certificate", "cert_file", type=click.File("rb"), help="the certificate (PEM or DER)")
@click.option("--chain", "chain_file", type=click.File("rb"), help="intermediate CA certificates (PEM)")
@click.option("--pss", is_flag=True, help="sign with RSASSA-PSS instead of PKCS#1 v1.5 (RSA keys)")
@click.option("-o", "--output", type=click.File("w"), default="-", help="where to write the JSON (default: stdout)")
def sign_command(challenge, pkcs11_module, token_label, key_label, key_id, pin_env, pin_stdin, pkcs12_file,
                 key_file, cert_file, chain_file, pss, output):
    """Sign a MotID challenge with a certificate's key and print what MotID needs to verify it."""
    sources = [bool(pkcs11_module), bool(pkcs12_file), bool(key_file)]
    if sum(sources) != 1:
        raise click.UsageError("use exactly one of --pkcs11-module, --pkcs12 or --key")
    if key_file and not cert_file:
        raise click.UsageError("--key needs --certificate")
    secret = _secret(pin_env, pin_stdin, prompt=bool(pkcs11_module))
    if challenge is None:
        challenge = sys.stdin.readline()
    challenge = challenge.strip()
    if not challenge.startswith("MotID "):
        raise click.UsageError("this is not a MotID challenge (it starts with 'MotID ')")
    message = challenge.encode("utf-8")
    if pkcs11_module:
        signature, cert, chain = from_token(message, module=pkcs11_module, token_label=token_label,
                                            key_label=key_label, key_id=key_id, pin=secret or "",
                                            cert_file=cert_file, pss=pss)
    else:
        signature, cert, chain = from_files(message, pkcs12_file=pkcs12_file, key_file=key_file,
                                            cert_file=cert_file, password=secret.encode() if secret else None,
                                            pss=pss)
    if chain_file:
        chain += _load_certificates(chain_file.read())
    document = {"challenge": challenge, "certificate": _pem(cert), "chain": [_pem(c) for c in chain],
                "signature": base64.b64encode(signature).decode("ascii")}
    output.write(json.dumps(document, indent=1) + "\n")


def _secret(pin_env, pin_stdin, *, prompt: bool) -> str | None:
    if pin_env:
        value = os.environ.get(pin_env)
        if value is None:
            raise click.UsageError(f"the environment variable {pin_env} is not set")
        return value
    if pin_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if prompt:
        return click.prompt("PIN", hide_input=True, err=True)
    return None


def main():  # console script: idp-sign
    sign_command(prog_name="idp-sign")


if __name__ == "__main__":
    main()
