"""The email channel: one OTP message by SMTP to the user's address.

The message itself and the meaning of each SMTP answer come from ``core.delivery.mail``; this
module only talks to the relay. Every send is one connection: OTP mail is rare and
latency-insensitive, and a fresh connection per message keeps a worker thread free of
shared socket state.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Collection, Mapping
from contextlib import suppress
from email.message import EmailMessage
from typing import Any

from core.delivery.address_policy import AddressPolicy, BlockedDestination
from core.delivery.attempts import AttemptResult, AttemptStatus, OtpMessage
from core.delivery.mail import (
    SmtpTarget,
    build_email,
    classify_reply,
    parse_smtp_target,
    redact,
)
from core.delivery.templates import RenderedMessage
from core.platform.clock import Clock, SystemClock
from core.platform.errors import UnsendableEmail

# Seconds per socket operation (connect, each command, DATA). Not OTP_WEBHOOK_TIMEOUT: a
# relay's greeting may be delayed on purpose (tarpitting, greylisting checks), so SMTP
# needs longer than an HTTP POST; 30 s still leaves most of an OTP's 10 minutes for retries.
SMTP_TIMEOUT = 30.0
_DELIVERED_CODE = 250  # smtplib returns from DATA only on 250


class EmailChannel:
    """Sends each OTP message to its user's address through the sender's ``Smtp`` target."""

    def __init__(self, sender: SmtpEmailSender | None = None) -> None:
        self.sender = sender or SmtpEmailSender()

    def send(self, message: OtpMessage) -> AttemptResult:
        return send_email(
            self.sender,
            message.target_settings,
            recipient=message.user.email,
            content=message.message,
            delivery_id=message.delivery_id,
            secrets=(message.code,),
        )

    def close(self) -> None:
        """Nothing to release: every send opens and closes its own connection."""


def send_email(
    sender: SmtpEmailSender,
    raw_target: Mapping[str, Any],
    *,
    recipient: str | None,
    content: RenderedMessage,
    delivery_id: str,
    secrets: Collection[str] = (),
) -> AttemptResult:
    """Parse a stored ``Smtp`` target and send; a bad target or no address fails for good.

    ``secrets`` (the code, at least) are scrubbed from the error text along with the
    target's password.
    """
    if not recipient:
        return AttemptResult.failed("the user has no email address")
    try:
        target = parse_smtp_target(raw_target)
    except UnsendableEmail as error:
        return AttemptResult.failed(str(error))
    return sender.send(
        target, recipient=recipient, content=content, delivery_id=delivery_id, secrets=secrets
    )


class SmtpEmailSender:
    """Sends over SMTP: STARTTLS (never downgraded), implicit TLS, or plain. Never raises
    for a delivery problem: the outcome is in the result."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        timeout: float = SMTP_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
        address_policy: AddressPolicy | None = None,
    ) -> None:
        self.clock = clock or SystemClock()
        # Which relay addresses may be connected to (OTP_BLOCKED_TARGET_NETWORKS);
        # none given allows every address (tests of the SMTP conversation itself).
        self.address_policy = address_policy or AddressPolicy(blocked=())
        self.timeout = timeout
        # Certificates are verified against the system's CAs unless a context is given.
        self.ssl_context = ssl_context or ssl.create_default_context()
        self._local_hostname = local_hostname

    @property
    def local_hostname(self) -> str:
        """The EHLO name; ``socket.getfqdn()`` can take seconds, so it is looked up once."""
        if self._local_hostname is None:
            self._local_hostname = socket.getfqdn()
        return self._local_hostname

    def send(
        self,
        target: SmtpTarget,
        *,
        recipient: str,
        content: RenderedMessage,
        delivery_id: str,
        secrets: Collection[str] = (),
    ) -> AttemptResult:
        hidden = (target.password, *secrets)
        try:
            message = build_email(
                target,
                recipient=recipient,
                content=content,
                delivery_id=delivery_id,
                sent_at=self.clock.now(),
            )
        except UnsendableEmail as error:
            return AttemptResult.failed(str(error))
        if target.authenticates and target.security == "none" and not target.host_is_loopback:
            return AttemptResult.failed(
                "refusing to send SMTP credentials over an unencrypted connection"
            )
        try:
            self._transmit(target, message, recipient)
        except BlockedDestination as error:
            return AttemptResult.failed(str(error))
        except OSError as error:  # smtplib's and ssl's exceptions are OSErrors too
            return _failure_result(error, hidden, self.timeout)
        except UnicodeError as error:
            # Raised before anything is sent (a non-ASCII credential): no retry fixes it.
            return AttemptResult.failed(
                f"{type(error).__name__}: the credentials or addresses cannot be encoded"
            )
        return AttemptResult.delivered(_DELIVERED_CODE)

    def _transmit(self, target: SmtpTarget, message: EmailMessage, recipient: str) -> None:
        smtp = self._connect(target)
        try:
            if target.security == "starttls":
                smtp.starttls(context=self.ssl_context)
            if target.username:
                smtp.login(target.username, target.password or "")
            smtp.send_message(message, from_addr=target.sender_address, to_addrs=[recipient])
            # The relay has the message; a failing QUIT must not turn that into a retry.
            with suppress(smtplib.SMTPException, OSError):
                smtp.quit()
        finally:
            smtp.close()

    def _connect(self, target: SmtpTarget) -> smtplib.SMTP:
        smtp: _PolicedSMTP | _PolicedSMTPSSL
        if target.security == "tls":
            smtp = _PolicedSMTPSSL(
                local_hostname=self.local_hostname, timeout=self.timeout, context=self.ssl_context
            )
        else:
            smtp = _PolicedSMTP(local_hostname=self.local_hostname, timeout=self.timeout)
        smtp.address_policy = self.address_policy
        # What SMTP(host) sets before connecting: STARTTLS and implicit TLS check the
        # relay's certificate against this name, not against the address connected to.
        smtp._host = target.host
        # What smtplib.SMTP(host, port) does, with the policy in place before connecting.
        code, reply = smtp.connect(target.host, target.port)
        if code != _GREETING_CODE:
            smtp.close()
            raise smtplib.SMTPConnectError(code, reply)
        return smtp


_GREETING_CODE = 220


class _PolicedSMTP(smtplib.SMTP):
    """Connects to the address the policy allows; TLS still checks the host's name."""

    address_policy: AddressPolicy
    _host: str  # smtplib's own: the name TLS verifies

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        address = self.address_policy.resolve(host, port)
        connected: socket.socket = super()._get_socket(address, port, timeout)  # type: ignore[misc]
        return connected


class _PolicedSMTPSSL(smtplib.SMTP_SSL):
    address_policy: AddressPolicy
    _host: str  # smtplib's own: the name TLS verifies

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        # SMTP_SSL wraps the socket with server_hostname=self._host, the relay's name.
        address = self.address_policy.resolve(host, port)
        connected: socket.socket = super()._get_socket(address, port, timeout)  # type: ignore[misc]
        return connected


def _failure_result(
    error: OSError, hidden: Collection[str | None], timeout: float
) -> AttemptResult:
    """What a failed SMTP conversation means for the delivery, in words safe to store."""
    code: int | None = None
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(error.recipients.values()), (None, b""))
        outcome, text = _reply_outcome(code), f"SMTP {code} {_decoded(reply)}"
    elif isinstance(error, smtplib.SMTPResponseException):
        code = error.smtp_code
        outcome, text = _reply_outcome(code), f"SMTP {code} {_decoded(error.smtp_error)}"
    elif isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError):
        # smtplib reports a reply that never came as a disconnect caused by the timeout.
        outcome, text = AttemptStatus.RETRY, f"timed out after {timeout:g}s"
    elif isinstance(error, smtplib.SMTPServerDisconnected):
        outcome, text = AttemptStatus.RETRY, f"connection closed: {error}"
    elif isinstance(error, smtplib.SMTPException):
        # Includes STARTTLS or AUTH asked for but not offered: a configuration problem
        # no retry fixes, and never a reason to fall back to sending in clear.
        outcome, text = AttemptStatus.FAILED, str(error)
    elif isinstance(error, ssl.SSLCertVerificationError):
        outcome, text = AttemptStatus.FAILED, f"TLS certificate rejected: {error.verify_message}"
    else:  # refused connection, unknown host, reset link, TLS handshake failure
        reason = error.strerror or str(error) or type(error).__name__
        outcome, text = AttemptStatus.RETRY, f"connection failed: {reason}"
    return AttemptResult(outcome, status_code=code, error=redact(text, hidden))


def _reply_outcome(code: int | None) -> AttemptStatus:
    outcome = classify_reply(code)
    # An exception carrying a 2xx/3xx code means the conversation broke mid-way.
    return AttemptStatus.RETRY if outcome is AttemptStatus.DELIVERED else outcome


def _decoded(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
