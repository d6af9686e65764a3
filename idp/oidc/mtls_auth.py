"""Mutual-TLS client authentication (RFC 8705 §2): ``tls_client_auth`` and ``self_signed_tls_client_auth``.

The client sends its ``client_id`` in the request (RFC 8705 §2) and its certificate in the TLS handshake;
the TLS-terminating proxy forwards the certificate (:mod:`idp.accounts.certificates.proxy`).

- ``tls_client_auth`` (§2.1): the certificate matches the one subject the client registered — its
  distinguished name (RFC 4514) or one subject alternative name — and validates like a login
  certificate: a chain to a trust anchor MotID holds, validity, key strength, revocation
  (:mod:`idp.accounts.certificates.validation`). The name is compared first, so a stranger's
  certificate costs no OCSP request.
- ``self_signed_tls_client_auth`` (§2.2): the certificate's public key is one of the client's registered
  keys (``jwks`` or ``jwks_uri``, a bare key or one carrying ``x5c``: the RFC 7638 thumbprints are
  compared); no chain is checked.

Any failure is ``invalid_client`` (401) and nothing is issued. Tokens then issued are bound to the
certificate (:func:`idp.oidc.mtls.binding_for` binds to the certificate of the token request).
"""
from __future__ import annotations

import ipaddress
import logging

from authlib.oauth2.rfc6749.errors import InvalidClientError
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from flask import current_app
from joserfc import jwk

from ..accounts.certificates.proxy import forwarded_certificate
from ..accounts.certificates.validation import CertificateRejected
from ..clock import now
from .client_auth import client_public_keys

log = logging.getLogger(__name__)

TLS_CLIENT_AUTH, SELF_SIGNED = "tls_client_auth", "self_signed_tls_client_auth"
METHODS = (TLS_CLIENT_AUTH, SELF_SIGNED)
# RFC 8705 §2.1.2: the registered subject, exactly one per client, and how a certificate carries it.
SUBJECT_FIELDS = {"tls_client_auth_subject_dn": None, "tls_client_auth_san_dns": x509.DNSName,
                  "tls_client_auth_san_uri": x509.UniformResourceIdentifier,
                  "tls_client_auth_san_ip": x509.IPAddress, "tls_client_auth_san_email": x509.RFC822Name}


# -- registration ----------------------------------------------------------------------------------

def check_metadata(out: dict, invalid) -> None:
    """The subject of a ``tls_client_auth`` client (exactly one, well formed), the keys of a
    ``self_signed_tls_client_auth`` client; the subject fields belong to ``tls_client_auth`` alone.
    ``invalid``: the exception to raise (:class:`idp.oidc.clients.InvalidClientMetadata`)."""
    method = out.get("token_endpoint_auth_method")
    given = [name for name in SUBJECT_FIELDS if out.get(name) is not None]
    if method != TLS_CLIENT_AUTH:
        if given:
            raise invalid(f"{given[0]} is used only with tls_client_auth")
        if method == SELF_SIGNED and not (out.get("jwks") or out.get("jwks_uri")):
            raise invalid("self_signed_tls_client_auth needs jwks or jwks_uri")
        return
    if len(given) != 1:
        raise invalid("tls_client_auth needs exactly one of " + ", ".join(SUBJECT_FIELDS))
    name, value = given[0], out[given[0]]
    if not isinstance(value, str) or not value.strip() or len(value) > 1000:
        raise invalid(f"{name} must be a non-empty string")
    try:
        _expected(name, value)
    except ValueError:
        raise invalid(f"{name} is not a valid " + (
            "distinguished name (RFC 4514)" if name.endswith("_dn") else "IP address")) from None


def _expected(name: str, value: str):
    """The registered subject in the form a certificate's value is compared with (ValueError if malformed)."""
    if name == "tls_client_auth_subject_dn":
        return x509.Name.from_rfc4514_string(value)
    if name == "tls_client_auth_san_ip":
        return ipaddress.ip_address(value)
    if name == "tls_client_auth_san_uri":
        return value
    return value.lower()  # DNS names and email addresses: case-insensitive here


# -- authentication --------------------------------------------------------------------------------

def subject_matches(certificate: x509.Certificate, meta: dict) -> bool:
    """Whether the certificate carries the subject a ``tls_client_auth`` client registered."""
    name = next((field for field in SUBJECT_FIELDS if meta.get(field) is not None), None)
    if name is None:
        return False
    try:
        expected = _expected(name, meta[name])
        if name == "tls_client_auth_subject_dn":
            return certificate.subject == expected
        sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        values = sans.get_values_for_type(SUBJECT_FIELDS[name])
    except (x509.ExtensionNotFound, ValueError):  # ValueError: extensions that do not parse
        return False
    if name in ("tls_client_auth_san_dns", "tls_client_auth_san_email"):
        values = [value.lower() for value in values]
    return expected in values


def _public_jwk(certificate: x509.Certificate):
    key = certificate.public_key()
    kind = ("RSA" if isinstance(key, rsa.RSAPublicKey) else "EC" if isinstance(key, ec.EllipticCurvePublicKey)
            else "OKP" if isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)) else None)
    if kind is None:
        return None
    try:
        return jwk.import_key(key, kind)
    except Exception:  # joserfc raises several types for curves or sizes it does not take
        return None


class _MutualTlsAuth:
    """An Authlib client-authentication method (``register_client_auth_method``)."""

    METHOD = ""

    def __call__(self, query_client, request):
        client_id = request.form.get("client_id")
        client = query_client(client_id) if isinstance(client_id, str) else None
        if client is None or client.meta.get("token_endpoint_auth_method") != self.METHOD:
            return None  # not ours: the next method gets its turn
        try:
            presented = forwarded_certificate()
        except CertificateRejected:
            presented = None
        if presented is None:
            raise InvalidClientError(description=f"{self.METHOD} needs a TLS client certificate (RFC 8705 §2).")
        self.verify(client, *presented)
        return client

    def verify(self, client, leaf, chain) -> None:
        raise NotImplementedError


class TlsClientAuth(_MutualTlsAuth):
    METHOD = TLS_CLIENT_AUTH

    def verify(self, client, leaf, chain) -> None:
        if not subject_matches(leaf, client.meta):
            raise InvalidClientError(description="The client certificate does not carry the registered subject.")
        validator = current_app.extensions["idp.certificates"].validator
        try:
            validator.validate(leaf, chain, now())
        except CertificateRejected as exc:
            log.info("tls_client_auth of %s refused: %s", client.client_id, exc.code)
            raise InvalidClientError(description="The client certificate is not trusted.") from None


class SelfSignedTlsClientAuth(_MutualTlsAuth):
    METHOD = SELF_SIGNED

    def verify(self, client, leaf, chain) -> None:
        presented = _public_jwk(leaf)
        registered = {key.thumbprint() for key in client_public_keys(client).keys}
        if presented is None or presented.thumbprint() not in registered:
            raise InvalidClientError(description="The client certificate's key is not one of the client's keys.")
