from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from core.delivery.locales import (
    choose_template_locale,
    locale_fallbacks,
    normalize_locale,
    recipient_locale,
    template_files_for,
)

TEMPLATES = Path(__file__).resolve().parents[3] / "templates" / "one_time_password"
DEFAULT_AND_FRENCH = {
    "subject.txt",
    "body.txt",
    "body.html",
    "subject.fr.txt",
    "body.fr.txt",
    "body.fr.html",
}


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("fr", "fr"),
        ("fr-CA", "fr-CA"),
        ("fr_ca", "fr-CA"),
        (" FR-ca ", "fr-CA"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("de-CH-1901", "de-CH-1901"),
        ("../../etc/passwd", None),
        ("fr/CA", None),
        ("fr.CA", None),
        ("", None),
        (None, None),
        (42, None),
        ("français", None),
    ],
)
def test_a_locale_is_normalized_or_refused(raw: object, normalized: str | None) -> None:
    assert normalize_locale(raw) == normalized


def test_fallbacks_go_from_the_most_specific_tag_to_the_language() -> None:
    assert locale_fallbacks("zh-Hant-TW") == ("zh-Hant-TW", "zh-Hant", "zh")
    assert locale_fallbacks("fr-CA") == ("fr-CA", "fr")
    assert locale_fallbacks("not a locale") == ()


def test_a_canadian_french_recipient_gets_the_french_templates_when_no_fr_ca_exist() -> None:
    assert template_files_for("fr-CA", DEFAULT_AND_FRENCH) == {
        "subject.txt": "subject.fr.txt.j2",
        "body.txt": "body.fr.txt.j2",
        "body.html": "body.fr.html.j2",
    }


def test_a_more_specific_complete_set_wins_over_the_language() -> None:
    available = DEFAULT_AND_FRENCH | {"subject.fr-CA.txt", "body.fr-CA.txt", "body.fr-CA.html"}
    assert choose_template_locale("fr_CA", available) == "fr-CA"
    assert choose_template_locale("fr-FR", available) == "fr"


def test_an_incomplete_locale_set_is_skipped_so_a_message_never_mixes_languages() -> None:
    available = DEFAULT_AND_FRENCH | {"subject.fr-CA.txt"}
    assert choose_template_locale("fr-CA", available) == "fr"
    assert choose_template_locale("de", DEFAULT_AND_FRENCH | {"subject.de.txt"}) is None


def test_no_locale_or_an_unknown_one_uses_the_default_templates() -> None:
    expected = {
        "subject.txt": "subject.txt.j2",
        "body.txt": "body.txt.j2",
        "body.html": "body.html.j2",
    }
    assert template_files_for(None, DEFAULT_AND_FRENCH) == expected
    assert template_files_for("ja-JP", DEFAULT_AND_FRENCH) == expected
    assert template_files_for("../fr", DEFAULT_AND_FRENCH) == expected


def test_the_locale_is_read_from_xp_whatever_the_key_casing() -> None:
    assert recipient_locale({"Locale": "fr-CA"}) == "fr-CA"
    assert recipient_locale({"locale": "fr"}) == "fr"
    assert recipient_locale({}) is None
    assert recipient_locale(None) is None


def render_french(**variables: object) -> dict[str, str]:
    # Sandboxed and strict, as the service's renderer is: a template that needs anything
    # else fails here.
    environment = SandboxedEnvironment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html.j2",)),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    values = {
        "code": "48213907",
        "username": "zoe",
        "first_name": "Zoé",
        "last_name": "Martin",
        "client_id": "0A1B2C3D-CLIENT",
        "expires_at": datetime(2026, 11, 27, 8, 10, tzinfo=UTC),
        "expires_in_minutes": 10,
        "environment": "Production",
        **variables,
    }
    files = template_files_for(
        "fr-CA", {p.name.removesuffix(".j2") for p in TEMPLATES.glob("*.j2")}
    )
    return {part: environment.get_template(name).render(values) for part, name in files.items()}


def test_the_french_templates_render_the_code_and_everything_needed_to_log_in() -> None:
    rendered = render_french()

    assert rendered["subject.txt"].strip() == "Votre mot de passe à usage unique"
    for part in ("body.txt", "body.html"):
        body = rendered[part]
        assert "48213907" in body
        assert "zoe" in body
        assert "0A1B2C3D-CLIENT" in body
        assert "expire dans 10" in body
        assert "2026-11-27 08:10 UTC" in body
        assert "Bonjour Zoé" in body
    assert '<html lang="fr">' in rendered["body.html"]


def test_the_french_subject_names_a_non_production_environment_and_the_app() -> None:
    subject = render_french(environment="Staging", app_name="Boutique")["subject.txt"]
    assert subject.strip() == "[Staging] Votre mot de passe à usage unique pour Boutique"


def test_the_french_bodies_accept_expires_at_already_formatted_as_iso_8601() -> None:
    rendered = render_french(expires_at="2026-11-27T08:10:00Z")
    assert "(2026-11-27T08:10:00Z)" in rendered["body.txt"]
    assert "(2026-11-27T08:10:00Z)" in rendered["body.html"]


def test_the_french_html_escapes_what_users_typed() -> None:
    html = render_french(first_name="<script>alert(1)</script>")["body.html"]

    assert "<script>" not in html
    assert "&lt;script&gt;" in html
