"""Which template files speak the recipient's language (``xp.Locale``), falling back to the default.

Templates live in ``templates/<message type>/`` as ``subject.txt.j2``, ``body.txt.j2`` and
``body.html.j2`` (the default language), with locale variants that put the tag before the
extension: ``subject.fr.txt.j2``, ``body.fr-CA.html.j2``. For ``fr-CA`` the candidates are
``fr-CA``, then ``fr``, then the default.

A message never mixes languages: the chosen locale is the most specific one for which
all three parts exist, and all three are taken from it. ``xp.Locale`` is data a user or
admin wrote, so it is checked against a strict BCP 47 shape before it becomes part of a
file name (no ``../``, no path separators, no surprises).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

TEMPLATE_PARTS = ("subject.txt", "body.txt", "body.html")
TEMPLATE_SUFFIX = ".j2"

# language[-script][-region][-variant]: fr, fr-CA, zh-Hant-TW, es-419, de-CH-1901.
_LOCALE_RE = re.compile(
    r"^(?P<language>[A-Za-z]{2,3})"
    r"(?:[-_](?P<script>[A-Za-z]{4}))?"
    r"(?:[-_](?P<region>[A-Za-z]{2}|[0-9]{3}))?"
    r"(?:[-_](?P<variant>[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))?$"
)


def normalize_locale(raw: object) -> str | None:
    """``fr_ca`` → ``fr-CA``, ``ZH-hant-tw`` → ``zh-Hant-TW``; ``None`` for anything else."""
    if not isinstance(raw, str):
        return None
    match = _LOCALE_RE.match(raw.strip())
    if match is None:
        return None
    subtags = [match["language"].lower()]
    if match["script"]:
        subtags.append(match["script"].title())
    if match["region"]:
        subtags.append(match["region"].upper())
    if match["variant"]:
        subtags.append(match["variant"].lower())
    return "-".join(subtags)


def locale_fallbacks(raw: object) -> tuple[str, ...]:
    """Most specific first, the default language not included: ``fr-CA`` → (fr-CA, fr)."""
    locale = normalize_locale(raw)
    if locale is None:
        return ()
    subtags = locale.split("-")
    return tuple("-".join(subtags[:count]) for count in range(len(subtags), 0, -1))


def recipient_locale(xp: Mapping[str, Any] | None) -> object:
    """The ``Locale`` a user's ``xp`` names (any casing of the key), unchecked."""
    if not xp:
        return None
    for key, value in xp.items():
        if key.lower() == "locale":
            return value
    return None


def localized_name(part: str, locale: str | None) -> str:
    """``("body.html", "fr")`` → ``"body.fr.html"``; the default language keeps ``part``."""
    if locale is None:
        return part
    stem, dot, extension = part.partition(".")
    return f"{stem}.{locale}{dot}{extension}"


def choose_template_locale(raw_locale: object, available: Collection[str]) -> str | None:
    """The most specific locale with every part in ``available``; ``None`` = the default.

    ``available`` holds template names without ``.j2`` (``"subject.fr.txt"``): the files
    in the message type's folder, plus any per-sender overrides.
    """
    for locale in locale_fallbacks(raw_locale):
        if all(localized_name(part, locale) in available for part in TEMPLATE_PARTS):
            return locale
    return None


def template_files_for(raw_locale: object, available: Collection[str]) -> dict[str, str]:
    """Each part's template file name for a recipient: ``{"body.html": "body.fr.html.j2", ...}``."""
    locale = choose_template_locale(raw_locale, available)
    return {part: localized_name(part, locale) + TEMPLATE_SUFFIX for part in TEMPLATE_PARTS}
