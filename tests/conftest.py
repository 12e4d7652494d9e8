"""Fixtures shared by every test: settings, real PostgreSQL and RabbitMQ, sessions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

import migrations
from api import create_app
from core.messaging.routes import ALL_QUEUES
from core.models import Base
from core.platform.db import make_engine
from core.platform.runtime import Runtime
from core.platform.secret_box import install_secret_box
from core.platform.settings import Settings, load_settings
from tests import services

TEST_SECRET_KEY = "test-secret-key-0123456789abcdef-0123456789"


@pytest.fixture(scope="session", autouse=True)
def secrets_at_rest_key() -> None:
    """Rows the tests write directly (factories) seal their secrets as the service does."""
    install_secret_box([TEST_SECRET_KEY.encode()])


@pytest.fixture(scope="session")
def jwt_private_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated to head once."""
    with services.postgres_server_url() as server, services.fresh_database(server) as url:
        migrations.upgrade(url)
        yield url


@pytest.fixture(scope="session")
def broker_url() -> Iterator[str]:
    """A RabbitMQ vhost of this test session's own (when the machine lets us make one)."""
    with services.rabbitmq_server_url() as server, services.fresh_vhost(server) as url:
        yield url


@pytest.fixture
def clean_broker(broker_url: str) -> str:
    """The broker with every OTP queue empty at the start of the test."""
    services.purge_queues(broker_url, list(ALL_QUEUES))
    return broker_url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield session
        finally:
            session.close()
            transaction.rollback()


@pytest.fixture
def committed_db(engine: Engine) -> Iterator[Engine]:
    """For tests whose other processes must see the data: every table emptied afterwards."""
    yield engine
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} CASCADE"))


def base_settings(jwt_private_key: str, **overrides: object) -> Settings:
    settings = load_settings(
        {
            "OTP_SECRET_KEY": TEST_SECRET_KEY,
            "OTP_LOG_FORMAT": "text",
            "OTP_IP_RATE_LIMIT": "0",
            # Tests deliver to receivers on loopback; the default policy has tests of its own.
            "OTP_BLOCKED_TARGET_NETWORKS": "none",
        }
    ).replace(jwt_private_key=jwt_private_key)
    return settings.replace(**overrides) if overrides else settings


@pytest.fixture
def settings(jwt_private_key: str, database_url: str, broker_url: str) -> Settings:
    """Settings pointing at the test session's database and vhost."""
    return base_settings(jwt_private_key, database_url=database_url, broker_url=broker_url)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    """A process runtime on the test services; its pools are closed after the test."""
    runtime = Runtime(settings)
    yield runtime
    runtime.close()


@pytest.fixture
def api_client(runtime: Runtime) -> FlaskClient:
    return create_app(runtime=runtime).test_client()
