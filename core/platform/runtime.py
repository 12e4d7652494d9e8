"""What a running process shares: settings, database, broker, clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.platform.clock import Clock, SystemClock
from core.platform.db import make_engine, make_session_factory
from core.platform.secret_box import install_secret_box
from core.platform.settings import Settings

if TYPE_CHECKING:
    import dramatiq


@dataclass
class Runtime:
    """Built once per process from settings; connections open lazily on first use."""

    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    engine_override: Engine | None = None
    broker_override: dramatiq.Broker | None = None

    def __post_init__(self) -> None:
        # Stored secrets are sealed and opened with these keys (core.platform.secret_box).
        keys = self.settings.secrets_at_rest_keys
        if keys:
            install_secret_box(keys)

    @cached_property
    def engine(self) -> Engine:
        if self.engine_override is not None:
            return self.engine_override
        self.settings.require("database_url")
        assert self.settings.database_url is not None
        return make_engine(
            self.settings.database_url,
            prepared_statements=self.settings.database_prepared_statements,
            pre_ping=self.settings.database_pre_ping,
        )

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)

    @cached_property
    def broker(self) -> dramatiq.Broker:
        if self.broker_override is not None:
            return self.broker_override
        # Imported here: the token handler never publishes, and dramatiq and pika cost
        # every one of its processes memory.
        from core.messaging.broker import build_broker  # noqa: PLC0415

        return build_broker(self.settings)

    def close(self) -> None:
        """Release pooled connections (tests, shutdown)."""
        if "engine" in self.__dict__ and self.engine_override is None:
            self.engine.dispose()
        if "broker" in self.__dict__ and self.broker_override is None:
            self.broker.close()
