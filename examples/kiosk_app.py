"""A one-stop-centre kiosk for MotID: the Device Authorization Grant (RFC 8628).

The kiosk has no keyboard a citizen should type a password on. It asks MotID for a device code, shows
the user code and a QR code of ``verification_uri_complete`` (drawn here, server-side, as inline SVG by
the ``qrcode`` package: no CDN, no JavaScript), and polls the token endpoint while the person approves
on their own phone. When the tokens come, it checks the ID token (signature against MotID's JWKS with
joserfc; ``iss``, ``aud``, ``exp``) and greets the person by the name in it (asked for with the
``claims`` parameter).

The page reloads itself (``<meta http-equiv="refresh">``) every ``interval`` seconds and each load polls
at most once, never sooner than the interval (which grows by 5 seconds on ``slow_down``).

Flows are kept in this process's memory: one kiosk, one process. Usage::

    python examples/kiosk_app.py --client-id ID [--issuer http://127.0.0.1:5000] [--port 5003]

Register the kiosk as a public client allowed the device grant, e.g.::

    idp clients create --name "Ki-ốt Trung tâm hành chính công" --auth-method none \\
        --grant-type urn:ietf:params:oauth:grant-type:device_code --scope "openid profile"
"""
from __future__ import annotations

import argparse
import os
import secrets
import threading
import time

import qrcode
import qrcode.image.svg
import requests
from flask import Flask, abort, redirect, render_template_string, url_for
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from markupsafe import Markup

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
HTTP_TIMEOUT = 10
SCOPE = "openid profile"
CLAIMS = '{"id_token": {"name": {"essential": true}}}'

PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
{% if refresh %}<meta http-equiv="refresh" content="{{ refresh }}">{% endif %}
<title>Ki-ốt MotID</title>
<style>
body { margin: 0; font: 20px/1.5 system-ui, "Segoe UI", Roboto, "Noto Sans", Arial, sans-serif; color: #1d2733;
       background: #f4f6f9; }
main { max-width: 40rem; margin: 2rem auto; padding: 1.5rem; background: #fff; border-radius: .5rem; text-align: center; }
.en { color: #5b6775; font-size: .85em; }
.code { font: 700 2.6rem/1.2 ui-monospace, Menlo, Consolas, monospace; letter-spacing: .2em; margin: 1rem 0; }
.qr svg { width: 260px; height: 260px; }
button { font: inherit; padding: .7rem 1.4rem; border: 0; border-radius: .35rem; background: #0b6e4f; color: #fff; }
.error { color: #8a1c1c; }
</style></head><body><main>
{% if state == "start" %}
  <h1>Đăng nhập bằng MotID trên điện thoại <span class="en">/ Sign in with MotID on your phone</span></h1>
  <form method="post" action="{{ url_for('start') }}"><button type="submit">Bắt đầu <span class="en">/ Start</span></button></form>
{% elif state == "waiting" %}
  <h1>Quét mã QR bằng điện thoại <span class="en">/ Scan the QR code with your phone</span></h1>
  <div class="qr" id="qr">{{ qr }}</div>
  <p>hoặc mở <strong id="verification-uri">{{ flow.verification_uri }}</strong> và nhập mã
     <span class="en">/ or open it and enter the code</span></p>
  <p class="code" id="user-code">{{ flow.user_code }}</p>
  <p class="en" id="status">Đang chờ bạn đồng ý… / Waiting for your approval…</p>
{% elif state == "done" %}
  <h1 id="done">Xong! Xin chào, {{ flow.name }} <span class="en">/ Done! Hello</span></h1>
  <p>Bạn đã đăng nhập trên ki-ốt. <span class="en">/ You are signed in on this kiosk.</span></p>
  <form method="post" action="{{ url_for('start') }}"><button type="submit">Người tiếp theo <span class="en">/ Next person</span></button></form>
{% else %}
  <h1 class="error" id="failed">Không thành công <span class="en">/ Not completed</span></h1>
  <p>{{ flow.error }}</p>
  <form method="post" action="{{ url_for('start') }}"><button type="submit">Thử lại <span class="en">/ Try again</span></button></form>
{% endif %}
</main></body></html>"""


class Provider:
    """MotID as the kiosk sees it: discovery and JWKS, fetched once."""

    def __init__(self, issuer: str, client_id: str):
        self.issuer, self.client_id = issuer.rstrip("/"), client_id
        self._metadata: dict | None = None
        self._keys: KeySet | None = None

    @property
    def metadata(self) -> dict:
        if self._metadata is None:
            response = requests.get(self.issuer + "/.well-known/openid-configuration", timeout=HTTP_TIMEOUT)
            response.raise_for_status()
            self._metadata = response.json()
        return self._metadata

    def start(self) -> dict:
        """RFC 8628 §3.1: a device code and a user code."""
        response = requests.post(self.metadata["device_authorization_endpoint"], timeout=HTTP_TIMEOUT,
                                 data={"client_id": self.client_id, "scope": SCOPE, "claims": CLAIMS})
        response.raise_for_status()
        return response.json()

    def poll(self, device_code: str) -> tuple[int, dict]:
        """RFC 8628 §3.4: one token request."""
        response = requests.post(self.metadata["token_endpoint"], timeout=HTTP_TIMEOUT, data={
            "grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": self.client_id})
        return response.status_code, response.json()

    def verify_id_token(self, id_token: str) -> dict:
        if self._keys is None:
            self._keys = KeySet.import_key_set(requests.get(self.metadata["jwks_uri"], timeout=HTTP_TIMEOUT).json())
        claims = jwt.decode(id_token, self._keys, algorithms=["ES256", "RS256", "EdDSA"]).claims
        jwt.JWTClaimsRegistry(iss={"essential": True, "value": self.issuer},
                              aud={"essential": True, "value": self.client_id},
                              exp={"essential": True}).validate(claims)
        return claims


def qr_svg(text: str) -> Markup:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    return Markup(image.to_string(encoding="unicode"))  # our own SVG, drawn from MotID's URI


def create_app(provider: Provider) -> Flask:
    app = Flask(__name__)
    flows: dict[str, dict] = {}
    lock = threading.Lock()

    @app.get("/")
    def home():
        return render_template_string(PAGE, state="start", refresh=None)

    @app.post("/start")
    def start():
        started = provider.start()
        flow_id = secrets.token_urlsafe(16)
        with lock:
            flows[flow_id] = {**started, "state": "waiting", "last_poll": time.monotonic(),
                              "deadline": time.monotonic() + started["expires_in"]}
        return redirect(url_for("flow", flow_id=flow_id), code=303)

    @app.get("/flow/<flow_id>")
    def flow(flow_id):
        with lock:
            current = flows.get(flow_id)
            if current is None:
                abort(404)
            if current["state"] == "waiting" and time.monotonic() - current["last_poll"] >= current["interval"]:
                current["last_poll"] = time.monotonic()
                advance(provider, current)
        qr = qr_svg(current["verification_uri_complete"]) if current["state"] == "waiting" else None
        return render_template_string(PAGE, state=current["state"], flow=current, qr=qr,
                                      refresh=current["interval"] if current["state"] == "waiting" else None)

    return app


def advance(provider: Provider, flow: dict) -> None:
    """One poll, and what it means for the flow (RFC 8628 §3.5)."""
    status, body = provider.poll(flow["device_code"])
    if status == 200:
        try:
            claims = provider.verify_id_token(body["id_token"])
        except (JoseError, KeyError, ValueError) as exc:
            flow.update(state="failed", error=f"ID token refused: {exc}")
            return
        flow.update(state="done", name=claims.get("name") or claims["sub"])
    elif body.get("error") == "slow_down":
        flow["interval"] += 5
    elif body.get("error") != "authorization_pending":
        flow.update(state="failed", error={"access_denied": "Yêu cầu đã bị từ chối. / The request was denied.",
                                           "expired_token": "Mã đã hết hạn. / The code expired."}.get(
            body.get("error"), body.get("error", f"HTTP {status}")))


def main(argv=None) -> None:
    env = os.environ.get
    parser = argparse.ArgumentParser(description="MotID demo kiosk (RFC 8628 device authorization grant)")
    parser.add_argument("--client-id", default=env("KIOSK_CLIENT_ID"))
    parser.add_argument("--issuer", default=env("KIOSK_ISSUER", "http://127.0.0.1:5000"))
    parser.add_argument("--host", default=env("KIOSK_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env("KIOSK_PORT", "5003")))
    args = parser.parse_args(argv)
    if not args.client_id:
        parser.error("--client-id (or KIOSK_CLIENT_ID) is required")
    create_app(Provider(args.issuer, args.client_id)).run(host=args.host, port=args.port, threaded=True)


if __name__ == "__main__":
    main()
