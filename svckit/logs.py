"""JSON log lines, one event per line, with request id and trace id, secrets scrubbed.

`configure_logging(service, level)` installs one handler on the root logger. Every line carries
`service`, `request_id` (set per RPC by the request-context interceptor) and `trace_id` /
`span_id` (from the current OpenTelemetry span), and passes through `svckit.redaction` before
encoding, so a secret in a message, an argument, an extra field or a traceback never leaves.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from typing import Any, TextIO

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

from svckit.redaction import REDACTED, SECRET_FIELD, redact

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self._service
        record.request_id = request_id_var.get()
        span = trace.get_current_span().get_span_context()
        record.trace_id = format(span.trace_id, "032x") if span.is_valid else ""
        record.span_id = format(span.span_id, "016x") if span.is_valid else ""
        return True


class RedactingJsonFormatter(JsonFormatter):
    """python-json-logger's formatter, with every value run through `redact` before encoding."""

    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        return super().jsonify_log_record(_scrub(log_data))


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {
            redact(str(key)): REDACTED if SECRET_FIELD.search(str(key)) else _scrub(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**9:
        # Long enough to be a card or phone number: checked as text, kept as a number if clean.
        text = str(value)
        return value if redact(text) == text else REDACTED
    return redact(str(value)) if not isinstance(value, int | float | bool | None) else value


CHATTY_LOGGERS = ("httpx", "httpcore")


def configure_logging(service: str, level: str = "INFO", stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(_ContextFilter(service))
    handler.setFormatter(
        RedactingJsonFormatter(
            "{asctime}{levelname}{name}{message}{service}{request_id}{trace_id}{span_id}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # HTTP clients log a line per request at INFO: the service's own metrics count those, and
    # a URL is not something to spray into the logs of every call.
    for chatty in CHATTY_LOGGERS:
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))


__all__ = ["RedactingJsonFormatter", "configure_logging", "request_id_var"]
