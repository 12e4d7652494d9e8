"""Schemathesis against the api's own ``/openapi.json``: no 5xx, every answer as documented.

In-process (WSGI) on the real PostgreSQL and RabbitMQ of the test session, with a
FullAccess bearer token so the admin routes are exercised past authentication. CI runs
10 cases per operation (tests/reliability/scale.py); ``make reliability-full`` runs
the full 500 and its figures are in tests/reliability/README.md.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from werkzeug.test import Client

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


# Hostile input schemathesis does not make on its own: text with control characters,
# NUL and unpaired-surrogate escapes in path segments, query values and bodies, and
# JSON nested far past the documented bound. Every answer must still be a 4xx or 2xx.
HOSTILE_EXAMPLES = int(os.environ.get("OTP_FUZZ_EXAMPLES") or scaled(full=200, ci=8))
_METHODS = ("get", "post", "put", "patch", "delete")
control_characters = st.sampled_from(["\x00", "\x01", "\x1b", "\n", "\r", "\t", "\x7f"])
hostile_text = st.lists(
    st.one_of(control_characters, st.characters(codec="utf-8"), st.just("%"), st.just("/")),
    max_size=12,
).map("".join)
nested_documents = st.integers(min_value=1, max_value=400).map(
    lambda depth: '{"ID": "n", "Name": "n", "xp": {"a": ' + "[" * depth + "]" * depth + "}}"
)
json_with_controls = st.recursive(
    st.none() | st.booleans() | st.integers() | hostile_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner, max_size=3),
    max_leaves=8,
).map(lambda value: json.dumps({"ID": "h", "Name": "h", "xp": value}))
surrogate_escapes = hostile_text.map(lambda text: json.dumps({"Name": text})[:-2] + '\\ud800"}')
hostile_bodies = st.one_of(st.none(), nested_documents, json_with_controls, surrogate_escapes)
query_names = st.sampled_from(["search", "searchOn", "sortBy", "page", "pageSize", "filters"])


def _documented_operations(schema: schemathesis.BaseSchema) -> list[tuple[str, str]]:
    paths: dict[str, dict[str, Any]] = schema.raw_schema["paths"]
    return [(path, method) for path, item in paths.items() for method in item if method in _METHODS]


@pytest.mark.timeout(scaled(full=3600, ci=300))
def test_hostile_paths_queries_and_nesting_never_answer_5xx(
    fuzzed_app: Any, api_schema: schemathesis.BaseSchema, full_access_token: str, figures: Figures
) -> None:
    client = Client(fuzzed_app)
    headers = {"Authorization": f"Bearer {full_access_token}", "Content-Type": "application/json"}
    operations = _documented_operations(api_schema)
    server_errors: list[str] = []
    cases = 0

    def fuzz(path: str, method: str) -> None:
        @given(data=st.data())
        @hypothesis_settings(
            max_examples=HOSTILE_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def exercise(data: st.DataObject) -> None:
            nonlocal cases
            url = re.sub(
                r"\{[^}]+\}", lambda _: quote(data.draw(hostile_text), safe="") or "x", path
            )
            query = data.draw(st.dictionaries(query_names, hostile_text, max_size=2))
            body = data.draw(hostile_bodies) if method != "get" else None
            answer = client.open(
                f"{url}?{urlencode(query)}" if query else url,
                method=method.upper(),
                data=body,
                headers=headers,
            )
            cases += 1
            if answer.status_code >= 500:
                server_errors.append(f"{method.upper()} {url} {query!r} -> {answer.status_code}")

        exercise()

    for path, method in operations:
        fuzz(path, method)

    figures.record(
        "hostile_fuzzing",
        operations=len(operations),
        examples_per_operation=HOSTILE_EXAMPLES,
        cases=cases,
        server_errors=len(server_errors),
    )
    assert len(operations) >= 10
    assert cases >= len(operations)
    assert not server_errors, "\n".join(server_errors[:20])
