"""``POST /v1/messagesenders/{id}/preview``: the sender's message with sample data."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.delivery.template_bounds import MAX_SOURCE_CHARS
from tests.factories import make_email_sender
from tests.integration.admin.conftest import AdminClient, error_of


@pytest.fixture
def committed_session(committed_db: Engine) -> Iterator[Session]:
    with Session(committed_db, expire_on_commit=False) as session:
        yield session


SMTP = {"Host": "127.0.0.1", "Port": 2525, "From": "shop@example.com", "Security": "none"}


def _sender(session: Session, **fields: object) -> str:
    sender = make_email_sender(session, smtp=SMTP, **fields)
    session.commit()
    return sender.id


def test_a_reader_previews_the_default_message_with_a_placeholder_code(
    admin: AdminClient, committed_session: Session
) -> None:
    sender_id = _sender(committed_session)
    response = admin.post(f"/v1/messagesenders/{sender_id}/preview", roles=["MessageSenderReader"])
    assert response.status_code == 200, response.data
    body = response.get_json()
    assert set(body) == {"Subject", "Text", "Html"}
    assert body["Subject"] == "Your one-time password for Sample Storefront"
    assert "12345678" in body["Text"] and "12345678" in body["Html"]
    assert "sample.user" in body["Text"]


def test_the_stored_overrides_and_the_locale_shape_the_preview(
    admin: AdminClient, committed_session: Session
) -> None:
    plain = _sender(committed_session)
    custom = _sender(
        committed_session, template_overrides={"subject.txt": "Code for {{ first_name }}"}
    )

    french = admin.post(f"/v1/messagesenders/{plain}/preview", json={"Locale": "fr"})
    overridden = admin.post(f"/v1/messagesenders/{custom}/preview", json={})

    assert french.get_json()["Subject"].startswith("Votre mot de passe à usage unique")
    assert overridden.get_json()["Subject"] == "Code for Sam"


def test_an_admin_previews_unsaved_overrides_and_a_reader_may_not(
    admin: AdminClient, committed_session: Session
) -> None:
    sender_id = _sender(committed_session)
    body = {"TemplateOverrides": {"body.html": "<b>{{ code }}</b> for {{ username }}"}}
    path = f"/v1/messagesenders/{sender_id}/preview"

    as_admin = admin.post(path, json=body, roles=["MessageSenderAdmin"])
    as_reader = admin.post(path, json=body, roles=["MessageSenderReader"])

    assert as_admin.get_json()["Html"] == "<b>12345678</b> for sample.user"
    assert as_reader.status_code == 403
    assert error_of(as_reader)["ErrorCode"] == "InsufficientRoles"


def test_a_template_that_does_not_render_is_a_400_naming_the_error(
    admin: AdminClient, committed_session: Session
) -> None:
    sender_id = _sender(committed_session)
    path = f"/v1/messagesenders/{sender_id}/preview"

    undefined = admin.post(path, json={"TemplateOverrides": {"body.txt": "{{ cdoe }}"}})
    syntax = admin.post(path, json={"TemplateOverrides": {"subject.txt": "{% if %}"}})

    assert undefined.status_code == 400
    assert error_of(undefined) == {
        "ErrorCode": "MessageSenders.TemplateError",
        "Message": "template error in body.txt: UndefinedError: 'cdoe' is undefined",
        "Data": {"Field": "TemplateOverrides.body.txt"},
    }
    assert syntax.status_code == 400
    assert error_of(syntax)["Message"].startswith("template error in subject.txt: line 1:")


def test_bad_input_gets_the_contract_s_400_or_404(
    admin: AdminClient, committed_session: Session
) -> None:
    sender_id = _sender(committed_session)
    path = f"/v1/messagesenders/{sender_id}/preview"

    assert error_of(admin.post(path, json={"Locale": "../../etc"}))["Data"] == {"Field": "Locale"}
    for malformed in (b"{not json", b"[1, 2]", b'"Locale"', b"null", b'{"Locale": "\xff"}'):
        response = admin.post(path, data=malformed, content_type="application/json")
        assert (response.status_code, error_of(response)["ErrorCode"]) == (400, "InvalidRequest")
    assert admin.post(path, json={"Locale": 3}).status_code == 400
    assert admin.post(path, json={"TemplateOverrides": {"body.txt": 1}}).status_code == 400
    missing = admin.post("/v1/messagesenders/nope/preview")
    assert (missing.status_code, error_of(missing)["ErrorCode"]) == (404, "NotFound")
    assert admin.request("POST", path).status_code == 401


BOMB = "{{ ('x' * 200000000)|length }}"


def test_a_template_bomb_is_a_400_template_error_on_preview_and_on_save(
    admin: AdminClient, committed_session: Session
) -> None:
    sender_id = _sender(committed_session)
    preview = admin.post(
        f"/v1/messagesenders/{sender_id}/preview", json={"TemplateOverrides": {"body.txt": BOMB}}
    )
    saved = admin.patch(
        f"/v1/messagesenders/{sender_id}", json={"TemplateOverrides": {"body.txt": BOMB}}
    )
    cpu = admin.patch(
        f"/v1/messagesenders/{sender_id}",
        json={"TemplateOverrides": {"subject.txt": "{{ 9 ** (9 ** 9) }}"}},
    )

    for response in (preview, saved, cpu):
        assert response.status_code == 400
        assert error_of(response)["ErrorCode"] == "MessageSenders.TemplateError"
    assert error_of(saved) == {
        "ErrorCode": "MessageSenders.TemplateError",
        "Message": "template error in body.txt: a string or list over the length bound",
        "Data": {"Field": "TemplateOverrides.body.txt"},
    }
    assert error_of(cpu)["Data"] == {"Field": "TemplateOverrides.subject.txt"}
    committed_session.expire_all()
    stored = admin.get(f"/v1/messagesenders/{sender_id}").get_json()
    assert stored["TemplateOverrides"]["body.txt"] is None


def test_a_template_source_over_the_bound_is_refused_on_save_and_on_preview(
    admin: AdminClient, committed_session: Session
) -> None:
    sender_id = _sender(committed_session)
    long_source = "x" * (MAX_SOURCE_CHARS + 1)
    for response in (
        admin.patch(
            f"/v1/messagesenders/{sender_id}", json={"TemplateOverrides": {"body.txt": long_source}}
        ),
        admin.post(
            f"/v1/messagesenders/{sender_id}/preview",
            json={"TemplateOverrides": {"body.txt": long_source}},
        ),
    ):
        assert response.status_code == 400
        assert error_of(response)["Message"] == (
            f"template error in body.txt: over {MAX_SOURCE_CHARS} characters"
        )
