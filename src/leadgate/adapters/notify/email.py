"""SMTP email: a plain-text part with an HTML alternative, one message per notification.

The Message-ID is derived from the idempotency key (``<evt_...@domain>``), so a message
sent again after a lost acknowledgement has the same Message-ID, which mail systems and
people can use to recognise it; ``X-Leadgate-Event`` and ``X-Leadgate-Delivery`` allow mail
rules. Connection security is ``starttls`` (default, port 587), ``ssl`` (implicit TLS,
port 465) or ``none`` (port 25, for a relay on the same host or network).
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import smtplib
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any

from leadgate.adapters.notify import _markdown as md
from leadgate.adapters.notify.channel import ConfigReader, DeliveryResult
from leadgate.domain.notifications import Notification

SECURITY = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
_LOOPBACK = ("localhost", "127.0.0.1", "::1")
_DOT_ATOM = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
_HOSTNAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)


@dataclass(frozen=True, slots=True)
class EmailConfig:
    """Example: ``{"host": "smtp.example.com", "from": "leadgate <alerts@example.com>",
    "to": ["sdr-team@example.com"], "username": "alerts", "password": "..."}``.

    Settings: ``host``, ``port`` (default by ``security``), ``security``, ``from``, ``to``
    (an address, a comma-separated list, or a list), ``reply_to``, ``username`` and
    ``password``, ``timeout`` (seconds per SMTP step), ``ca_file`` (a PEM bundle to trust
    instead of the system's, for a private CA), ``local_hostname`` (the EHLO name) and
    ``message_id_domain`` (default: the domain of ``from``), and ``to_recipients`` (also
    write to the people a notification is for, such as the rep who got a handoff and the
    manager of a breached one, when their ids are email addresses; ``to`` may then be left
    out).
    """

    host: str
    from_addr: str
    to: tuple[str, ...]
    port: int = 587
    security: str = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 10.0
    reply_to: str | None = None
    ca_file: str | None = None
    local_hostname: str | None = None
    message_id_domain: str | None = None
    to_recipients: bool = False

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> EmailConfig:
        reader = ConfigReader("email", config)
        host = reader.required_text("host", "the SMTP server's name")
        security = reader.choice("security", SECURITY, "starttls")
        port = reader.integer("port", DEFAULT_PORTS[security], 1, 65535)
        from_addr = reader.addresses("from", required=True, single=True)[0]
        to_recipients = reader.flag("to_recipients", False)
        to = tuple(reader.addresses("to", required=not to_recipients))
        reply_to = reader.addresses("reply_to", single=False)
        username = reader.text("username")
        password = reader.text("password")
        if (username is None) != (password is None):
            missing = "password" if password is None else "username"
            reader.fail(missing, "is required when the other of username/password is set")
        if password is not None and security == "none" and host.lower() not in _LOOPBACK:
            reader.fail(
                "password",
                "would cross the network unencrypted with security 'none'; use 'starttls' or 'ssl'",
            )
        ca_file = reader.text("ca_file")
        if ca_file is not None and not os.path.isfile(ca_file):
            reader.fail("ca_file", f"names {ca_file!r}, which is not a readable file")
        domain = reader.text("message_id_domain")
        if domain is not None and not _HOSTNAME.fullmatch(domain):
            reader.fail("message_id_domain", f"must be a domain name, got {domain!r}")
        settings = cls(
            host=host,
            from_addr=from_addr,
            to=to,
            port=port,
            security=security,
            username=username,
            password=password,
            timeout=reader.number("timeout", 10.0, 0.1, 300.0),
            reply_to=", ".join(reply_to) or None,
            ca_file=ca_file,
            local_hostname=reader.text("local_hostname"),
            message_id_domain=domain,
            to_recipients=to_recipients,
        )
        reader.done()
        return settings


class EmailChannel:
    kind = "email"

    def __init__(self, config: EmailConfig) -> None:
        self._config = config

    def deliver(self, notification: Notification) -> DeliveryResult:
        to = addressees(notification, self._config)
        if not to:
            # Nobody to write to (a queued handoff's team has no manager address): done.
            return DeliveryResult(True, None, "no recipients: nothing sent", False, 0.0)
        message = build_message(notification, self._config)
        started = time.perf_counter()
        try:
            refused = self._send(message, to)
        except OSError as exc:  # smtplib's and ssl's errors are OSErrors too
            return _result_for_error(exc, _elapsed(started))
        if refused:
            # Accepted for the others: sending again would duplicate their copies.
            return DeliveryResult(
                True, 250, f"refused: {_refusals(refused)}", False, _elapsed(started)
            )
        return DeliveryResult(True, 250, None, False, _elapsed(started))

    def close(self) -> None:
        """Nothing to release: each delivery opens and closes its own SMTP session."""

    def _send(self, message: EmailMessage, to: list[str]) -> dict[str, tuple[int, bytes]]:
        cfg = self._config
        context = ssl.create_default_context(cafile=cfg.ca_file) if cfg.security != "none" else None
        smtp: smtplib.SMTP
        if cfg.security == "ssl":
            smtp = smtplib.SMTP_SSL(
                cfg.host, cfg.port, cfg.local_hostname, timeout=cfg.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(cfg.host, cfg.port, cfg.local_hostname, timeout=cfg.timeout)
        with smtp:
            if cfg.security == "starttls":
                smtp.starttls(context=context)
            if cfg.username is not None:
                smtp.login(cfg.username, cfg.password or "")
            return smtp.send_message(
                message,
                from_addr=parseaddr(cfg.from_addr)[1],
                to_addrs=[parseaddr(a)[1] for a in to],
            )


def addressees(notification: Notification, config: EmailConfig) -> list[str]:
    """The fixed ``to`` addresses, then (with ``to_recipients``) the notification's people
    whose ids are email addresses; each once."""
    people = [r for r in notification.recipients if _is_address(r)] if config.to_recipients else []
    return list(dict.fromkeys([*config.to, *people]))


def _is_address(value: str) -> bool:
    _, address = parseaddr(value)
    return "@" in address and address == value.strip() and " " not in address


def message_id(key: str, domain: str) -> str:
    """Given an idempotency key and a domain, return the Message-ID: ``<key@domain>``.

    A key that is not a valid Message-ID left part (RFC 5322 dot-atom: no ``:``, no empty
    dot segments) is replaced by a digest of itself, so it is still one id per key.
    """
    if not _DOT_ATOM.fullmatch(key):
        key = "k-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<{key}@{domain}>"


def build_message(notification: Notification, config: EmailConfig) -> EmailMessage:
    """Given a notification and the channel's settings, return the mail to send."""
    n = notification
    domain = config.message_id_domain or parseaddr(config.from_addr)[1].rpartition("@")[2]
    message = EmailMessage()
    message["Subject"] = n.title
    message["From"] = config.from_addr
    message["To"] = ", ".join(addressees(n, config))
    if config.reply_to:
        message["Reply-To"] = config.reply_to
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id(n.key, domain)
    # RFC 3834: out-of-office robots must not answer an automatic message.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Leadgate-Event"] = n.event.value
    message["X-Leadgate-Delivery"] = n.key
    blocks = md.parse(n.body)
    message.set_content(_text(n, blocks))
    message.add_alternative(_html(n, blocks), subtype="html")
    return message


def _footer(n: Notification) -> str:
    when = n.occurred_at.astimezone(UTC)
    return f"leadgate · {n.event.value} · {when:%Y-%m-%d %H:%M %Z} · delivery {n.key}"


def _text(n: Notification, blocks: list[md.Block]) -> str:
    parts = [n.title, "=" * min(len(n.title), 72)]
    if n.facts:
        width = max(len(k) for k, _ in n.facts) + 1
        parts.append("\n".join(f"{k + ':':<{width}} {v}" for k, v in n.facts))
    if blocks:
        parts.append(md.to_text(blocks))
    if n.link:
        parts.append(f"{n.link_label}: {n.link}")
    parts.append(f"-- \n{_footer(n)}")
    return "\n\n".join(parts) + "\n"


def _html(n: Notification, blocks: list[md.Block]) -> str:
    esc = html.escape
    rows = "".join(
        '<tr><th style="text-align:left;padding:2px 16px 2px 0;color:#57606a;'
        f'font-weight:normal;vertical-align:top">{esc(k)}</th><td style="padding:2px 0">'
        f"{esc(v)}</td></tr>"
        for k, v in n.facts
    )
    button = (
        f'<p style="margin:16px 0"><a href="{esc(n.link, quote=True)}" style="display:'
        "inline-block;padding:8px 14px;background:#1f6feb;color:#ffffff;text-decoration:none;"
        f'border-radius:6px">{esc(n.link_label)}</a></p>'
        if n.link
        else ""
    )
    return (
        '<!DOCTYPE html>\n<html><body style="font-family:-apple-system,Segoe UI,Helvetica,'
        'Arial,sans-serif;font-size:14px;color:#1f2328;line-height:1.45">\n'
        f'<h2 style="margin:0 0 8px 0;font-size:18px">{esc(n.title)}</h2>\n'
        + (
            f'<table role="presentation" style="border-collapse:collapse">{rows}</table>\n'
            if rows
            else ""
        )
        + md.to_html(blocks)
        + f"\n{button}\n"
        f'<p style="color:#57606a;font-size:12px;margin-top:24px">{esc(_footer(n))}</p>\n'
        "</body></html>\n"
    )


def _result_for_error(exc: OSError, duration_ms: float) -> DeliveryResult:
    """An SMTP 4xx reply or a network failure may pass later; a 5xx reply, refused
    credentials or a certificate that does not verify will not."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        retryable = any(400 <= code < 500 for code in codes)
        error = f"all recipients refused: {_refusals(exc.recipients)}"
        return DeliveryResult(False, codes[0] if codes else None, error, retryable, duration_ms)
    if isinstance(exc, smtplib.SMTPResponseException):
        code, text = exc.smtp_code, _decode(exc.smtp_error)
        retryable = 400 <= code < 500 or code < 0
        error = f"{type(exc).__name__}: {code} {text}"
        return DeliveryResult(False, code if code > 0 else None, error, retryable, duration_ms)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return DeliveryResult(False, None, f"SMTPServerDisconnected: {exc}", True, duration_ms)
    if isinstance(exc, smtplib.SMTPException | ssl.SSLCertVerificationError):
        # STARTTLS or SMTPUTF8 not offered, no usable AUTH mechanism, an untrusted
        # certificate: the server will say the same next time.
        return DeliveryResult(False, None, f"{type(exc).__name__}: {exc}", False, duration_ms)
    # Refused, reset, timed out, TLS dropped: the server may be back later.
    return DeliveryResult(False, None, f"{type(exc).__name__}: {exc}", True, duration_ms)


def _refusals(refused: Mapping[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{addr} ({code} {_decode(text)})" for addr, (code, text) in refused.items())


def _decode(text: bytes | str) -> str:
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return " ".join(raw.split())


def _elapsed(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
