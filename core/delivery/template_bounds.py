"""Bounds on template rendering: override sources come from admin API callers.

A sender's ``TemplateOverrides`` run on every delivery worker, so a template may not ask
for more than a message needs. :class:`BoundedSandbox` refuses, before allocating:

- ``*`` / ``+`` results (strings, lists) longer than :data:`MAX_VALUE_LENGTH`, and
  integers from ``*`` / ``**`` wider than :data:`MAX_INTEGER_BITS` (``9**9**9``);
- ``%`` formatting and the padding methods and filters (``center``, ``ljust``, ``indent``,
  ``format``, ``replace``, ``join``...) whose result would pass the same bound;
- ``range`` longer than :data:`MAX_RANGE`.

:func:`render_bounded` also stops an override's render after :data:`MAX_RENDER_SECONDS`
(nested loops) or once a part's output passes :data:`MAX_OUTPUT_CHARS`. Sources are
limited to :data:`MAX_SOURCE_CHARS` when saved. docs/hostile-input.md lists the bounds.
"""

from __future__ import annotations

import math
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from types import FrameType
from typing import Any

from jinja2 import Environment, Template, nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

MAX_SOURCE_CHARS = 20_000
MAX_OUTPUT_CHARS = 100_000
MAX_VALUE_LENGTH = 100_000
MAX_INTEGER_BITS = 4_096
MAX_RANGE = 10_000
MAX_RENDER_SECONDS = 1.0

# How many traced lines pass between two looks at the clock.
_LINES_PER_CLOCK_CHECK = 256
# A conversion's width or precision in a %-format: "%999999d", "%.*f".
_FORMAT_WIDTH = re.compile(r"%[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


class TemplateBoundExceeded(Exception):
    """A template asked for more than a bound allows.

    The message names the kind of bound and holds no number: a size can be computed from
    the code (``range(code|int)``), and a render error is stored and shown.
    """


def _too_long(length: int) -> TemplateBoundExceeded:
    del length  # never quoted: see TemplateBoundExceeded
    return TemplateBoundExceeded("a string or list over the length bound")


def check_length(value: object) -> object:
    if isinstance(value, Sized) and not isinstance(value, dict) and len(value) > MAX_VALUE_LENGTH:
        raise _too_long(len(value))
    return value


def _check_repeat(sequence: Sized, times: object) -> None:
    if isinstance(times, int) and len(sequence) * max(times, 0) > MAX_VALUE_LENGTH:
        raise _too_long(len(sequence) * times)


def _integer_bits(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int):
        return 0.0
    return float(abs(value).bit_length())


def _multiply(left: Any, right: Any) -> Any:
    if isinstance(left, Sized) and not isinstance(left, dict):
        _check_repeat(left, right)
    elif isinstance(right, Sized) and not isinstance(right, dict):
        _check_repeat(right, left)
    elif _integer_bits(left) + _integer_bits(right) > MAX_INTEGER_BITS:
        raise TemplateBoundExceeded("an integer over the size bound")
    return left * right


def _power(left: Any, right: Any) -> Any:
    widens = isinstance(right, int) and right > 1 and _integer_bits(left) > 1
    if widens and math.log2(abs(left)) * right > MAX_INTEGER_BITS:
        raise TemplateBoundExceeded("an integer over the size bound")
    if isinstance(left, float) or isinstance(right, float):
        return math.pow(left, right)  # OverflowError rather than a long computation
    return left**right


def _add(left: Any, right: Any) -> Any:
    sequences = isinstance(left, Sized) and isinstance(right, Sized)
    if sequences and not isinstance(left, dict) and len(left) + len(right) > MAX_VALUE_LENGTH:
        raise _too_long(len(left) + len(right))
    return left + right


def _check_format(template: str, values: object) -> None:
    for match in _FORMAT_WIDTH.finditer(template):
        for given in match.groups():
            if given == "*" or (given is not None and int(given) > MAX_VALUE_LENGTH):
                raise TemplateBoundExceeded("a format width over the length bound")


def _modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        _check_format(left, right)
        return check_length(left % right)
    return left % right


_BINARY_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "*": _multiply,
    "**": _power,
    "+": _add,
    "%": _modulo,
}


def bounded_range(*arguments: int) -> range:
    span = range(*arguments)
    if len(span) > MAX_RANGE:
        raise TemplateBoundExceeded("a range over the length bound")
    return span


def _check_width_call(name: str, arguments: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    widths = [value for value in (*arguments, *kwargs.values()) if isinstance(value, int)]
    if name in _WIDTH_METHODS and any(width > MAX_VALUE_LENGTH for width in widths):
        raise TemplateBoundExceeded("a width over the length bound")


def _replace_size(text: str, old: object, new: object) -> int:
    if not isinstance(old, str) or not isinstance(new, str):
        return len(text)
    return len(text) + text.count(old) * max(len(new) - len(old), 0) + (len(new) if not old else 0)


def _check_string_method(text: str, name: str, arguments: tuple[Any, ...], kwargs: Any) -> None:
    _check_width_call(name, arguments, kwargs)
    if name == "replace" and len(arguments) >= 2:
        size = _replace_size(text, arguments[0], arguments[1])
        if size > MAX_VALUE_LENGTH:
            raise _too_long(size)
    if name == "join" and arguments and isinstance(arguments[0], list | tuple | str):
        parts = arguments[0]  # materialised by the caller (see _listed)
        total = sum(len(str(part)) for part in parts) + len(text) * len(parts)
        if total > MAX_VALUE_LENGTH:
            raise _too_long(total)


def _bounded_filter(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    """A filter whose padding, replacement and joining are checked before they run."""

    def checked(*arguments: Any, **kwargs: Any) -> Any:
        if name == "join":
            arguments = _listed(arguments)
        values = [value for value in arguments if not isinstance(value, _PASSED_STATE)]
        if values and isinstance(values[0], str):
            method = {"indent": "center", "format": ""}.get(name, name)
            _check_string_method(values[0], method, tuple(values[1:]), kwargs)
            if name == "format":
                _check_format(values[0], values[1:])
        if name == "join" and values:
            separator = values[1] if len(values) > 1 and isinstance(values[1], str) else ""
            _check_string_method(separator, "join", (values[0],), {})
        return check_length(original(*arguments, **kwargs))

    for attribute in ("jinja_pass_arg",):
        if hasattr(original, attribute):
            setattr(checked, attribute, getattr(original, attribute))
    return checked


def _listed(arguments: tuple[Any, ...]) -> tuple[Any, ...]:
    """The first value argument as a list, so its size is known before a join consumes it
    (a generator from ``map`` could otherwise be measured or joined, not both)."""
    listed = list(arguments)
    for index, value in enumerate(listed):
        if not isinstance(value, _PASSED_STATE):
            if not isinstance(value, (str, Sized)):
                listed[index] = _take_bounded(value)
            break
    return tuple(listed)


def _take_bounded(values: Iterable[Any]) -> list[Any]:
    taken: list[Any] = []
    for value in values:
        taken.append(value)
        if len(taken) > MAX_VALUE_LENGTH:
            raise _too_long(len(taken))
    return taken


_CHECKED_FILTERS = ("center", "indent", "format", "replace", "join", "list")
# What Jinja passes a filter before its value (pass_context, pass_eval_context...).
_PASSED_STATE = (Context, EvalContext, Environment)


def bounded_concat(parts: Iterable[Any]) -> str:
    """``"".join``, refusing before the join once the parts pass the length bound.

    Jinja joins with this the output of ``{% set %}`` blocks, macros and captured loops.
    """
    collected: list[str] = []
    total = 0
    for part in parts:
        total += len(part)
        if total > MAX_VALUE_LENGTH:
            raise _too_long(total)
        collected.append(part)
    return "".join(collected)


class _BoundedCodeGenerator(CodeGenerator):
    """Compiles ``a ~ b`` to a join checked against the length bound (the sandbox has no
    hook for ``~``; doubling a string with it is otherwise unbounded)."""

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # noqa: N802 - Jinja's name
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"environment.bounded_join({join}, (")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")


class BoundedSandbox(SandboxedEnvironment):
    """A sandbox whose operators, calls, ``range`` and amplifying filters are bounded."""

    intercepted_binops = frozenset(_BINARY_OPERATORS)
    code_generator_class = _BoundedCodeGenerator
    concat = staticmethod(bounded_concat)

    @staticmethod
    def bounded_join(join: Callable[[Iterable[Any]], str], parts: tuple[Any, ...]) -> str:
        total = sum(len(part) if isinstance(part, str) else len(str(part)) for part in parts)
        if total > MAX_VALUE_LENGTH:
            raise _too_long(total)
        return join(parts)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = bounded_range
        for name in _CHECKED_FILTERS:
            self.filters[name] = _bounded_filter(name, self.filters[name])

    def call_binop(self, context: Context, operator_name: str, left: Any, right: Any) -> Any:
        return check_length(_BINARY_OPERATORS[operator_name](left, right))

    def call(
        __self,  # noqa: N805 - Jinja's own signature
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if name in ("format", "format_map"):
            # The sandbox wraps str.format (so the owner is gone): widths inside the braces
            # ("{:>999999999}") cannot be bounded before it runs.
            raise TemplateBoundExceeded("str.format is not available in templates")
        if isinstance(owner, str):
            if name == "join" and args:
                args = (_take_bounded(args[0]), *args[1:])
            _check_string_method(owner, name, args, kwargs)
        elif name in _WIDTH_METHODS:
            _check_width_call(name, args, kwargs)
        return check_length(super().call(__context, __obj, *args, **kwargs))


def render_bounded(template: Template, context: dict[str, object]) -> str:
    """The template's output, stopped at :data:`MAX_OUTPUT_CHARS` or the time bound."""
    chunks: list[str] = []
    size = 0
    with _deadline(MAX_RENDER_SECONDS):
        for chunk in template.generate(**context):
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise TemplateBoundExceeded("output over the length bound")
            chunks.append(chunk)
    return "".join(chunks)


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Raise :class:`TemplateBoundExceeded` in this thread's Python code after ``seconds``.

    A line tracer: loops written in the template run as Python lines, so a nested loop
    that yields nothing is stopped too. Loops inside C code are bounded by size instead.
    """
    deadline = time.monotonic() + seconds
    lines = 0

    def on_line(frame: FrameType, event: str, argument: object) -> Any:
        nonlocal lines
        lines += 1
        if lines % _LINES_PER_CLOCK_CHECK == 0 and time.monotonic() > deadline:
            raise TemplateBoundExceeded("rendering over the time bound")
        return on_line

    def on_call(frame: FrameType, event: str, argument: object) -> Any:
        return on_line

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        yield
    finally:
        sys.settrace(previous)
