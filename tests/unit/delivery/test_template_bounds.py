"""Template bombs are refused by the bounded sandbox, ordinary templates still render."""

from __future__ import annotations

import pytest

from core.delivery.templates import MessageRenderer, TemplateRenderError

CONTEXT: dict[str, object] = {
    "code": "12345678",
    "username": "ada",
    "first_name": "Ada",
    "last_name": "L",
    "email": "ada@example.com",
    "client_id": "c",
    "app_name": "Shop",
    "expires_at": "2030-01-01T00:00:00Z",
    "expires_in_minutes": 10,
    "environment": "Production",
}


def _render_body(source: str) -> str:
    return MessageRenderer().render("one_time_password", CONTEXT, {"body.txt": source}).text


@pytest.mark.parametrize(
    ("source", "refusal"),
    [
        ("{{ ('x' * 200000000)|length }}", "a string or list over the length bound"),
        ("{{ [0] * 1000000 }}", "a string or list over the length bound"),
        ("{{ 9 ** (9 ** 9) }}", "an integer over the size bound"),
        ("{{ (2 ** 4000) * (2 ** 4000) }}", "an integer over the size bound"),
        ("{{ range(100000)|length }}", "a range over the length bound"),
        ("{{ 'x'|center(999999999) }}", "a width over the length bound"),
        ("{{ 'x'.ljust(999999999) }}", "a width over the length bound"),
        ("{{ 'x'|indent(999999999, true) }}", "a width over the length bound"),
        ("{{ '%999999999d' % 1 }}", "a format width over the length bound"),
        ("{{ '{:>999999999}'.format(1) }}", "str.format is not available in templates"),
        ("{{ ('x' * 50000)|replace('x', 'y' * 1000) }}", "a string or list over the length bound"),
        ("{{ range(10000)|join('x' * 1000) }}", "a string or list over the length bound"),
        (
            "{% set s = 'x' * 90000 %}{% for i in range(2) %}{{ s }}{% endfor %}",
            "output over the length bound",
        ),
        (
            "{% set s = 'x' * 90000 %}{% set a = s ~ s %}{% set b = a ~ a %}{{ b|length }}",
            "a string or list over the length bound",
        ),
        (
            "{% set s = 'x' * 90000 %}{% set x %}{% for i in range(10000) %}{{ s }}"
            "{% endfor %}{% endset %}{{ x|length }}",
            "a string or list over the length bound",
        ),
        (
            "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
            "rendering over the time bound",
        ),
    ],
)
def test_a_template_bomb_is_a_render_error_naming_the_bound(source: str, refusal: str) -> None:
    with pytest.raises(TemplateRenderError) as raised:
        _render_body(source)
    assert str(raised.value).startswith(f"body.txt: {refusal}")


def test_ordinary_arithmetic_repetition_and_loops_still_render() -> None:
    source = (
        "{{ code ~ '!' }} {{ 2 ** 10 }} {{ 'ab' * 3 }} {{ '%05d' % 7 }} "
        "{% for i in range(3) %}{{ i }}{% endfor %} {{ first_name|center(7) }}"
    )
    assert _render_body(source) == "12345678! 1024 ababab 00007 012   Ada  "


def test_joins_of_generators_still_join_every_item() -> None:
    source = "{{ ['a', 'b']|map('upper')|join(',') }} {{ ', '.join(['x', 'y']|map('upper')) }}"
    assert _render_body(source) == "A,B X, Y"
