"""A real SMTP server on loopback for tests (aiosmtpd), scriptable to refuse or defer.

``SmtpSink`` runs aiosmtpd's threaded ``Controller`` on 127.0.0.1 and a free port. It
records every accepted message, and can be told to answer one SMTP command with a given
reply once (``451`` then success) or always (``550``). With a :class:`SelfSignedCertificate` it
offers STARTTLS (or speaks implicit TLS) and can require AUTH with one login/password.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.processes import free_port


@dataclass(frozen=True)
class SelfSignedCertificate:
    """A self-signed certificate for 127.0.0.1 and localhost, written to ``folder``."""

    cert_path: Path
    key_path: Path

    @classmethod
    def create(cls, folder: Path) -> SelfSignedCertificate:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "otp-test-smtp")])
        now = dt.datetime.now(dt.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    ]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        cert_path = folder / "smtp-cert.pem"
        key_path = folder / "smtp-key.pem"
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cls(cert_path, key_path)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts exactly this certificate."""
        return ssl.create_default_context(cafile=str(self.cert_path))


@dataclass(frozen=True)
class ReceivedEmail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    over_tls: bool
    authenticated_as: str | None


@dataclass
class _Script:
    """Replies to give instead of the normal ones, per SMTP command."""

    once: dict[str, list[str]] = field(default_factory=dict)
    always: dict[str, str] = field(default_factory=dict)

    def take(self, command: str) -> str | None:
        queued = self.once.get(command)
        if queued:
            return queued.pop(0)
        return self.always.get(command)


class _RecordingHandler:
    """aiosmtpd handler hooks: scripted replies first, otherwise accept and record."""

    def __init__(self) -> None:
        self.script = _Script()
        self.received: list[ReceivedEmail] = []
        self.lock = threading.Lock()

    def _scripted(self, command: str) -> str | None:
        with self.lock:
            return self.script.take(command)

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook names
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = self._scripted("MAIL")
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook names
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = self._scripted("RCPT")
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook names
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        reply = self._scripted("DATA")
        if reply:
            return reply
        message = email.message_from_bytes(envelope.original_content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        login = getattr(session.auth_data, "login", None) if session.authenticated else None
        with self.lock:
            self.received.append(
                ReceivedEmail(
                    mail_from=envelope.mail_from,
                    rcpt_tos=list(envelope.rcpt_tos),
                    message=message,
                    over_tls=server.transport.get_extra_info("ssl_object") is not None,
                    authenticated_as=login.decode() if isinstance(login, bytes) else None,
                )
            )
        return "250 Message accepted for delivery"


@dataclass
class SmtpSink:
    """A running test SMTP server: where to connect, and what it received."""

    host: str
    port: int
    handler: _RecordingHandler

    @property
    def received(self) -> list[ReceivedEmail]:
        with self.handler.lock:
            return list(self.handler.received)

    def reply_once(self, command: str, reply: str) -> None:
        """Answer the next ``command`` (MAIL, RCPT or DATA) with ``reply`` instead."""
        with self.handler.lock:
            self.handler.script.once.setdefault(command, []).append(reply)

    def always_reply(self, command: str, reply: str) -> None:
        with self.handler.lock:
            self.handler.script.always[command] = reply

    def smtp_target(self, **fields: Any) -> dict[str, Any]:
        """A ``DeliveryTargets.Smtp`` document pointing at this server."""
        return {
            "Host": self.host,
            "Port": self.port,
            "From": "Shop <no-reply@shop.example>",
            "Security": "none",
            **fields,
        }


class _Authenticator:
    """Accepts exactly one login/password pair (AUTH PLAIN or LOGIN)."""

    def __init__(self, login: str, password: str) -> None:
        self.login = login.encode()
        self.password = password.encode()

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.login
            and auth_data.password == self.password
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data)


@contextlib.contextmanager
def running_smtp_sink(
    *,
    certificate: SelfSignedCertificate | None = None,
    implicit_tls: bool = False,
    require_starttls: bool = False,
    auth: tuple[str, str] | None = None,
) -> Iterator[SmtpSink]:
    """Start a sink for the block: plain, STARTTLS-offering, or implicit TLS; AUTH optional.

    AUTH is offered only after STARTTLS: aiosmtpd counts only STARTTLS as TLS for AUTH,
    and turning that check off makes it warn (an error under this suite's filters).
    """
    if auth is not None and (certificate is None or implicit_tls):
        raise ValueError("the test sink offers AUTH only after STARTTLS")
    handler = _RecordingHandler()
    host = "127.0.0.1"
    port = free_port()
    options: dict[str, Any] = {"server_hostname": "localhost"}
    if certificate is not None and implicit_tls:
        options["ssl_context"] = certificate.server_context()
    elif certificate is not None:
        options["tls_context"] = certificate.server_context()
        options["require_starttls"] = require_starttls
    if auth is not None:
        options["authenticator"] = _Authenticator(*auth)
        options["auth_required"] = True
    controller = Controller(handler, hostname=host, port=port, **options)
    controller.start()
    try:
        yield SmtpSink(host=host, port=port, handler=handler)
    finally:
        controller.stop()
