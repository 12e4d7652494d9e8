"""The correlation id that follows one OTP request from HTTP through the broker to delivery.

The id lives in a :class:`contextvars.ContextVar`: the api sets it per request, the
workers per message. Every log record carries it (``core.platform.logging``), and every message
enqueued while it is set carries it in ``message.options["correlation_id"]``
(:class:`CorrelationMiddleware`, added to every broker by ``core.messaging.broker.build_broker``),
so the fan-out actor's follow-up delivery messages inherit the request's id.

The id is always one the service made (a uuid4, or a message id), never one a caller
chose: an OTP request's correlation id becomes its ``OtpRequested.request_id``, which the
fan-out deduplicates by. An id the caller sent (``X-Request-Id``) is kept apart, as the
*caller request id*, and logged alongside on that request's lines only.

The middleware lives in ``core`` rather than ``workers`` because the api publishes too,
and ``api`` must not import ``workers``.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar, Token
from typing import Any, TypeGuard

from dramatiq.broker import Broker, MessageProxy
from dramatiq.message import Message
from dramatiq.middleware import Middleware

#: The key under which a Dramatiq message carries the id (``message.options``).
MESSAGE_OPTION = "correlation_id"

# Only ids that are safe to log and to echo in a header: no spaces, quotes or newlines
# (no log injection), bounded length (no log flooding).
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")

_correlation_id: ContextVar[str | None] = ContextVar("otp_correlation_id", default=None)
_caller_request_id: ContextVar[str | None] = ContextVar("otp_caller_request_id", default=None)


def new_correlation_id() -> str:
    """A fresh id: 32 hex digits, the shape nginx's ``$request_id`` also has."""
    return uuid.uuid4().hex


def is_valid_correlation_id(value: object) -> TypeGuard[str]:
    """True for 1 to 64 characters of ``A-Z a-z 0-9 . _ : -``."""
    return isinstance(value, str) and _SAFE_ID.match(value) is not None


def current_correlation_id() -> str | None:
    """The id of the request or message being handled in this context, if any."""
    return _correlation_id.get()


def bind_correlation_id(value: str) -> Token[str | None]:
    """Make ``value`` the current id; give the token to :func:`unbind_correlation_id`."""
    return _correlation_id.set(value)


def unbind_correlation_id(token: Token[str | None]) -> None:
    _correlation_id.reset(token)


def current_caller_request_id() -> str | None:
    """The id the HTTP caller sent with the request being handled, if it sent a valid one."""
    return _caller_request_id.get()


def bind_caller_request_id(value: str | None) -> Token[str | None]:
    return _caller_request_id.set(value)


def unbind_caller_request_id(token: Token[str | None]) -> None:
    _caller_request_id.reset(token)


class CorrelationMiddleware(Middleware):
    """Carries the correlation id across the broker.

    On enqueue it stamps the current id into ``message.options["correlation_id"]`` unless
    the message already has one (a retry keeps its original id). Around processing it
    restores that id, or falls back to the message id for messages from elsewhere, and
    clears it afterwards because worker threads are reused.
    """

    def before_enqueue(self, broker: Broker, message: Message[Any], delay: int) -> None:
        current = current_correlation_id()
        if current is not None and MESSAGE_OPTION not in message.options:
            message.options[MESSAGE_OPTION] = current

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        carried = message.options.get(MESSAGE_OPTION)
        bind_correlation_id(carried if is_valid_correlation_id(carried) else message.message_id)

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        # A plain set, not a token reset: before and after run in the same worker thread,
        # and a thread must never hand its last message's id to the next one.
        _correlation_id.set(None)

    def after_skip_message(self, broker: Broker, message: MessageProxy) -> None:
        _correlation_id.set(None)
