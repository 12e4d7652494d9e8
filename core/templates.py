"""Message rendering: one helper for every channel (webhook ``Message``, email, console).

Templates live in ``templates/<message type folder>/{subject.txt,body.txt,body.html}.j2``.
A sender may override any of the three with its own Jinja2 source (``template_overrides``,
keyed ``subject.txt``, ``body.txt``, ``body.html``). Everything renders in a sandbox, and
the HTML body is autoescaped, because override sources come from admin API callers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined, Template, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from core.errors import InvalidRequest

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
OTP_TEMPLATE_FOLDER = "one_time_password"
PARTS = ("subject.txt", "body.txt", "body.html")


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
        # StrictUndefined: a misspelt variable fails loudly instead of sending a blank code.
        self._text = SandboxedEnvironment(
            loader=loader, autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True
        )
        self._html = SandboxedEnvironment(
            loader=loader, autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True
        )

    def render(
        self,
        folder: str,
        context: Mapping[str, object],
        overrides: Mapping[str, str] | None = None,
    ) -> RenderedMessage:
        """Subject (one line), text and HTML bodies; raises :class:`TemplateRenderError`."""
        parts = {part: self._render_part(folder, part, context, overrides or {}) for part in PARTS}
        subject = " ".join(parts["subject.txt"].split())
        return RenderedMessage(subject=subject, text=parts["body.txt"], html=parts["body.html"])

    def _render_part(
        self, folder: str, part: str, context: Mapping[str, object], overrides: Mapping[str, str]
    ) -> str:
        environment = self._html if part.endswith(".html") else self._text
        try:
            template: Template
            source = overrides.get(part)
            if isinstance(source, str) and source:
                template = environment.from_string(source)
            else:
                template = environment.get_template(f"{folder}/{part}.j2")
            return template.render(**context)
        except TemplateSyntaxError as error:
            # A syntax error describes the template source, which holds no code.
            raise TemplateRenderError(f"{part}: line {error.lineno}: {error.message}") from None
        except Exception as error:
            # Runtime errors can quote context values (``{{ {}[code] }}`` names the code),
            # so only the error's kind is kept.
            raise TemplateRenderError(f"{part}: {type(error).__name__}") from None


def check_template_overrides(overrides: Mapping[str, object]) -> None:
    """Reject overrides that are not the three known parts or do not compile (admin API)."""
    environment = SandboxedEnvironment(autoescape=True)
    for part, source in overrides.items():
        if part not in PARTS:
            raise InvalidRequest(f"unknown template part {part!r}", data=list(PARTS))
        if not isinstance(source, str):
            raise InvalidRequest(f"template {part} must be a string", data=part)
        try:
            environment.parse(source)
        except TemplateError as error:
            raise InvalidRequest(f"template {part} does not compile: {error.message}") from None
