"""Hostile HTTP servers on loopback: one that answers well and counts, one that drips, one that cuts
its body short, one that redirects elsewhere. Each records how often it was asked."""
from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager


class Hostile:
    """A raw TCP server whose every connection is handled by ``behaviour(conn, server)``."""

    def __init__(self, behaviour, body: bytes = b""):
        self.behaviour = behaviour
        self.body = body
        self.hits = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, path: str = "/request.jwt", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def _serve(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.hits += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        try:
            _read_request(conn)
            self.behaviour(conn, self)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stopped.set()
        self.sock.close()


def _read_request(conn) -> bytes:
    conn.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def answer(conn, server):
    body = server.body() if callable(server.body) else server.body
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/oauth-authz-req+jwt\r\n"
                 b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)


def drip(conn, server):
    """Headers, then one byte of body every half second, for a minute."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    for _ in range(120):
        if server.stopped.is_set():
            return
        conn.sendall(b"e")
        time.sleep(0.5)


def drip_headers(conn, server):
    """The status line one byte at a time: a deadline per read never fires."""
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 200:
        if server.stopped.is_set():
            return
        conn.sendall(bytes([byte]))
        time.sleep(0.3)


def cut_short(conn, server):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"eyJhbGciOi")


def not_found(conn, server):
    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def redirect_to(target: str):
    def behaviour(conn, server):
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: " + target.encode() +
                     b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    return behaviour


@contextmanager
def hostile(behaviour, body: bytes = b""):
    server = Hostile(behaviour, body)
    try:
        yield server
    finally:
        server.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
