"""Accepting an OTP request: check the body's rules, the ClientID and the senders, publish.

The api never looks at users (invariant 7 in docs/architecture.md, no enumeration):
matching is the fan-out worker's job. It also never writes to the database; the two
lookups it needs (is this ClientID active? does some OneTimePassword sender apply to
anyone, by the rule of ``core.otp.senders`` that the fan-out uses too?) are cached
in-process for :data:`~core.platform.cache.LOOKUP_TTL`, so a change made through the
admin API takes effect in every api process within that time.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from core.messaging.events import OtpRequested, blank_to_none
from core.messaging.publisher import EventPublisher
from core.models import ApiClient
from core.otp.senders import load_applicable_senders
from core.platform.cache import LOOKUP_TTL, MAX_CACHED_CLIENTS, TtlCache
from core.platform.clock import Clock
from core.platform.errors import (
    InvalidClient,
    OtpNotConfigured,
    ServiceUnavailable,
    UsernameOrEmailRequired,
)


@dataclass(frozen=True)
class OtpRequestInput:
    """What the client sent, already type-checked by the api."""

    client_id: str | None
    username: str | None
    email: str | None
    client_ip: str | None = None
    # The id the event will carry: the HTTP request's correlation id, which the service
    # made (never the caller), so that one id follows the request to its deliveries.
    request_id: str | None = None


_SENDERS_KEY = "senders"


class OtpIntake:
    """Validates OTP requests against cached configuration and publishes ``OtpRequested``."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        publisher: EventPublisher,
        clock: Clock,
        *,
        dev_mode: bool = False,
        lookup_ttl: timedelta = LOOKUP_TTL,
        max_cached_clients: int = MAX_CACHED_CLIENTS,
    ) -> None:
        self.sessions = sessions
        self.dev_mode = dev_mode  # Console targets count in dev mode only, as in the fan-out
        self.publisher = publisher
        self.clock = clock
        self._active_clients: TtlCache[str, bool] = TtlCache(clock, lookup_ttl, max_cached_clients)
        self._otp_configured: TtlCache[str, bool] = TtlCache(clock, lookup_ttl, 1)

    def request_otp(self, request: OtpRequestInput) -> str:
        """Accept the request and return its request id, or raise the contract's error."""
        username = blank_to_none(request.username)
        email = blank_to_none(request.email)
        if username is None and email is None:
            raise UsernameOrEmailRequired()
        # Looked up as sent: a ClientID is never trimmed into a valid one.
        client_id = request.client_id
        if client_id is None or blank_to_none(client_id) is None:
            raise InvalidClient()
        if not self._client_is_active(client_id):
            raise InvalidClient()
        if not self._otp_sender_configured():
            raise OtpNotConfigured()
        event = OtpRequested(
            request_id=request.request_id or uuid.uuid4().hex,
            client_id=client_id,
            username=username,
            email=email,
            requested_at=self.clock.now(),
            client_ip=request.client_ip,
        )
        self.publisher.publish_otp_requested(event)
        return event.request_id

    def _client_is_active(self, client_id: str) -> bool:
        return self._active_clients.get_or_load(
            client_id, lambda: self._read(lambda session: _load_client_active(session, client_id))
        )

    def _otp_sender_configured(self) -> bool:
        return self._otp_configured.get_or_load(
            _SENDERS_KEY,
            lambda: self._read(
                lambda session: load_applicable_senders(session, dev_mode=self.dev_mode).configured
            ),
        )

    def _read(self, query: Callable[[Session], bool]) -> bool:
        """Run a read-only lookup; an unreachable database is a 503, not a 500."""
        try:
            with self.sessions() as session:
                try:
                    return query(session)
                finally:
                    session.rollback()
        except (OperationalError, PoolTimeout):
            # PoolTimeout: every pooled connection is busy; the client should retry.
            raise ServiceUnavailable("database unreachable") from None


def _load_client_active(session: Session, client_id: str) -> bool:
    active = session.scalar(select(ApiClient.active).where(ApiClient.id == client_id))
    return bool(active)
