"""Message rendering: one helper for every channel (webhook ``Message``, email, console).

Templates live in ``templates/<message type folder>/{subject.txt,body.txt,body.html}.j2``.
A sender may override any of the three with its own Jinja2 source (``template_overrides``,
keyed ``subject.txt``, ``body.txt``, ``body.html``). Everything renders in a sandbox, and
the HTML body is autoescaped, because override sources come from admin API callers.

Locales: the recipient's ``xp.Locale`` picks variant files (``body.fr.txt.j2``) through
:mod:`core.delivery.locales`, only when all three parts exist in that language. A sender with
overrides has chosen its own wording, so its message is rendered from its overrides and
the default files (never a mix of the sender's language and a translation).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from jinja2 import (
    BaseLoader,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateSyntaxError,
)

from core.delivery.locales import TEMPLATE_SUFFIX, template_files_for
from core.delivery.template_bounds import (
    MAX_SOURCE_CHARS,
    BoundedSandbox,
    TemplateBoundExceeded,
    render_bounded,
)
from core.platform.errors import InvalidRequest

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates"
OTP_TEMPLATE_FOLDER = "one_time_password"
PARTS = ("subject.txt", "body.txt", "body.html")
# Compiled override sources kept per renderer (three parts for each of many senders).
MAX_CACHED_OVERRIDES = 512


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str


class TemplateRenderError(Exception):
    """A template (usually a sender's override) failed to render; names the part only."""


class MessageRenderer:
    """Renders a message type's three parts, honouring a sender's overrides."""

    def __init__(self, template_dir: Path = TEMPLATE_DIR) -> None:
        loader = FileSystemLoader(str(template_dir))
        self._text = _environment(loader, autoescape=False)
        self._html = _environment(loader, autoescape=True)
        self._template_dir = template_dir
        # A sender's overrides are compiled once per source, not for every message.
        self._compile_override = lru_cache(maxsize=MAX_CACHED_OVERRIDES)(self._compile)

    def render(
        self,
        folder: str,
        context: Mapping[str, object],
        overrides: Mapping[str, str] | None = None,
        *,
        locale: object = None,
    ) -> RenderedMessage:
        """Subject (one line), text and HTML bodies; raises :class:`TemplateRenderError`.

        ``locale`` is the recipient's raw ``xp.Locale`` (checked here, ignored if odd).
        """
        sources = {part: source for part, source in (overrides or {}).items() if source}
        files = template_files_for(
            None if sources else locale, _template_names(self._template_dir / folder)
        )
        parts = {
            part: self._render_part(part, f"{folder}/{files[part]}", context, sources.get(part))
            for part in PARTS
        }
        subject = " ".join(parts["subject.txt"].split())
        return RenderedMessage(subject=subject, text=parts["body.txt"], html=parts["body.html"])

    def _render_part(
        self, part: str, file_name: str, context: Mapping[str, object], source: str | None
    ) -> str:
        environment = self._html if part.endswith(".html") else self._text
        try:
            if isinstance(source, str) and source:
                template = self._compile_override(environment is self._html, source)
                return render_bounded(template, dict(context))
            return environment.get_template(file_name).render(**context)
        except TemplateBoundExceeded as error:
            # The bound's own message names the bound, never a value.
            raise TemplateRenderError(f"{part}: {error}") from None
        except TemplateSyntaxError as error:
            # A syntax error describes the template source, which holds no code.
            raise TemplateRenderError(f"{part}: line {error.lineno}: {error.message}") from None
        except Exception as error:
            raise TemplateRenderError(f"{part}: {_describe(error)}") from None

    def _compile(self, html: bool, source: str) -> Template:
        return (self._html if html else self._text).from_string(source)


def _environment(loader: BaseLoader | None, *, autoescape: bool) -> BoundedSandbox:
    # StrictUndefined: a misspelt variable fails loudly instead of sending a blank code.
    # auto_reload=False: the files ship with the code, so each is compiled once per
    # process instead of checked on disk for every message.
    return BoundedSandbox(
        loader=loader,
        autoescape=autoescape,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        auto_reload=False,
    )


# Runtime errors can quote context values (``{{ {}[code] }}`` names the code), so an
# error's message is kept only when it has one of these shapes, which name template
# variables and types alone, and holds no digit at all (an attribute name built from the
# code, ``x|attr("_" ~ code)``, would otherwise pass); otherwise only the error's kind.
_SAFE_MESSAGES = (
    re.compile(r"^'[A-Za-z_]+' is undefined$"),
    re.compile(r"^access to attribute '[A-Za-z_]+' of '[A-Za-z_ ]+' object is unsafe\.$"),
)


def _describe(error: Exception) -> str:
    message = str(error)
    if message.isascii() and any(pattern.match(message) for pattern in _SAFE_MESSAGES):
        return f"{type(error).__name__}: {message}"
    return type(error).__name__


@cache
def _template_names(folder: Path) -> frozenset[str]:
    """The folder's template names without ``.j2`` (``body.fr.txt``); read once per process."""
    if not folder.is_dir():
        return frozenset()
    return frozenset(
        path.name.removesuffix(TEMPLATE_SUFFIX)
        for path in folder.iterdir()
        if path.name.endswith(TEMPLATE_SUFFIX)
    )


# Every variable a OneTimePassword template may use, with sample values: a saved override
# is tried once with them, so a template bomb is refused when saved, not on every worker.
_TRIAL_CONTEXT: dict[str, object] = {
    "code": "12345678",
    "username": "sample.user",
    "first_name": "Sam",
    "last_name": "Sample",
    "email": "sample.user@example.com",
    "client_id": "SAMPLE-CLIENT-ID",
    "app_name": "Sample Storefront",
    "expires_at": "2030-01-01T00:00:00Z",
    "expires_in_minutes": 10,
    "environment": "Production",
}


def check_template_overrides(overrides: Mapping[str, object]) -> None:
    """Refuse overrides that are unknown parts, too long, do not compile or pass a bound.

    ``400 MessageSenders.TemplateError`` naming the part; admin API, at save time.
    """
    for part, source in overrides.items():
        if source is None:
            continue
        if part not in PARTS:
            raise _template_error(part, f"unknown template part {part!r}")
        if not isinstance(source, str):
            raise _template_error(part, f"template {part} must be a string")
        if len(source) > MAX_SOURCE_CHARS:
            raise _template_error(part, f"{part}: over {MAX_SOURCE_CHARS} characters")
        environment = _environment(None, autoescape=part.endswith(".html"))
        try:
            template = environment.from_string(source)
        except TemplateSyntaxError as error:
            raise _template_error(part, f"{part}: line {error.lineno}: {error.message}") from None
        except TemplateError:
            raise _template_error(part, f"{part}: does not compile") from None
        try:
            render_bounded(template, _TRIAL_CONTEXT)
        except TemplateBoundExceeded as error:
            raise _template_error(part, f"{part}: {error}") from None
        except Exception:  # noqa: S110 - other failures depend on data; the preview shows them
            pass


def _template_error(part: str, message: str) -> InvalidRequest:
    return InvalidRequest(
        f"template error in {message}",
        data={"Field": f"TemplateOverrides.{part}"},
        error_code="MessageSenders.TemplateError",
    )
