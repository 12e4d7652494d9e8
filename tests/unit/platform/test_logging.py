from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator

import pytest

from core.delivery.address_policy import AddressPolicy
from core.delivery.channels.webhook import HttpxWebhookTransport
from core.platform.correlation import (
    bind_correlation_id,
    is_valid_correlation_id,
    new_correlation_id,
    unbind_correlation_id,
)
from core.platform.logging import (
    QUIET_LIBRARIES,
    REDACTED,
    build_log_handler,
    configure_logging,
    utc_timestamp,
)
from core.platform.settings import LogFormat
from tests.webhook_receiver import WebhookReceiver

# The receivers listen on loopback, which the default policy blocks.
ALLOW_LOOPBACK = AddressPolicy(blocked=())


class CapturedLog:
    def __init__(self, log_format: LogFormat) -> None:
        self.stream = io.StringIO()
        self.handler = build_log_handler(log_format, self.stream)
        self.logger = logging.getLogger(f"test.logging.{log_format}")

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()


@pytest.fixture(params=["json", "text"])
def captured(request: pytest.FixtureRequest) -> Iterator[CapturedLog]:
    log = CapturedLog(request.param)
    log.logger.addHandler(log.handler)
    log.logger.setLevel(logging.INFO)
    yield log
    log.logger.removeHandler(log.handler)


def test_json_lines_are_one_object_each_with_the_bound_correlation_id() -> None:
    log = CapturedLog("json")
    log.logger.addHandler(log.handler)
    log.logger.setLevel(logging.INFO)
    token = bind_correlation_id("req-123")
    try:
        log.logger.info("first", extra={"route": "/v1/x"})
    finally:
        unbind_correlation_id(token)
    log.logger.info("second")
    log.logger.removeHandler(log.handler)
    first, second = (json.loads(line) for line in log.lines())
    assert first["message"] == "first"
    assert first["correlation_id"] == "req-123"
    assert first["route"] == "/v1/x"
    assert second["correlation_id"] == "-"


def test_text_lines_show_the_correlation_id_in_brackets() -> None:
    log = CapturedLog("text")
    log.logger.addHandler(log.handler)
    log.logger.setLevel(logging.INFO)
    token = bind_correlation_id("abc-42")
    try:
        log.logger.warning("something happened")
    finally:
        unbind_correlation_id(token)
        log.logger.removeHandler(log.handler)
    (line,) = log.lines()
    assert "[abc-42] something happened" in line
    assert " WARNING " in line


def test_extra_fields_named_like_secrets_are_redacted_in_every_format(
    captured: CapturedLog,
) -> None:
    captured.logger.info(
        "login attempt",
        extra={
            "password": "hunter2-secret",
            "code": "40417731",
            "shared_key": "sk-very-secret",
            "access_token": "eyJ-secret-token",
            "otp_id": "otp-row-7",
            "status_code": 401,
        },
    )
    output = captured.stream.getvalue()
    for secret in ("hunter2-secret", "40417731", "sk-very-secret", "eyJ-secret-token"):
        assert secret not in output
    if captured.handler.formatter.__class__.__name__ == "JsonFormatter":
        entry = json.loads(output)
        assert entry["password"] == REDACTED
        assert entry["otp_id"] == "otp-row-7"
        assert entry["status_code"] == 401


@pytest.mark.parametrize(
    "value",
    ["", "x" * 65, "has space", "new\nline", 'quote"d', "ünïcode", "a;b", None, 42],
)
def test_unsafe_correlation_ids_are_refused(value: object) -> None:
    assert not is_valid_correlation_id(value)


@pytest.mark.parametrize("value", ["a", "x" * 64, "req-1.2_3:4", new_correlation_id()])
def test_safe_correlation_ids_are_accepted(value: str) -> None:
    assert is_valid_correlation_id(value)


@pytest.fixture
def background_log() -> Iterator[io.StringIO]:
    """The root logger writing JSON from a background thread into a string."""
    root = logging.getLogger()
    saved_handlers, saved_level, saved_srcfile = root.handlers[:], root.level, logging._srcfile
    stream = io.StringIO()
    configure_logging("json", background=True, stream=stream)
    yield stream
    configure_logging("json")  # stops the writer thread
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    logging._srcfile = saved_srcfile


def test_background_logging_keeps_the_emitting_threads_ids_redaction_and_traceback(
    background_log: io.StringIO,
) -> None:
    logger = logging.getLogger("test.logging.background")
    mutable = ["before"]

    def request_thread() -> None:
        token = bind_correlation_id("req-bg-1")
        try:
            logger.info("saw %s", mutable, extra={"password": "hunter2-secret", "route": "/x"})
            try:
                raise ValueError("boom")
            except ValueError:
                logger.exception("failed")
        finally:
            unbind_correlation_id(token)

    thread = threading.Thread(target=request_thread)
    thread.start()
    thread.join()
    mutable[0] = "after"  # changed once queued: the line still says what was logged
    configure_logging("json")  # drains the queue

    first, second = (json.loads(line) for line in background_log.getvalue().splitlines())
    assert first["message"] == "saw ['before']"
    assert first["correlation_id"] == second["correlation_id"] == "req-bg-1"
    assert first["password"] == REDACTED
    assert first["route"] == "/x"
    assert "hunter2-secret" not in background_log.getvalue()
    assert second["message"] == "failed"
    assert "ValueError: boom" in second["exc"]


def test_background_logging_writes_in_forked_children_and_drains_at_exit() -> None:
    script = textwrap.dedent(
        """
        import logging, os, sys
        from core.platform.logging import configure_logging
        configure_logging("json", background=True)
        log = logging.getLogger("forks")
        log.info("parent before fork")
        pid = os.fork()
        if pid == 0:
            log.info("child %s", "line")
            sys.exit(0)
        os.waitpid(pid, 0)
        log.info("parent after child")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    messages = [json.loads(line)["message"] for line in done.stderr.splitlines()]
    assert messages == ["parent before fork", "child line", "parent after child"]


def test_timestamps_are_iso_utc_with_milliseconds() -> None:
    assert utc_timestamp(0.5) == "1970-01-01T00:00:00.500+00:00"
    assert utc_timestamp(1_800_000_000.0429) == "2027-01-15T08:00:00.042+00:00"


def test_webhook_urls_stay_out_of_the_log_httpx_writes_none_at_info() -> None:
    """httpx logs each request's full URL at INFO; a webhook URL may carry a token."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_levels = {name: logging.getLogger(name).level for name in QUIET_LIBRARIES}
    stream = io.StringIO()
    receiver = WebhookReceiver()
    transport = HttpxWebhookTransport(timeout=5.0, policy=ALLOW_LOOPBACK)
    try:
        configure_logging("json", stream=stream)
        answer = transport.post(f"{receiver.url}/hook?token=url-token-s3cret", b"{}", {})
        logging.getLogger("test.logging.webhook").info("after the webhook")
    finally:
        transport.close()
        receiver.close()
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)
    assert answer.status_code == 200
    assert len(receiver.received) == 1
    output = stream.getvalue()
    assert "after the webhook" in output  # the log was written: the check below can fail
    assert "url-token-s3cret" not in output
