"""The TLS client certificate that a trusted reverse proxy forwards in a header.

nginx terminates TLS with ``ssl_verify_client optional_no_ca`` (it proves the client holds the
key, MotID judges the certificate) and sets ``proxy_set_header X-SSL-Client-Cert
$ssl_client_escaped_cert;`` — always, so a client's own header of that name is overwritten. The
header is believed only when the connection comes straight from an address in
``IDP_CERT_PROXY_ADDRESSES``; from anywhere else it is refused, never silently ignored.
"""
from __future__ import annotations

import ipaddress
from urllib.parse import unquote

from flask import current_app, request

from .validation import CertificateRejected, parse_presented


def proxy_networks(value: str) -> list:
    """``IDP_CERT_PROXY_ADDRESSES``: comma-separated addresses or networks (ValueError if malformed)."""
    return [ipaddress.ip_network(item.strip(), strict=False) for item in (value or "").split(",") if item.strip()]


def peer_address() -> str | None:
    """The address of the TCP peer itself, before ProxyFix rewrote ``remote_addr`` from X-Forwarded-For."""
    original = request.environ.get("werkzeug.proxy_fix.orig") or {}
    return original.get("REMOTE_ADDR") or request.environ.get("REMOTE_ADDR")


def from_trusted_proxy() -> bool:
    try:
        peer = ipaddress.ip_address((peer_address() or "").split("%")[0])
    except ValueError:
        return False
    return any(peer in network for network in proxy_networks(current_app.config["IDP_CERT_PROXY_ADDRESSES"]))


def forwarded_certificate():
    """(leaf, chain) from the proxy's header; None when there is none; CertificateRejected when the
    header came from an address that is not a configured proxy, or does not hold a certificate."""
    value = request.headers.get(current_app.config["IDP_CERT_HEADER"], "")
    if not value.strip() or value.strip() == "(null)":
        return None
    if not from_trusted_proxy():
        raise CertificateRejected("untrusted_proxy", f"header from {peer_address()}")
    text = unquote(value.strip())
    if "-----BEGIN" in text:
        # $ssl_client_cert (deprecated) indents continuation lines with a tab.
        text = "\n".join(line.strip() for line in text.splitlines())
    return parse_presented(text)
