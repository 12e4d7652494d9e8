from __future__ import annotations

import json

from core.messaging.routes import DELIVER_EMAIL
from workers.dead_letters import describe_dead_letter, with_fresh_retry_budget


def test_an_undecodable_body_is_described_without_echoing_it() -> None:
    letter = describe_dead_letter(DELIVER_EMAIL.queue_name, b"\xff not json 12345678", None)

    assert letter.error == "undecodable message body"
    assert letter.message_id is None
    assert "12345678" not in json.dumps(letter.as_dict())


def test_a_delivery_id_keyword_argument_is_shown_and_other_arguments_are_not() -> None:
    body = json.dumps(
        {
            "queue_name": DELIVER_EMAIL.queue_name,
            "actor_name": "deliver_email",
            "args": [],
            "kwargs": {"delivery_id": "dlv-1", "note": "private"},
            "options": {},
            "message_id": "m-1",
            "message_timestamp": 0,
        }
    ).encode()

    letter = describe_dead_letter(DELIVER_EMAIL.queue_name, body, {})

    assert letter.delivery_id == "dlv-1"
    assert "private" not in json.dumps(letter.as_dict())


def test_a_body_that_is_not_a_dramatiq_message_is_not_replayed() -> None:
    assert with_fresh_retry_budget(b"[1, 2, 3]") is None
    assert with_fresh_retry_budget(b'{"options": {}}') is None


def test_a_message_dead_lettered_from_the_delay_queue_is_replayed_to_the_main_queue() -> None:
    body = json.dumps(
        {"queue_name": f"{DELIVER_EMAIL.queue_name}.DQ", "options": {"eta": 5, "retries": 9}}
    ).encode()

    fresh = with_fresh_retry_budget(body)

    assert fresh is not None
    assert json.loads(fresh) == {"queue_name": DELIVER_EMAIL.queue_name, "options": {"retries": 0}}
