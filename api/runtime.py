"""Access to the process's :class:`~core.platform.runtime.Runtime` from request handlers."""

from __future__ import annotations

from flask import Flask, current_app

from core.platform.runtime import Runtime

_KEY = "otp_runtime"


def attach_runtime(app: Flask, runtime: Runtime) -> None:
    app.extensions[_KEY] = runtime


def current_runtime() -> Runtime:
    runtime = current_app.extensions[_KEY]
    assert isinstance(runtime, Runtime)
    return runtime
