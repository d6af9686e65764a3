"""DPoP at the token endpoint (RFC 9449 §5): binding access tokens, and public clients' refresh tokens.

A token request with a valid proof gets access tokens with ``cnf.jkt`` (the proof key's RFC 7638
thumbprint) and ``token_type: DPoP``; the thumbprint is stored on the grant (``cnf_jkt``), beside an
mTLS binding if there is one (:mod:`.mtls`), so refreshed access tokens stay bound.

- The proof is checked before the grant runs (:func:`proof_for_token_request`), so a bad proof never
  spends a code or a refresh token: 400 ``invalid_dpop_proof``, or ``use_dpop_nonce`` with a
  ``DPoP-Nonce`` header (§8).
- A client that registered ``dpop_bound_access_tokens`` (§5.2) must send a proof with every token
  request; without one it gets ``invalid_dpop_proof`` before its code or refresh token is touched.
- A public client's refresh token is bound to the key of the grant (§5): a refresh without a proof by
  that key is ``invalid_grant`` and leaves the token as it was, so whoever stole it cannot even spend
  it. A confidential client's refresh token is bound to its authentication instead (§5); its new
  access token is bound to the key of the refresh request's proof, or without a proof stays bound to
  the grant's key: a bound grant never turns into bearer tokens.
"""
from __future__ import annotations

from authlib.oauth2.rfc6749.errors import InvalidGrantError, OAuth2Error
from flask import current_app, g, request

from .dpop import Proof

FLAG = "dpop_bound_access_tokens"


class InvalidDPoPProof(OAuth2Error):
    """RFC 9449 §5: the proof is missing where it is required, or not valid."""

    error = "invalid_dpop_proof"
    status_code = 400


def verifier():
    return current_app.extensions["idp.dpop"]


def proof_for_token_request(now) -> Proof | None:
    """The request's checked proof, or None without a ``DPoP`` header; raises :class:`.dpop.ProofRefused`."""
    values = request.headers.getlist("DPoP")
    if not values:
        return None
    proof = verifier().verify(values, method=request.method, path=request.script_root + request.path, now=now)
    g.dpop_proof = proof
    return proof


def current_proof() -> Proof | None:
    return g.get("dpop_proof")


def binding() -> str | None:
    """The thumbprint new access tokens are bound to: the proof's key, or None for bearer tokens."""
    proof = current_proof()
    return proof.jkt if proof else None


def refresh_binding(client, bound: str | None) -> str | None:
    """For a refresh of a grant bound to ``bound``: the key the new access token is bound to."""
    proof = current_proof()
    if client.is_public and bound and (proof is None or proof.jkt != bound):
        raise InvalidGrantError("The refresh token is bound to a DPoP key: send a proof by that key (RFC 9449, 5).")
    return proof.jkt if proof else bound


class RequiresRegisteredProof:
    """A grant mix-in: a client with ``dpop_bound_access_tokens`` is refused without a proof, right after
    it authenticated and before its code or refresh token is read."""

    def authenticate_token_endpoint_client(self):
        client = super().authenticate_token_endpoint_client()
        if client.meta.get(FLAG) is True and current_proof() is None:
            raise InvalidDPoPProof("This client registered dpop_bound_access_tokens: the token request "
                                   "needs a DPoP proof (RFC 9449, 5.2).")
        return client
