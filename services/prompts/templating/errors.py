"""What goes wrong with a template: when it is written, and when it is rendered."""

from __future__ import annotations


class TemplateSyntaxError(Exception):
    """The template cannot be parsed; `line` is 1-based (0 when unknown)."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def describe(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class RenderError(Exception):
    """Rendering failed. `kind` is one of: "undefined" (a variable or attribute the values
    lack), "unsafe" (the sandbox refused an operation), "too_large" (the output passed the
    limit), "failed" (any other error raised by the template)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
