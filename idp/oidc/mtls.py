"""Certificate-bound access tokens (RFC 8705 §3): ``cnf`` with ``x5t#S256``.

A client registered with ``tls_client_certificate_bound_access_tokens`` (RFC 8705 §3.4) gets
access tokens bound to a certificate:

- the client certificate of the token request itself, forwarded by the TLS-terminating proxy
  (RFC 8705 §3: the client proves possession in the TLS handshake at the token endpoint); else
- the person's certificate, when the SSO session came from a TLS client-certificate login
  (the person's own client — a kiosk or desktop app on their token — holds that certificate).

A client that did not register the flag keeps bearer tokens: a token bound to a certificate its
holder cannot present is refused by every resource server (RFC 8705 §3.2), so binding is opt-in.
The binding is stored on the grant, so refreshed access tokens keep it; introspection returns it
(RFC 8705 §3.2) and the UserInfo endpoint, a protected resource, enforces it.
"""
from __future__ import annotations

from authlib.oauth2.rfc6749.errors import InvalidRequestError

from ..accounts.cert_proxy import forwarded_certificate
from ..accounts.cert_validation import CertificateRejected, thumbprint
from ..accounts.certificates import tls_login_thumbprint

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
    if not client.meta.get(FLAG):
        return None
    bound = presented_thumbprint() or tls_login_thumbprint(sid)
    if bound is None:
        raise InvalidRequestError("This client registered tls_client_certificate_bound_access_tokens: "
                                  "the token request needs a TLS client certificate (RFC 8705).")
    return bound


def cnf(value: str | None) -> dict | None:
    return {"x5t#S256": value} if value else None


def holder_matches(bound: str | None) -> bool:
    """A protected resource's check: the request's client certificate is the one the token is bound to."""
    return bound is None or presented_thumbprint() == bound
