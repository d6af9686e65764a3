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
import json
import os
import sys

import click

from .signing import load_certificates, pem_text, from_files, from_token


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
        chain += load_certificates(chain_file.read())
    document = {"challenge": challenge, "certificate": pem_text(cert), "chain": [pem_text(c) for c in chain],
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

