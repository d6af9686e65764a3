"""Certificate-bound access tokens (RFC 8705 §3): ``cnf`` with ``x5t#S256``.

Access tokens are bound to a certificate when

- the token request itself came over mutual TLS: its client certificate, forwarded by a trusted
  TLS-terminating proxy, is the binding (RFC 8705 §3: the requester proved possession of the key in
  the TLS handshake, so it can present the certificate again wherever it uses the token). This is
  the case of a certificate login through mTLS in the person's own client (a kiosk, a desktop or
  mobile app using their token), and of a client authenticating with its own certificate; or
- the client registered ``tls_client_certificate_bound_access_tokens`` (RFC 8705 §3.4): its tokens
  are always bound, to the certificate of the token request or else to the person's certificate
  when the SSO session came from a TLS client-certificate login; without either the request fails.

A token request without a client certificate from a client that did not register the flag gets a
bearer token, even after a certificate login: an application's back end that exchanged the code
does not hold the person's key, and a token bound to a certificate its holder cannot present is
refused by every resource server (RFC 8705 §3.2). The binding is stored on the grant, so refreshed
access tokens keep it; introspection returns it (RFC 8705 §3.2) and the UserInfo endpoint, a
protected resource, enforces it.
"""
from __future__ import annotations

from authlib.oauth2.rfc6749.errors import InvalidRequestError

from ..accounts.certificates.proxy import forwarded_certificate
from ..accounts.certificates.service import tls_login_thumbprint
from ..accounts.certificates.validation import CertificateRejected, thumbprint

FLAG = "tls_client_certificate_bound_access_tokens"


def presented_thumbprint() -> str | None:
    """``x5t#S256`` of the TLS client certificate of this request, if a trusted proxy forwarded one."""
    try:
        presented = forwarded_certificate()
    except CertificateRejected:
        return None
    return thumbprint(presented[0]) if presented else None


def binding_for(client, sid: str | None) -> str | None:
    """The thumbprint new tokens of ``client`` are bound to, or None for bearer tokens."""
    presented = presented_thumbprint()
    if not client.meta.get(FLAG):
        return presented
    bound = presented or tls_login_thumbprint(sid)
    if bound is None:
        raise InvalidRequestError("This client registered tls_client_certificate_bound_access_tokens: "
                                  "the token request needs a TLS client certificate (RFC 8705).")
    return bound


def cnf(value: str | None) -> dict | None:
    return {"x5t#S256": value} if value else None


def holder_matches(bound: str | None) -> bool:
    """A protected resource's check: the request's client certificate is the one the token is bound to."""
    return bound is None or presented_thumbprint() == bound
