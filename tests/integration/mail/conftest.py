"""A real SMTP server on loopback for the email tests (see ``tests/smtp.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.smtp import SelfSignedCertificate, SmtpSink, running_smtp_sink

SMTP_LOGIN = "relay-user"
SMTP_PASSWORD = "relay-pass-Zq81x"  # asserted absent from every error


@pytest.fixture(scope="session")
def smtp_certificate(tmp_path_factory: pytest.TempPathFactory) -> SelfSignedCertificate:
    return SelfSignedCertificate.create(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A plain SMTP server (no TLS, no AUTH) that records what it accepts."""
    with running_smtp_sink() as sink:
        yield sink


@pytest.fixture
def starttls_smtp_sink(smtp_certificate: SelfSignedCertificate) -> Iterator[SmtpSink]:
    """An SMTP server that requires STARTTLS and then AUTH with SMTP_LOGIN/SMTP_PASSWORD."""
    with running_smtp_sink(
        certificate=smtp_certificate, require_starttls=True, auth=(SMTP_LOGIN, SMTP_PASSWORD)
    ) as sink:
        yield sink


@pytest.fixture
def implicit_tls_smtp_sink(smtp_certificate: SelfSignedCertificate) -> Iterator[SmtpSink]:
    """An SMTP server speaking TLS from the first byte (SMTPS, port-465 style)."""
    with running_smtp_sink(certificate=smtp_certificate, implicit_tls=True) as sink:
        yield sink
