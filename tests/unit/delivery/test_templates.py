"""The one message renderer: locale variants, overrides, sandboxing and its errors."""

from __future__ import annotations

import pytest

from core.delivery.templates import OTP_TEMPLATE_FOLDER, MessageRenderer, TemplateRenderError

CONTEXT = {
    "code": "48213377",
    "username": "jo",
    "first_name": "Jo",
    "last_name": "Doe",
    "email": "jo@example.com",
    "app_name": "Shop",
    "client_id": "C1",
    "expires_at": "2026-01-01T12:10:00Z",
    "expires_in_minutes": 10,
    "environment": "Production",
}


@pytest.fixture(scope="module")
def renderer() -> MessageRenderer:
    return MessageRenderer()


@pytest.mark.parametrize("locale", ["fr", "fr-CA", "FR_ca", "fr-Latn-FR"])
def test_a_french_locale_or_a_french_region_gets_the_french_files(
    renderer: MessageRenderer, locale: str
) -> None:
    message = renderer.render(OTP_TEMPLATE_FOLDER, CONTEXT, locale=locale)
    assert message.subject == "Votre mot de passe à usage unique pour Shop"
    assert "Bonjour Jo" in message.text
    assert 'lang="fr"' in message.html


@pytest.mark.parametrize("locale", [None, "de", "en-GB", "../fr", "fr/../../etc", 42, ""])
def test_other_absent_or_odd_locales_get_the_default_files(
    renderer: MessageRenderer, locale: object
) -> None:
    message = renderer.render(OTP_TEMPLATE_FOLDER, CONTEXT, locale=locale)
    assert message.subject == "Your one-time password for Shop"
    assert "Hello Jo" in message.text


def test_a_sender_override_wins_over_the_locale_and_the_message_keeps_one_language(
    renderer: MessageRenderer,
) -> None:
    message = renderer.render(
        OTP_TEMPLATE_FOLDER, CONTEXT, {"subject.txt": "Sign-in code {{ code }}"}, locale="fr"
    )
    assert message.subject == "Sign-in code 48213377"
    assert "Hello Jo" in message.text  # the default file, not the French one
    assert 'lang="en"' in message.html


def test_empty_overrides_are_the_same_as_none(renderer: MessageRenderer) -> None:
    message = renderer.render(OTP_TEMPLATE_FOLDER, CONTEXT, {"body.txt": ""}, locale="fr")
    assert "Bonjour Jo" in message.text


def test_the_html_body_escapes_markup_in_values_and_the_text_body_does_not(
    renderer: MessageRenderer,
) -> None:
    context = {**CONTEXT, "first_name": '<script>alert("x")</script>'}
    overrides = {"body.html": "<p>{{ first_name }}</p>", "body.txt": "{{ first_name }}"}
    message = renderer.render(OTP_TEMPLATE_FOLDER, context, overrides)
    assert message.html == "<p>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</p>"
    assert message.text == '<script>alert("x")</script>'


def test_an_undefined_variable_names_the_part_and_the_variable(renderer: MessageRenderer) -> None:
    with pytest.raises(TemplateRenderError) as raised:
        renderer.render(OTP_TEMPLATE_FOLDER, CONTEXT, {"body.html": "{{ frist_name }}"})
    assert str(raised.value) == "body.html: UndefinedError: 'frist_name' is undefined"


def test_the_sandbox_refuses_unsafe_attributes(renderer: MessageRenderer) -> None:
    with pytest.raises(TemplateRenderError) as raised:
        renderer.render(OTP_TEMPLATE_FOLDER, CONTEXT, {"body.txt": "{{ code.__class__.__mro__ }}"})
    assert str(raised.value).startswith("body.txt: SecurityError: access to attribute '__class__'")


@pytest.mark.parametrize(
    "source",
    [
        "{{ {}[code] }}",
        "{{ code|int + {} }}",
        "{{ username[code] }}",
        "{{ range(code|int) }}",
        "{{ username|attr('_' ~ code) }}",
        "{{ username|attr('_' ~ code|reverse|join) }}",
        "{{ username|attr('__' ~ code[:3]) }}",
    ],
)
def test_a_runtime_error_never_quotes_the_code(renderer: MessageRenderer, source: str) -> None:
    with pytest.raises(TemplateRenderError) as raised:
        renderer.render(OTP_TEMPLATE_FOLDER, CONTEXT, {"body.txt": source})
    assert not any(character.isdigit() for character in str(raised.value))  # not even a part
    assert str(raised.value).startswith("body.txt: ")


def test_a_syntax_error_names_its_part_and_line(renderer: MessageRenderer) -> None:
    with pytest.raises(TemplateRenderError, match=r"^body\.html: line 2: "):
        renderer.render(OTP_TEMPLATE_FOLDER, CONTEXT, {"body.html": "ok\n{% if %}"})


def test_one_override_source_for_text_and_html_compiles_once_for_each_escaping(
    renderer: MessageRenderer,
) -> None:
    source = "{{ first_name }}: {{ code }}"
    overrides = {"body.txt": source, "body.html": source}
    for first_name in ("<Ann>", "<Bob>"):  # the second render reuses the compiled sources
        message = renderer.render(
            OTP_TEMPLATE_FOLDER, {**CONTEXT, "first_name": first_name}, overrides
        )
        assert message.text == f"{first_name}: 48213377"
        assert message.html == f"{first_name.replace('<', '&lt;').replace('>', '&gt;')}: 48213377"
