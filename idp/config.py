"""Every MotID setting, read from ``IDP_*`` environment variables.

Each setting has a secure default and a comment saying what it does. ``validate()``
fails closed: the application refuses to start, with a one-line reason, on a
configuration that would be unsafe in production.
"""
from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit


class ConfigError(RuntimeError):
    """Raised when the configuration is unsafe or malformed; the message is one line."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    doc: str
    kind: type = str


SETTINGS = [
    Setting("IDP_ISSUER", "http://127.0.0.1:5000",
            "The OpenID issuer URL, exactly as relying parties see it. Must be https unless it is loopback."),
    Setting("IDP_DATABASE_URL", "",
            "SQLAlchemy URL. Empty: the embedded SQLite file <instance>/motid.sqlite3 (WAL mode). "
            "Production: postgresql+psycopg://user@host/db."),
    Setting("IDP_TRUSTED_HOSTS", "",
            "Comma-separated host names (no port) this server also answers to besides the issuer's host, e.g. "
            "the address a load balancer's health check uses; a leading dot allows every subdomain. A request "
            "for any other Host (or X-Forwarded-Host) gets 400. Links in mail are built from IDP_ISSUER alone."),
    Setting("IDP_REDIS_URL", "",
            "Redis URL (redis://, rediss://, redis+unix://, redis+sentinel://, redis+cluster://) for the rate-limit "
            "counters. Empty: the counters live in the database (table rate_limit_counters), which every process "
            "and node already shares. If Redis is unreachable, limited endpoints answer 503 (never a per-process "
            "fallback)."),
    Setting("IDP_RATELIMIT_KEY_PREFIX", "motid",
            "Prefix of every rate-limit key; give each deployment sharing one Redis its own."),
    Setting("IDP_SMTP_URL", "",
            "Where mail is sent: smtp://[user:pass@]host:port (plain), smtp+starttls://..., smtps://... (TLS). "
            "Empty: messages are written to the application log instead (development only)."),
    Setting("IDP_MAIL_FROM", "MotID <no-reply@motid.local>", "The From header of every message."),
    Setting("IDP_MASTER_KEY", "",
            "Comma-separated Fernet keys encrypting secrets at rest; the first encrypts, all decrypt "
            "(rotation). Empty: <keys>/master.key, created with mode 0600 on first start of the embedded "
            "default only."),
    Setting("IDP_INSTANCE_PATH", "instance", "Folder for the SQLite file and other local state."),
    Setting("IDP_KEYS_PATH", "keys", "Folder for local key material (master.key, trust/)."),
    Setting("IDP_DEBUG", False, "Flask debug mode. Refused with a non-loopback issuer.", bool),
    Setting("IDP_SESSION_IDLE_SECONDS", 30 * 60, "An SSO session ends after this long without use.", int),
    Setting("IDP_SESSION_MAX_SECONDS", 12 * 3600, "An SSO session ends this long after login, used or not.", int),
    Setting("IDP_HOUSEKEEPING_SECONDS", 3600, "How often `idp worker` runs its housekeeping: certificate expiry "
            "warnings, purges of expired challenges and stale records.", int),
    Setting("IDP_RETENTION_EXPIRED_DAYS", 7, "Days kept after they expired or were revoked: authorization codes, "
            "refresh tokens, grants, used jti values, challenges, one-time links. Longer than an access token "
            "lives.", int),
    Setting("IDP_RETENTION_SESSION_DAYS", 30, "Days an ended or expired SSO session (and which applications "
            "it signed in to) is kept, for the person's sessions page and investigations.", int),
    Setting("IDP_RETENTION_OUTBOX_DAYS", 30, "Days a delivered or abandoned back-channel logout is kept.", int),
    Setting("IDP_AUDIT_RETENTION_DAYS", 0, "Days the audit log is kept; 0 keeps it for ever. Purged events "
            "leave a checkpoint (an HMAC under the audit key), so `idp audit verify` still checks the rest.", int),
    Setting("IDP_LOGIN_LIMIT_PER_IP", "30/minute;300/hour", "Login attempts allowed from one IP address."),
    Setting("IDP_LOGIN_LIMIT_PER_ACCOUNT", "10/minute;60/hour",
            "Login attempts allowed against one login identifier, whatever the source address."),
    Setting("IDP_SECOND_FACTOR_LIMIT", "5/minute;30/hour", "Second-factor code attempts allowed per account.",),
    Setting("IDP_LOCKOUT_THRESHOLD", 5, "Consecutive password failures that lock an account temporarily.", int),
    Setting("IDP_LOCKOUT_SECONDS", 15 * 60, "How long a temporary lockout lasts.", int),
    Setting("IDP_ARGON2_TIME_COST", 2, "argon2id iterations (OWASP minimum 2 at 19 MiB).", int),
    Setting("IDP_ARGON2_MEMORY_KIB", 19 * 1024, "argon2id memory in KiB (OWASP minimum 19456).", int),
    Setting("IDP_ARGON2_PARALLELISM", 1, "argon2id lanes.", int),
    Setting("IDP_EMAIL_TOKEN_SECONDS", 24 * 3600, "Lifetime of an email-verification link.", int),
    Setting("IDP_RESET_TOKEN_SECONDS", 3600, "Lifetime of a password-reset link.", int),
    Setting("IDP_CODE_SECONDS", 60, "Lifetime of an authorization code (RFC 6749 §4.1.2: short).", int),
    Setting("IDP_ACCESS_TOKEN_SECONDS", 900, "Lifetime of an access token (JWT, RFC 9068).", int),
    Setting("IDP_ID_TOKEN_SECONDS", 900, "Lifetime of an ID token.", int),
    Setting("IDP_REFRESH_TOKEN_SECONDS", 30 * 86400, "Lifetime of a refresh token (rotated on every use).", int),
    # -- device authorization grant (RFC 8628, idp/oidc/device.py): kiosks and counter screens --
    Setting("IDP_DEVICE_CODE_SECONDS", 600,
            "Lifetime of a device code and its user code (RFC 8628 §3.2 expires_in): how long a person has to "
            "approve a kiosk's request.", int),
    Setting("IDP_DEVICE_POLL_SECONDS", 5,
            "The polling interval a device is given (RFC 8628 §3.2 interval); a device that polls faster gets "
            "slow_down and 5 more seconds.", int),
    Setting("IDP_DEVICE_CODE_LIMIT_PER_IP", "10/minute;60/hour",
            "User codes one address may submit on the verification page (/device): against guessing."),
    Setting("IDP_DEVICE_CODE_LIMIT_GLOBAL", "300/minute",
            "User codes all addresses together may submit on the verification page: against distributed guessing."),
    Setting("IDP_REQUIRE_PAR", False,
            "Accept authorization requests only through pushed authorization requests (RFC 9126): /authorize "
            "without a request_uri from /par fails with invalid_request, for every client. Off: only clients "
            "registered with require_pushed_authorization_requests must push.", bool),
    Setting("IDP_KEY_ROTATION_DELAY_SECONDS", 3600,
            "After `idp keys rotate`, how long a new key is only published before it signs; must exceed "
            "relying parties' JWKS cache time.", int),
    Setting("IDP_CACHE_CHECK_SECONDS", 0.5,
            "How often a process asks the database whether another node changed a client or a signing key "
            "(its caches then drop them); a change takes effect everywhere within about this long.", float),
    Setting("IDP_PROXY_HOPS", 0,
            "Reverse proxies in front of the app whose X-Forwarded-* headers are trusted (nginx: 1).", int),
    Setting("IDP_OUTBOUND_DEADLINE_SECONDS", 5,
            "Total time allowed for one outbound HTTP exchange (request_uri, jwks_uri, back-channel logout; "
            "idp/net.py): DNS, connect, TLS and the whole body.", int),
    Setting("IDP_UPSTREAM_JWKS_REFETCH_SECONDS", 60,
            "A token naming a key an upstream provider's cached JWKS lacks (the upstream rotated) makes MotID "
            "fetch that JWKS again at most once per this many seconds per provider and process, so tokens with "
            "made-up kids cannot make MotID hammer the upstream.", int),
    Setting("IDP_DEFAULT_SUBJECT_TYPE", "public",
            "subject_type given to a new client that does not choose one (OIDC Core §8): public (one sub per "
            "person for every client) or pairwise (a different sub per sector, so clients cannot correlate "
            "people). Applied at registration only: a client keeps its subject type until it is changed."),
    Setting("IDP_PAIRWISE_SECRET", "",
            "The key of pairwise sub values (HMAC-SHA256), the same on every node. Empty: derived from the first "
            "IDP_MASTER_KEY, so putting a new master key first would change every pairwise sub; set this before "
            "rotating the master key of a server with pairwise clients, and never change it afterwards."),
    # -- DPoP, sender-constrained tokens (RFC 9449; idp/oidc/dpop.py) --
    Setting("IDP_DPOP_PROOF_SECONDS", 60,
            "How old a DPoP proof may be (its iat); its jti is remembered this long to refuse a replay.", int),
    Setting("IDP_DPOP_CLOCK_SKEW_SECONDS", 5,
            "How far in the future a DPoP proof's iat may be (the client's clock running ahead).", int),
    Setting("IDP_DPOP_REQUIRE_NONCE", False,
            "Require a server nonce in every DPoP proof (RFC 9449 §8, §9): a proof without a current one is "
            "answered use_dpop_nonce with a DPoP-Nonce header, so a client's first DPoP request costs one more "
            "round trip. Nonces are an HMAC of the time under a key derived from the master key: every node "
            "issues and accepts the same ones. Off: a nonce is checked only when a proof carries one.", bool),
    Setting("IDP_DPOP_NONCE_SECONDS", 300,
            "A DPoP nonce is good for this long to twice this long (the current and the previous period).", int),
    # -- digital-signature certificates (idp/accounts/certificates/) --
    Setting("IDP_CERT_REVOCATION_FAIL_OPEN", False,
            "When no CRL or OCSP answer can be had for a certificate (responder unreachable, CRL out of date), "
            "accept it anyway. Off: such a certificate is refused (fail closed).", bool),
    Setting("IDP_CERT_FETCH_TIMEOUT_SECONDS", 5, "Timeout for fetching a CRL or asking an OCSP responder.", int),
    Setting("IDP_CERT_URL_REWRITES", "",
            "Comma-separated from=to URL prefixes applied to OCSP and CRL addresses found in certificates, e.g. "
            "http://ocsp.ca.ptc=http://ocsp.ca.gov.vn for an internal AIA address."),
    Setting("IDP_CERT_CHALLENGE_SECONDS", 300, "Lifetime of a challenge to sign (binding or login).", int),
    Setting("IDP_CERT_EXPIRY_WARNING_DAYS", 30, "Email the holder this many days before a bound certificate "
            "expires (sent by `idp worker`; `idp certs warn-expiring` does it at once).", int),
    Setting("IDP_CERT_HARDWARE_POLICIES", "",
            "Comma-separated certificate-policy OIDs meaning the key lives in a hardware token: logins with such "
            "a certificate get amr hwk, others swk."),
    Setting("IDP_CERT_IDENTITY_PARSER", "idp.accounts.certificates.identity:parse_subject",
            "module:function that reads identity numbers from a certificate subject (replaceable for new "
            "certificate profiles)."),
    Setting("IDP_CERT_PROXY_ADDRESSES", "",
            "Comma-separated addresses or networks of the TLS-terminating proxies whose client-certificate header "
            "is believed. Empty: TLS client-certificate login is off."),
    Setting("IDP_METRICS_ALLOW", "",
            "Comma-separated addresses or networks that may read /metrics (Prometheus text format), e.g. "
            "127.0.0.1,10.0.5.0/24. With IDP_METRICS_TOKEN empty too, metrics are off: nothing is counted and "
            "/metrics answers 404. Behind a proxy, set IDP_PROXY_HOPS so the reader's own address is seen."),
    Setting("IDP_METRICS_TOKEN", "",
            "A bearer token that may read /metrics from any address (Authorization: Bearer ...)."),
    Setting("IDP_LOG_FORMAT", "text",
            "text (the default) or json: one JSON object a line, with a line per request (request id, client "
            "id, endpoint, status, duration). Tokens, passwords and 12-digit personal numbers are never "
            "written."),
    Setting("IDP_CERT_HEADER", "X-SSL-Client-Cert",
            "The header in which the proxy forwards the client certificate (nginx: $ssl_client_escaped_cert)."),
]

_TRUE = {"1", "true", "yes", "on"}


def _coerce(setting: Setting, raw: str):
    if setting.kind is bool:
        return raw.strip().lower() in _TRUE
    if setting.kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{setting.name} must be an integer, got {raw!r}") from None
    if setting.kind is float:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{setting.name} must be a number, got {raw!r}") from None
    return raw


def from_environ(environ=None) -> dict:
    """Read every setting from the environment, falling back to its default."""
    environ = os.environ if environ is None else environ
    values = {}
    for setting in SETTINGS:
        raw = environ.get(setting.name)
        values[setting.name] = setting.default if raw is None or raw == "" else _coerce(setting, raw)
    return values


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_embedded_database(url: str) -> bool:
    return not url or url.startswith("sqlite")


_HOST_NAME = re.compile(r"\.?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*", re.IGNORECASE)
REDIS_SCHEMES = ("redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster")


def trusted_hosts(config) -> list[str] | None:
    """Flask's ``TRUSTED_HOSTS``: the issuer's host, its loopback aliases when it is loopback (development),
    ``SERVER_NAME``'s host when one is configured, and ``IDP_TRUSTED_HOSTS``. ``None`` (any host) only for
    an IPv6 loopback issuer, which Werkzeug cannot match; links never depend on the Host header anyway."""
    host = urlsplit(config["IDP_ISSUER"]).hostname or ""
    if ":" in host:
        return None
    hosts = [host] + (["localhost", "127.0.0.1"] if is_loopback_host(host) else [])
    if config.get("SERVER_NAME"):
        hosts.append(urlsplit("//" + config["SERVER_NAME"]).hostname)
    hosts += [name.strip().lower() for name in (config.get("IDP_TRUSTED_HOSTS") or "").split(",") if name.strip()]
    return list(dict.fromkeys(hosts))


def _validate_hosts_and_stores(config, issuer_host: str, loopback: bool) -> None:
    if ":" in issuer_host and not loopback:
        raise ConfigError("IDP_ISSUER must name its host by a DNS name or an IPv4 address: an IPv6 literal "
                          "cannot be checked against the Host header")
    for name in (config.get("IDP_TRUSTED_HOSTS") or "").split(","):
        if name.strip() and not _HOST_NAME.fullmatch(name.strip()):
            raise ConfigError(f"IDP_TRUSTED_HOSTS: {name.strip()!r} is not a host name (no scheme, port or IPv6)")
    redis_url = config.get("IDP_REDIS_URL") or ""
    if redis_url and urlsplit(redis_url).scheme not in REDIS_SCHEMES:
        raise ConfigError("IDP_REDIS_URL must be a redis://, rediss://, redis+unix://, redis+sentinel:// or "
                          "redis+cluster:// URL: rate limits need a store every process shares")
    if (config.get("RATELIMIT_STORAGE_URI") or "").startswith("memory"):
        raise ConfigError("rate limits in process memory would be counted by each process alone; leave "
                          "RATELIMIT_STORAGE_URI unset (the database counts) or set IDP_REDIS_URL")


def validate(config) -> None:
    """Refuse an unsafe configuration. Raises :class:`ConfigError` with a one-line reason."""
    issuer = config["IDP_ISSUER"]
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"IDP_ISSUER must be an absolute http(s) URL, got {issuer!r}")
    if parts.query or parts.fragment or issuer.endswith("/"):
        raise ConfigError("IDP_ISSUER must have no query, fragment or trailing slash (OIDC Discovery §2)")
    loopback = is_loopback_host(parts.hostname)
    _validate_hosts_and_stores(config, parts.hostname, loopback)
    if parts.scheme == "http" and not loopback:
        raise ConfigError("IDP_ISSUER uses http on a non-loopback host; use https")
    if config["IDP_DEBUG"] and not loopback:
        raise ConfigError("IDP_DEBUG is on with a non-loopback issuer; debug mode exposes a code console")
    if not is_embedded_database(config["IDP_DATABASE_URL"]) and not config["IDP_MASTER_KEY"]:
        key_file = os.path.join(config["IDP_KEYS_PATH"], "master.key")
        if not os.path.exists(key_file):
            raise ConfigError("IDP_MASTER_KEY is not set and no keys/master.key exists; a shared database "
                              "needs the same master key on every node")
    if config["IDP_ARGON2_MEMORY_KIB"] < 8 or config["IDP_ARGON2_TIME_COST"] < 1:
        raise ConfigError("IDP_ARGON2_* parameters are below argon2's minimum")
    if config["IDP_SESSION_IDLE_SECONDS"] <= 0 or config["IDP_SESSION_MAX_SECONDS"] <= 0:
        raise ConfigError("IDP_SESSION_IDLE_SECONDS and IDP_SESSION_MAX_SECONDS must be positive")
    for name in ("IDP_CERT_PROXY_ADDRESSES", "IDP_METRICS_ALLOW"):
        for network in (config.get(name) or "").split(","):
            try:
                if network.strip():
                    ipaddress.ip_network(network.strip(), strict=False)
            except ValueError:
                raise ConfigError(f"{name}: {network.strip()!r} is not an address or network") from None
    if config.get("IDP_LOG_FORMAT", "text") not in ("text", "json"):
        raise ConfigError("IDP_LOG_FORMAT must be text or json")
    if config["IDP_RETENTION_EXPIRED_DAYS"] * 86400 < config["IDP_ACCESS_TOKEN_SECONDS"] or min(
            config["IDP_RETENTION_EXPIRED_DAYS"], config["IDP_RETENTION_SESSION_DAYS"],
            config["IDP_RETENTION_OUTBOX_DAYS"]) < 1 or config["IDP_AUDIT_RETENTION_DAYS"] < 0:
        raise ConfigError("IDP_RETENTION_*_DAYS must be at least 1, and IDP_RETENTION_EXPIRED_DAYS longer than "
                          "an access token lives")
    if config["IDP_DEFAULT_SUBJECT_TYPE"] not in ("public", "pairwise"):
        raise ConfigError("IDP_DEFAULT_SUBJECT_TYPE must be public or pairwise")
    if min(config["IDP_DPOP_PROOF_SECONDS"], config["IDP_DPOP_NONCE_SECONDS"]) <= 0 \
            or config["IDP_DPOP_CLOCK_SKEW_SECONDS"] < 0:
        raise ConfigError("IDP_DPOP_PROOF_SECONDS and IDP_DPOP_NONCE_SECONDS must be positive, "
                          "IDP_DPOP_CLOCK_SKEW_SECONDS not negative")
    if config["IDP_HOUSEKEEPING_SECONDS"] <= 0:
        raise ConfigError("IDP_HOUSEKEEPING_SECONDS must be positive")
    if config["IDP_DEVICE_CODE_SECONDS"] <= 0 or config["IDP_DEVICE_POLL_SECONDS"] <= 0:
        raise ConfigError("IDP_DEVICE_CODE_SECONDS and IDP_DEVICE_POLL_SECONDS must be positive")
    if config["IDP_CERT_CHALLENGE_SECONDS"] <= 0 or config["IDP_CERT_FETCH_TIMEOUT_SECONDS"] <= 0:
        raise ConfigError("IDP_CERT_CHALLENGE_SECONDS and IDP_CERT_FETCH_TIMEOUT_SECONDS must be positive")
