"""What a fan-out reads besides users: the API client's rules and the senders that apply
(``core.otp.senders``, the rule the intake shares).

Both change rarely (admin API calls), so a worker keeps them for
:data:`~core.platform.cache.LOOKUP_TTL`, as the api does with its own lookups. See
:class:`FanOutLookups` for why that is safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from core.models import ApiClient
from core.otp.senders import ApplicableSenders, load_applicable_senders
from core.platform.cache import LOOKUP_TTL, MAX_CACHED_CLIENTS, TtlCache
from core.platform.clock import Clock, SystemClock
from core.platform.settings import Settings

_SENDERS_KEY = "senders"


@dataclass(frozen=True)
class ClientRules:
    """What matching needs of an API client (immutable, so workers' threads share it)."""

    id: str
    active: bool
    allow_seller: bool
    allow_any_buyer: bool


class FanOutLookups:
    """The API client and the applicable senders, read from the fan-out's session.

    Without a TTL every fan-out reads them afresh (tests, one-off calls). A worker keeps
    them for :data:`LOOKUP_TTL` of real time, so an admin change reaches fan-outs within
    that, as it reaches the api. That is safe: a delivery re-reads its sender and
    delivery config when it sends and fails unsent if the target is gone or disabled,
    and the token grant checks the client itself; what a stale entry can do is issue a
    code for a client or sender that changed in the last few seconds, as if the request
    had come a moment earlier.
    """

    def __init__(
        self, settings: Settings, *, ttl: timedelta | None = None, clock: Clock | None = None
    ) -> None:
        self._settings = settings
        self._clients: TtlCache[str, ClientRules | None] | None = None
        self._senders: TtlCache[str, ApplicableSenders] | None = None
        if ttl is not None:
            # Real time by default, even where the service's clock is frozen (tests).
            clock = clock or SystemClock()
            self._clients = TtlCache(clock, ttl, MAX_CACHED_CLIENTS)
            self._senders = TtlCache(clock, ttl, 1)

    @classmethod
    def cached(cls, settings: Settings) -> FanOutLookups:
        return cls(settings, ttl=LOOKUP_TTL)

    def client(self, session: Session, client_id: str) -> ClientRules | None:
        if self._clients is None:
            return _load_client(session, client_id)
        return self._clients.get_or_load(client_id, lambda: _load_client(session, client_id))

    def senders(self, session: Session) -> ApplicableSenders:
        dev_mode = self._settings.dev_mode
        if self._senders is None:
            return load_applicable_senders(session, dev_mode=dev_mode)
        return self._senders.get_or_load(
            _SENDERS_KEY, lambda: load_applicable_senders(session, dev_mode=dev_mode)
        )


_CLIENT_RULES = select(
    ApiClient.id, ApiClient.active, ApiClient.allow_seller, ApiClient.allow_any_buyer
).where(ApiClient.id == bindparam("client_id"))


def _load_client(session: Session, client_id: str) -> ClientRules | None:
    row = session.execute(_CLIENT_RULES, {"client_id": client_id}).first()
    return None if row is None else ClientRules(*row)
