"""Hostile input to the parsers and templates: any text in, a value or the one expected error."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.delivery.context import Recipient
from core.delivery.service import otp_template_context
from core.delivery.templates import OTP_TEMPLATE_FOLDER, PARTS, MessageRenderer, TemplateRenderError
from core.messaging.events import OtpRequested
from core.platform.errors import InvalidRequest, SettingsError
from core.platform.settings import Settings, load_settings

RENDERER = MessageRenderer()
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VARIABLES = (
    "OTP_DATABASE_URL",
    "OTP_BROKER_URL",
    "OTP_SECRET_KEY",
    "OTP_JWT_ALGORITHM",
    "OTP_ISSUER",
    "OTP_AUDIENCE",
    "OTP_PASSWORD_HASH",
    "OTP_LIFETIME",
    "OTP_LENGTH",
    "OTP_MAX_PER_USER",
    "OTP_THROTTLE_WINDOW",
    "OTP_MAX_FAILED_ATTEMPTS",
    "OTP_IP_RATE_LIMIT",
    "OTP_TRUSTED_PROXIES",
    "OTP_ENVIRONMENT",
    "OTP_WEBHOOK_TIMEOUT",
    "OTP_LOG_FORMAT",
    "OTP_BLOCKED_TARGET_NETWORKS",
    "OTP_AUDIT_RETENTION",
    "OTP_WORKER_METRICS_PORT",
)

# Values that look almost right are where parsers break: digits, units, signs, spaces.
near_miss = st.text(
    alphabet=string.digits + " -+./:=,_smhdeEinfaxyargon2idsecondminutehour", max_size=30
)
anything = st.text(max_size=40)
environments = st.dictionaries(
    st.sampled_from(VARIABLES), st.one_of(near_miss, anything), max_size=8
)


@FAST
@given(environments)
def test_any_environment_gives_settings_or_one_settings_error_naming_a_variable(
    environ: dict[str, str],
) -> None:
    try:
        loaded = load_settings(environ)
    except SettingsError as error:
        message = str(error)
        assert "\n" not in message
        assert any(name in message for name in VARIABLES), message
        return
    assert isinstance(loaded, Settings)
    assert 6 <= loaded.otp_length <= 12
    assert 30 <= loaded.otp_lifetime <= 86400
    assert loaded.ip_rate_limit.count >= 0
    assert loaded.ip_rate_limit.period in {1, 60, 3600}
    assert 0.1 <= loaded.webhook_timeout <= 120
    assert loaded.audit_retention >= 0


@FAST
@given(st.integers(min_value=6, max_value=12), st.integers(min_value=30, max_value=86400))
def test_in_range_numbers_are_read_exactly(length: int, lifetime: int) -> None:
    loaded = load_settings({"OTP_LENGTH": f" {length} ", "OTP_LIFETIME": str(lifetime)})
    assert (loaded.otp_length, loaded.otp_lifetime) == (length, lifetime)


@FAST
@given(st.integers().filter(lambda n: not 6 <= n <= 12))
def test_out_of_range_lengths_are_refused_by_name(length: int) -> None:
    try:
        load_settings({"OTP_LENGTH": str(length)})
    except SettingsError as error:
        assert "OTP_LENGTH" in str(error)
    else:
        raise AssertionError(f"OTP_LENGTH={length} was accepted")


@FAST
@given(
    st.integers(min_value=0, max_value=999_999_999), st.sampled_from(["second", "minute", "hour"])
)
def test_rate_limits_round_trip(count: int, unit: str) -> None:
    limit = load_settings({"OTP_IP_RATE_LIMIT": f"{count}/{unit}"}).ip_rate_limit
    assert limit.count == count
    assert limit.period == {"second": 1, "minute": 60, "hour": 3600}[unit]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
field_values = st.one_of(json_values, st.text(max_size=300))
event_like = st.fixed_dictionaries(
    {},
    optional={
        "v": st.one_of(st.just(1), json_values),
        "request_id": field_values,
        "client_id": field_values,
        "username": field_values,
        "email": field_values,
        "requested_at": st.one_of(st.datetimes().map(lambda d: d.isoformat()), field_values),
        "client_ip": field_values,
        "code": field_values,
    },
)


@FAST
@given(st.one_of(json_values, event_like))
def test_any_message_decodes_to_an_event_or_raises_invalid_request(payload: Any) -> None:
    try:
        event = OtpRequested.from_message(payload)
    except InvalidRequest as error:
        assert error.error_code == "InvalidRequest"
        return
    assert isinstance(event, OtpRequested)
    assert event.v == 1
    assert 1 <= len(event.request_id) <= 64
    assert 1 <= len(event.client_id) <= 255


short_text = st.text(min_size=1, max_size=64)
events = st.builds(
    OtpRequested,
    request_id=short_text,
    client_id=short_text,
    username=st.none() | st.text(max_size=255),
    email=st.none() | st.text(max_size=255),
    requested_at=st.datetimes(timezones=st.just(UTC)),
    client_ip=st.none() | st.text(max_size=64),
)


@FAST
@given(events)
def test_an_event_survives_the_trip_through_its_message(event: OtpRequested) -> None:
    assert OtpRequested.from_message(event.to_message()) == event


@FAST
@given(st.from_regex(r"\A[0-9]{6,12}\Z"))
def test_an_event_never_carries_a_code_field(code: str) -> None:
    payload = {
        "request_id": "r",
        "client_id": "c",
        "requested_at": "2026-01-01T00:00:00+00:00",
        "code": code,
    }
    try:
        OtpRequested.from_message(payload)
    except InvalidRequest:
        return
    raise AssertionError("an event with an extra field was accepted")


names = st.text(max_size=40)
codes = st.integers(min_value=6, max_value=12).flatmap(
    lambda length: st.from_regex(rf"\A[0-9]{{{length}}}\Z")
)


def _context(code: str, first_name: str, username: str) -> dict[str, object]:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    user = Recipient(
        id="u",
        buyer_id=None,
        username=username or "u",
        first_name=first_name,
        last_name="L",
        email=None,
        phone=None,
        active=True,
        xp={},
    )
    return otp_template_context(
        user=user,
        client_id="client",
        app_name="Shop",
        code=code,
        expires_at=now + timedelta(minutes=10),
        now=now,
        environment="Production",
    )


@FAST
@given(code=codes, first_name=names, username=names)
def test_the_default_templates_render_any_user_with_the_code_and_escape_html(
    code: str, first_name: str, username: str
) -> None:
    hostile = f"{first_name}<i>x</i>"
    message = RENDERER.render(OTP_TEMPLATE_FOLDER, _context(code, hostile, username))
    assert code in message.text
    assert code in message.html
    assert "\n" not in message.subject
    assert "<i>x</i>" not in message.html
    assert "&lt;i&gt;x&lt;/i&gt;" in message.html


# Template-ish text: Jinja delimiters, variables, attribute and item access, filters.
JINJA_PIECES = ["{{", "}}", "{%", "%}", " if ", " else ", "code", "username", "[", "]", "{}"]
JINJA_PIECES += [".", "__class__", "|", "upper", "(", ")", "'", " ", "x", "1"]
template_sources = st.one_of(
    st.text(max_size=60), st.lists(st.sampled_from(JINJA_PIECES), max_size=14).map("".join)
)


@FAST
@given(code=codes, source=template_sources, part=st.sampled_from(PARTS))
def test_any_override_renders_or_fails_with_an_error_that_never_quotes_the_code(
    code: str, source: str, part: str
) -> None:
    try:
        RENDERER.render(OTP_TEMPLATE_FOLDER, _context(code, "F", "u"), {part: source})
    except TemplateRenderError as error:
        assert code not in str(error)
