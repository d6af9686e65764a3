"""DPoP proofs (RFC 9449 §4): checking a ``DPoP`` header, and the server's nonces (§8, §9).

A proof is accepted when (§4.3, in this order) there is exactly one ``DPoP`` header holding a compact JWS
with ``typ: dpop+jwt``, an asymmetric ``alg`` of :data:`ALGORITHMS` (never ``none`` or a MAC), a public
``jwk`` in its header that verifies the signature; ``htm`` is the request's method and ``htu`` the
endpoint's URL built from ``IDP_ISSUER`` (query and fragment ignored); ``iat`` is at most
``IDP_DPOP_PROOF_SECONDS`` old and ``IDP_DPOP_CLOCK_SKEW_SECONDS`` ahead; at a protected resource ``ath``
is the access token's hash; the ``nonce``, when one is required or present, is current; and the
``jti`` was never seen with this key: it is spent by one INSERT on a unique key
(:func:`.client_auth.remember_jti`), so of concurrent requests with one proof exactly one passes, on
every node.

Nonces are stateless: an HMAC of the current period under a key derived from the master key. Every node
issues and accepts the same nonces without sharing anything else; one is accepted during its period and
the next one.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from joserfc import jwk, jws, jwt
from joserfc.errors import JoseError

from .client_auth import remember_jti

ALGORITHMS = ("ES256", "ES384", "PS256", "RS256", "Ed25519", "EdDSA")  # Ed25519: RFC 9864
TYP = "dpop+jwt"
MAX_PROOF = 8192
MIN_RSA_BITS = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}
# joserfc's default limit (512 bytes of header) is below an RSA key's jwk: room for up to 4096-bit keys.
REGISTRY = jws.JWSRegistry(algorithms=list(ALGORITHMS))
REGISTRY.max_header_length = 3072


class ProofRefused(Exception):
    """``invalid_dpop_proof``, or ``use_dpop_nonce`` with the nonce to use (RFC 9449 §7.1, §8, §9)."""

    def __init__(self, description: str, error: str = "invalid_dpop_proof", nonce: str | None = None):
        super().__init__(description)
        self.error, self.description, self.nonce = error, description, nonce


@dataclass(frozen=True)
class Proof:
    jkt: str  # RFC 7638 thumbprint of the proof's key: what tokens are bound to (``cnf.jkt``)
    jti: str


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def access_token_hash(token: str) -> str:
    """``ath`` (RFC 9449 §4.2): base64url SHA-256 of the access token's ASCII octets."""
    return b64(hashlib.sha256(token.encode("ascii", "replace")).digest())


def normalized_url(url: str) -> str | None:
    """Scheme, host, port and path of ``url`` with the normalisations of RFC 3986 §6.2.2 and §6.2.3."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in DEFAULT_PORTS or not host:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    return f"{scheme}://{netloc}{parts.path or '/'}"


class DPoP:
    """Checks proofs and makes nonces; one per application (``app.extensions["idp.dpop"]``)."""

    def __init__(self, master_key, config):
        self.issuer = config["IDP_ISSUER"]
        self.max_age = config["IDP_DPOP_PROOF_SECONDS"]
        self.skew = config["IDP_DPOP_CLOCK_SKEW_SECONDS"]
        self.require_nonce = bool(config["IDP_DPOP_REQUIRE_NONCE"])
        self.period = config["IDP_DPOP_NONCE_SECONDS"]
        self._issuing_key = master_key.derive("dpop-nonce")
        self._checking_keys = master_key.derive_all("dpop-nonce")

    # -- nonces (§8, §9) ------------------------------------------------------------------------
    def _nonce(self, key: bytes, period: int) -> str:
        return b64(hmac.new(key, b"dpop-nonce|%d" % period, hashlib.sha256).digest())

    def nonce(self, now) -> str:
        return self._nonce(self._issuing_key, int(now.timestamp()) // self.period)

    def nonce_is_current(self, value, now) -> bool:
        if not isinstance(value, str) or len(value) > 100 or not value.isascii():
            return False
        period = int(now.timestamp()) // self.period
        return any(hmac.compare_digest(value, self._nonce(key, p))
                   for key in self._checking_keys for p in (period, period - 1))

    # -- proofs (§4.3) --------------------------------------------------------------------------
    def endpoint_url(self, path: str) -> str:
        return self.issuer + path

    def verify(self, headers: list[str], *, method: str, path: str, now, access_token: str | None = None) -> Proof:
        """The proof in ``headers`` (every ``DPoP`` header of the request) for ``method`` at the issuer's
        ``path``; raises :class:`ProofRefused`. Spends the proof's ``jti`` (a commit)."""
        if len(headers) != 1:
            raise ProofRefused("Send exactly one DPoP header.")
        header, claims, key = self._signed(headers[0])
        self._check_claims(claims, method=method, path=path, now=now, access_token=access_token)
        jkt = key.thumbprint()
        if not remember_jti("dpop", jkt, claims["jti"], claims["iat"] + self.max_age + self.skew):
            raise ProofRefused("This DPoP proof was already used (jti).")
        return Proof(jkt=jkt, jti=claims["jti"])

    def _signed(self, value: str):
        """The header, claims and key of a well-formed proof whose signature its own ``jwk`` verifies."""
        if not value or len(value) > MAX_PROOF or value.count(".") != 2:
            raise ProofRefused("The DPoP proof is not a compact JWS.")
        try:
            header = jws.extract_compact(value.encode("ascii"), registry=REGISTRY).protected
        except (JoseError, ValueError, TypeError, UnicodeError):
            raise ProofRefused("The DPoP proof is not a compact JWS.") from None
        if header.get("typ") != TYP:
            raise ProofRefused("The DPoP proof's typ must be dpop+jwt.")
        if header.get("alg") not in ALGORITHMS:
            raise ProofRefused(f"The DPoP proof's alg must be one of {' '.join(ALGORITHMS)}.")
        key = self._public_key(header.get("jwk"))
        try:
            decoded = jwt.decode(value, key, algorithms=[header["alg"]], registry=REGISTRY)
        except (JoseError, ValueError, TypeError):
            raise ProofRefused("The DPoP proof's signature does not verify with its jwk, or its claims are "
                               "not a JSON object.") from None
        return header, decoded.claims, key

    @staticmethod
    def _public_key(value):
        if not isinstance(value, dict) or len(json.dumps(value)) > 4096:
            raise ProofRefused("The DPoP proof's header must carry its public key (jwk).")
        try:
            key = jwk.import_key(value)
        except Exception:  # joserfc raises several types for malformed keys
            raise ProofRefused("The DPoP proof's jwk is not a valid key.") from None
        if key.key_type not in ("EC", "RSA", "OKP") or key.is_private:
            raise ProofRefused("The DPoP proof's jwk must be a public key, never a private or secret one.")
        if key.key_type == "RSA" and key.raw_value.key_size < MIN_RSA_BITS:
            raise ProofRefused(f"The DPoP proof's RSA key must have at least {MIN_RSA_BITS} bits.")
        return key

    def _check_claims(self, claims: dict, *, method, path, now, access_token) -> None:
        jti, iat, htm, htu = (claims.get(name) for name in ("jti", "iat", "htm", "htu"))
        if not isinstance(jti, str) or not 0 < len(jti) <= 512 or not isinstance(htm, str) \
                or not isinstance(htu, str) or isinstance(iat, bool) or not isinstance(iat, int):
            raise ProofRefused("The DPoP proof needs jti, htm, htu and iat.")
        if htm != method:
            raise ProofRefused("The DPoP proof's htm is not this request's method.")
        if normalized_url(htu) != normalized_url(self.endpoint_url(path)):
            raise ProofRefused("The DPoP proof's htu is not this endpoint's URL.")
        moment = int(now.timestamp())
        if not moment - self.max_age <= iat <= moment + self.skew:
            raise ProofRefused("The DPoP proof's iat is too old or in the future.")
        ath = claims.get("ath")
        if access_token is not None and not (isinstance(ath, str) and ath.isascii()
                                             and hmac.compare_digest(ath, access_token_hash(access_token))):
            raise ProofRefused("The DPoP proof's ath is not the hash of the access token.")
        nonce = claims.get("nonce")
        if (nonce is not None or self.require_nonce) and not self.nonce_is_current(nonce, now):
            raise ProofRefused("Use the server's DPoP nonce." if nonce is None else "The DPoP nonce is stale.",
                               "use_dpop_nonce", self.nonce(now))
