"""The one guarded client for every outbound HTTP call MotID makes: request objects by reference,
clients' ``jwks_uri``, back-channel logout POSTs, OCSP and CRLs.

Whatever the caller, every exchange has:

- **one total deadline** for everything (DNS, connect, TLS, headers, body). A watchdog shuts the socket
  when it passes, so a server that drips one byte every few seconds cannot hold a thread beyond it;
- **a size cap** on the body, and no content decoding (``Accept-Encoding: identity``);
- **no redirect to another origin**: a GET may follow at most three redirects to the same scheme, host
  and port, within the same deadline; anything else is an error;
- **only global addresses**, checked after DNS resolution: loopback, private, link-local, shared,
  multicast, reserved and unspecified addresses are refused, whatever spelling led there (a name that
  resolves there, ``2130706433``, ``0x7f.1``, ``[::ffff:127.0.0.1]``). The socket connects to the address
  that was checked, so a second resolution cannot swap it (DNS rebinding). Loopback targets are allowed
  only when the issuer itself is loopback (:func:`loopback_allowed`: development and tests).

Callers get a :class:`Response` or a :class:`FetchError`, whose ``reason`` is for logs only: the text a
client sees must not tell a closed port from an open one.
"""
from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from .config import is_loopback_host

DEFAULT_DEADLINE_SECONDS = 5.0
MAX_REDIRECTS = 3
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
USER_AGENT = "MotID"


class FetchError(Exception):
    """The exchange did not produce an acceptable response; ``reason`` names why, for the log."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def loopback_allowed(config) -> bool:
    """Loopback targets are a development convenience: allowed only when the issuer is loopback."""
    return is_loopback_host(urlsplit(config.get("IDP_ISSUER", "")).hostname)


def address_allowed(address: str, *, allow_loopback: bool = False) -> bool:
    """Whether MotID may connect to this IP address (a global unicast address, or loopback in development)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if ip.version == 6:
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None:
            ip = embedded
    if ip.is_loopback:
        return allow_loopback
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_link_local)


def request(method: str, url: str, *, data: bytes | None = None, headers: dict | None = None,
            max_bytes: int, deadline: float | None = None, allow_loopback: bool | None = None) -> Response:
    """One guarded exchange. Defaults come from the current app: ``deadline`` from
    ``IDP_OUTBOUND_DEADLINE_SECONDS``, ``allow_loopback`` from :func:`loopback_allowed`."""
    config = _app_config()
    if allow_loopback is None:
        allow_loopback = loopback_allowed(config)
    if deadline is None:
        deadline = config.get("IDP_OUTBOUND_DEADLINE_SECONDS", DEFAULT_DEADLINE_SECONDS)
    ends_at = time.monotonic() + deadline
    for _ in range(MAX_REDIRECTS + 1):
        response = _exchange(method, url, data, headers or {}, max_bytes, ends_at, allow_loopback)
        if response.status not in REDIRECT_STATUSES or method != "GET":
            return response
        target = urljoin(url, response.headers.get("location", ""))
        if _origin(target) != _origin(url):
            raise FetchError("redirect to another origin")
        url = target
    raise FetchError("too many redirects")


def get_json(url: str, *, max_bytes: int):
    """A JSON document by GET (a client's ``jwks_uri``, a ``sector_identifier_uri``): the parsed value, or
    :class:`FetchError` when the exchange fails, the status is not 2xx or the body is not JSON."""
    response = request("GET", url, headers={"Accept": "application/json"}, max_bytes=max_bytes)
    if not response.ok:
        raise FetchError(f"HTTP {response.status}")
    try:
        return json.loads(response.body)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise FetchError("not JSON") from None


def _app_config() -> dict:
    from flask import current_app, has_app_context
    return current_app.config if has_app_context() else {}


def _origin(url: str) -> tuple:
    parts = urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        port = None
    return parts.scheme, (parts.hostname or "").lower(), port


def _target(url: str) -> tuple[str, str, int, str]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchError("malformed URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise FetchError("not an http(s) URL without credentials")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def _remaining(ends_at: float) -> float:
    left = ends_at - time.monotonic()
    if left <= 0:
        raise FetchError("deadline passed")
    return left


def _resolve(host: str, port: int, ends_at: float, allow_loopback: bool) -> list[str]:
    """Every address the name resolves to must be allowed (one bad answer refuses the name)."""
    result: dict = {}

    def lookup():
        try:
            result["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            result["error"] = exc

    worker = threading.Thread(target=lookup, daemon=True)  # getaddrinfo has no timeout of its own
    worker.start()
    worker.join(_remaining(ends_at))
    if worker.is_alive():
        raise FetchError("DNS lookup timed out")
    if "error" in result or not result.get("infos"):
        raise FetchError("name does not resolve")
    addresses = list(dict.fromkeys(info[4][0] for info in result["infos"]))
    if not all(address_allowed(address, allow_loopback=allow_loopback) for address in addresses):
        raise FetchError("address not allowed")
    return addresses


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to an address already checked, whatever ``host`` (kept for the Host header) resolves to."""

    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(_PinnedHTTP):
    default_port = 443
    context = None

    def connect(self):
        super().connect()
        context = type(self).context or ssl.create_default_context()
        type(self).context = context
        self.sock = context.wrap_socket(self.sock, server_hostname=self.host)


def _exchange(method, url, data, headers, max_bytes, ends_at, allow_loopback) -> Response:
    scheme, host, port, path = _target(url)
    addresses = _resolve(host, port, ends_at, allow_loopback)
    kind = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
    connection = kind(host, port, addresses[0], timeout=_remaining(ends_at))
    watchdog = threading.Timer(_remaining(ends_at), _cut, (connection,))
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request(method, path, body=data, headers={"User-Agent": USER_AGENT, "Connection": "close",
                                                             "Accept-Encoding": "identity", **headers})
        answer = connection.getresponse()
        body = answer.read(max_bytes + 1)
        if time.monotonic() >= ends_at:  # the watchdog cut the socket
            raise FetchError("deadline passed")
        if len(body) > max_bytes:
            raise FetchError("response too large")
        if answer.length:  # http.client counts down Content-Length; what is left never came
            raise FetchError("body cut short")
        return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, body)
    except FetchError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:
        reason = "deadline passed" if time.monotonic() >= ends_at else f"transport: {type(exc).__name__}"
        raise FetchError(reason) from None
    finally:
        watchdog.cancel()
        connection.close()


def _cut(connection) -> None:
    """The deadline passed: shut the socket so the blocked read returns at once."""
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
