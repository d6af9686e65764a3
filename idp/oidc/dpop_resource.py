"""DPoP at protected resources (RFC 9449 §7): the UserInfo endpoint and the admin API share this check.

``Authorization: DPoP <token>`` comes with a ``DPoP`` proof for this method and URL whose ``ath`` is the
token's hash (checked, and its ``jti`` spent, before the token is looked up); the token's ``cnf.jkt``
must then be the proof's key. A DPoP-bound token presented any other way (``Bearer``, a form field) is
refused (§7.2), and so is a token without ``cnf.jkt`` under the DPoP scheme: there is no key for the
proof to match. Refusals are 401 with a ``DPoP`` challenge naming the accepted algorithms (§7.1), and
``use_dpop_nonce`` carries a ``DPoP-Nonce`` header (§9).
"""
from __future__ import annotations

from flask import current_app, request

from ..clock import now
from .dpop import ALGORITHMS, Proof, ProofRefused

SCHEMES = ("bearer", "dpop")


class ResourceRefusal(Exception):
    """A 401 answer with a ``DPoP`` challenge: ``invalid_dpop_proof``, ``use_dpop_nonce`` or ``invalid_token``."""

    def __init__(self, error: str, description: str, nonce: str | None = None):
        super().__init__(description)
        self.error, self.description, self.nonce = error, description, nonce

    def headers(self) -> dict:
        challenge = f'DPoP algs="{" ".join(ALGORITHMS)}", error="{self.error}", ' \
                    f'error_description="{self.description}"'
        out = {"WWW-Authenticate": challenge, "Cache-Control": "no-store"}
        if self.nonce:
            out["DPoP-Nonce"] = self.nonce
        return out


def authorization() -> tuple[str | None, str | None]:
    """``(scheme, token)`` from the Authorization header, the scheme in lower case; (None, None) without
    one of the schemes this server accepts."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    scheme = scheme.lower()
    if scheme not in SCHEMES or not token.strip():
        return None, None
    return scheme, token.strip()


def holder_proof(scheme: str | None, token: str) -> Proof | None:
    """The checked proof of a token presented with the DPoP scheme (None for any other way)."""
    if scheme != "dpop":
        return None
    try:
        return current_app.extensions["idp.dpop"].verify(
            request.headers.getlist("DPoP"), method=request.method, path=request.script_root + request.path,
            now=now(), access_token=token)
    except ProofRefused as refused:
        raise ResourceRefusal(refused.error, refused.description, refused.nonce) from None


def check_holder(bound_jkt: str | None, proof: Proof | None) -> None:
    """The token's DPoP binding agrees with how it was presented."""
    if bound_jkt and proof is None:
        raise ResourceRefusal("invalid_token", "The access token is DPoP-bound: present it with the DPoP "
                                               "authorization scheme and a proof (RFC 9449).")
    if proof is not None and bound_jkt != proof.jkt:
        raise ResourceRefusal("invalid_token", "The access token is not bound to the key of this DPoP proof.")
