"""Email as data: the SMTP target, the MIME message, and what an SMTP answer means.

No I/O here. ``core/delivery/channels/email.py`` opens the connection; this module decides what
is sent and how an outcome is classified, so both are unit-testable and the delivery
service can record an :class:`~core.delivery.attempts.AttemptResult` without knowing SMTP.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from typing import Any, Literal

from core.delivery.attempts import AttemptStatus
from core.delivery.templates import RenderedMessage
from core.platform.errors import UnsendableEmail

SmtpSecurity = Literal["starttls", "tls", "none"]
SECURITY_MODES: tuple[SmtpSecurity, ...] = ("starttls", "tls", "none")
DEFAULT_PORTS: dict[SmtpSecurity, int] = {"starttls": 587, "tls": 465, "none": 25}
# Longest error text kept for the delivery row; a relay's multi-line banner says nothing more.
MAX_ERROR_LENGTH = 300
# CRLF line ends, and 7-bit bodies (quoted-printable or base64 for accented text) so a
# relay without 8BITMIME receives a valid message too.
_WIRE_POLICY = SMTP.clone(cte_type="7bit")
REDACTED = "[redacted]"


@dataclass(frozen=True)
class SmtpTarget:
    """A delivery config's ``Smtp`` target, checked."""

    host: str
    port: int
    from_address: str  # as configured: ``ops@example.com`` or ``Shop <ops@example.com>``
    security: SmtpSecurity = "starttls"
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # the default repr would print the password
        return (
            f"SmtpTarget(host={self.host!r}, port={self.port}, security={self.security!r}, "
            f"from_address={self.from_address!r}, username={self.username!r})"
        )

    @property
    def sender_address(self) -> str:
        """The bare address of ``From`` (the SMTP envelope sender)."""
        return parseaddr(self.from_address)[1]

    @property
    def sender_domain(self) -> str:
        return self.sender_address.rpartition("@")[2]

    @property
    def authenticates(self) -> bool:
        return bool(self.username)

    @property
    def host_is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


_HOST_RE = re.compile(r"^[A-Za-z0-9.\-:\[\]]{1,253}$")


def parse_smtp_target(raw: Mapping[str, Any]) -> SmtpTarget:
    """A ``DeliveryTargets.Smtp`` document as stored; :class:`UnsendableEmail` when unusable."""
    host = raw.get("Host")
    if not isinstance(host, str) or not _HOST_RE.match(host):
        raise UnsendableEmail("Smtp target has no valid Host")
    security = raw.get("Security") or "starttls"
    if security not in SECURITY_MODES:
        raise UnsendableEmail(f"Smtp Security must be one of {', '.join(SECURITY_MODES)}")
    port = raw.get("Port") or DEFAULT_PORTS[security]
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise UnsendableEmail("Smtp Port must be a whole number from 1 to 65535")
    from_address = raw.get("From")
    if not isinstance(from_address, str):
        raise UnsendableEmail("Smtp target has no From address")
    _check_address("From", parseaddr(from_address)[1])
    username = raw.get("Username") or None
    password = raw.get("Password") or None
    if username is not None and not isinstance(username, str):
        raise UnsendableEmail("Smtp Username must be text")
    if password is not None and not isinstance(password, str):
        raise UnsendableEmail("Smtp Password must be text")
    return SmtpTarget(
        host=host,
        port=port,
        from_address=from_address,
        security=security,
        username=username,
        password=password,
    )


def _check_address(role: str, address: str) -> Address:
    """A syntactically valid, single ``local@domain`` address (no header tricks)."""
    if not address or "\r" in address or "\n" in address or "@" not in address:
        raise UnsendableEmail(f"{role} is not an email address")
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, IndexError):
        raise UnsendableEmail(f"{role} is not an email address") from None
    if not parsed.username or not parsed.domain:
        raise UnsendableEmail(f"{role} is not an email address")
    return parsed


def message_id_for(delivery_id: str, sender_domain: str) -> str:
    """``<delivery id@From's domain>``: the same on every retry, so mailboxes drop duplicates."""
    return f"<{delivery_id}@{sender_domain}>"


def single_line(text: str) -> str:
    """A template's subject as one header line (templates end with a newline)."""
    return " ".join(text.split())


def build_email(
    target: SmtpTarget,
    *,
    recipient: str,
    content: RenderedMessage,
    delivery_id: str,
    sent_at: datetime,
) -> EmailMessage:
    """A multipart/alternative message: the text part first, then the HTML part."""
    _check_address("recipient", recipient)
    message = EmailMessage(policy=_WIRE_POLICY)
    message["Subject"] = single_line(content.subject)
    message["From"] = target.from_address
    message["To"] = recipient
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = message_id_for(delivery_id, target.sender_domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
    message.set_content(content.text)
    message.add_alternative(content.html, subtype="html")
    return message


def classify_reply(code: int | None) -> AttemptStatus:
    """2xx/3xx delivered; 4xx (421, 450, 451, 452, 454) retry; 5xx (535, 550, 553, 554) fail.

    ``None`` (no reply at all: refused connection, timeout, dropped link) is transient.
    """
    if code is None:
        return AttemptStatus.RETRY
    if 200 <= code < 400:
        return AttemptStatus.DELIVERED
    # RFC 5321 4.2.1: 4yz is a transient negative reply, 5yz a permanent one.
    return AttemptStatus.RETRY if code < 500 else AttemptStatus.FAILED


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every non-empty secret replaced, then shortened for storage."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = " ".join(text.split())
    if len(text) > MAX_ERROR_LENGTH:
        text = text[: MAX_ERROR_LENGTH - 1] + "…"
    return text
