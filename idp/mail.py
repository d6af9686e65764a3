"""Outgoing mail through real SMTP (``IDP_SMTP_URL``), and the links it carries."""
from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlsplit

from flask import current_app

log = logging.getLogger(__name__)


def issuer_link(endpoint: str, **values) -> str:
    """An absolute link for a message, built from ``IDP_ISSUER`` alone (with its path, if any), never from the
    request's Host or X-Forwarded-Host: a link in mail must lead to this provider whoever asked for it.
    Works outside a request too (the CLI, ``idp worker``)."""
    issuer = urlsplit(current_app.config["IDP_ISSUER"])
    adapter = current_app.url_map.bind(issuer.netloc, script_name=issuer.path or "/", url_scheme=issuer.scheme)
    return adapter.build(endpoint, values, force_external=True)


class MailError(RuntimeError):
    """The message could not be handed to the SMTP server."""


class Mailer:
    """Sends one message per call. With no SMTP URL, logs the message (development only)."""

    def __init__(self, smtp_url: str, sender: str, timeout: float = 10.0):
        self.url = urlsplit(smtp_url) if smtp_url else None
        if self.url and self.url.scheme not in ("smtp", "smtps", "smtp+starttls"):
            from .config import ConfigError
            raise ConfigError(f"IDP_SMTP_URL scheme must be smtp, smtps or smtp+starttls, got {self.url.scheme!r}")
        self.sender = sender
        self.timeout = timeout

    def send(self, to: str, subject: str, body: str) -> None:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = to
        msg["Subject"] = subject
        msg["Message-ID"] = make_msgid(domain="motid")
        msg.set_content(body)
        if self.url is None:
            log.warning("IDP_SMTP_URL is not set; mail to %s not sent:\n%s\n%s", to, subject, body)
            return
        try:
            self._deliver(msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(str(exc)) from exc

    def _deliver(self, msg: EmailMessage) -> None:
        url = self.url
        host, port = url.hostname or "127.0.0.1", url.port
        if url.scheme == "smtps":
            client = smtplib.SMTP_SSL(host, port or 465, timeout=self.timeout,
                                      context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(host, port or 25, timeout=self.timeout)
        with client:
            if url.scheme == "smtp+starttls":
                client.starttls(context=ssl.create_default_context())
            if url.username:
                client.login(unquote(url.username), unquote(url.password or ""))
            client.send_message(msg)
