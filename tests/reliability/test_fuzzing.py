"""Schemathesis against the api's own ``/openapi.json``: no 5xx, every answer as documented.

In-process (WSGI) on the real PostgreSQL and RabbitMQ of the test session, with a
FullAccess bearer token so the admin routes are exercised past authentication. CI runs
10 cases per operation (tests/reliability/scale.py); ``make reliability-full`` runs
the full 500 and its figures are in tests/reliability/README.md.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api import create_app
from api.token.app import create_token_app
from api.token.schemas import token_operations
from core.auth.tokens import TokenKeys
from core.identity.bootstrap import bootstrap_admin
from core.platform.runtime import Runtime
from tests.factories import hasher
from tests.reliability.conftest import Figures
from tests.reliability.scale import scaled

# OTP_FUZZ_EXAMPLES sets the count by hand (a run between the CI size and the full one).
EXAMPLES = int(os.environ.get("OTP_FUZZ_EXAMPLES") or scaled(full=500, ci=10))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def fuzzed_app(runtime: Runtime, committed_db: Engine, clean_broker: str) -> Iterator[object]:
    """The api app, with the token handler's routes (documented in the same /openapi.json
    but served by their own deployable) passed to the token app."""
    api_app = create_app(runtime=runtime)
    token_app = create_token_app(runtime=runtime)
    token_paths = {operation.path for operation in token_operations()}

    def both(environ: dict[str, Any], start_response: Any) -> Any:
        target = token_app if environ.get("PATH_INFO") in token_paths else api_app
        return target(environ, start_response)

    yield both


@pytest.fixture
def api_schema(fuzzed_app: object) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_wsgi("/openapi.json", fuzzed_app)


@pytest.fixture
def full_access_token(runtime: Runtime, committed_db: Engine) -> str:
    with Session(committed_db) as session, session.begin():
        client_id = bootstrap_admin(session, hasher(), username="fuzz-admin", password="x" * 16)
    return TokenKeys(runtime.settings).issue_access_token(
        username="fuzz-admin",
        user_id="fuzz-admin",  # bootstrap gives the admin its username as ID
        token_version=0,
        client_id=client_id,
        user_type="admin",
        roles=["FullAccess"],
        token_id="fuzz",
        now=datetime.now(UTC),
        lifetime=timedelta(hours=1),
    )


@pytest.mark.timeout(scaled(full=3600, ci=300))
def test_every_documented_operation_answers_as_documented_and_never_5xx(
    api_schema: schemathesis.BaseSchema, full_access_token: str, figures: Figures
) -> None:
    # Driven by hand, operation by operation: schemathesis' pytest plugin does not run
    # under this project's pytest. Each operation gets EXAMPLES generated cases; every
    # failure is collected so one run reports all the operations that break.
    headers = {"Authorization": f"Bearer {full_access_token}"}
    cases: Counter[str] = Counter()
    failures: dict[str, str] = {}
    operations = [result.ok() for result in api_schema.get_all_operations()]

    def fuzz(operation: Any) -> None:
        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=EXAMPLES,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def exercise(case: schemathesis.Case) -> None:
            cases[operation.label] += 1
            case.call_and_validate(headers=headers, checks=CHECKS)

        exercise()

    for operation in operations:
        try:
            fuzz(operation)  # a failure is kept, and the next operation still runs
        except (Exception, BaseExceptionGroup) as error:
            failures[operation.label] = f"{type(error).__name__}: {str(error)[:1500]}"

    figures.record(
        "fuzzing",
        operations=len(operations),
        examples_per_operation=EXAMPLES,
        cases=sum(cases.values()),
        fewest_cases=min(cases.values(), default=0),
        failing_operations=sorted(failures),
    )
    assert len(operations) >= 10, [operation.label for operation in operations]
    assert not failures, "\n\n".join(f"{label}\n{text}" for label, text in failures.items())
