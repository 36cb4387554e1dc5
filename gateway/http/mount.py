"""A Starlette `Mount` that matches every path below its prefix, control characters included.

Starlette compiles a mount's prefix to `^/prefix/(?P<path>.*)$`, and `.` does not match a
newline: a request whose decoded path holds a `%0A` (a legal percent-encoding, e.g. inside a
transcoded path parameter) would match no mount and get Starlette's plain-text 404 instead of
reaching the route that owns the path and answering in the documented JSON shape.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.routing import Mount


class AnyPathMount(Mount):
    def __init__(self, path: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(path, *args, **kwargs)
        self.path_regex = re.compile(self.path_regex.pattern, re.DOTALL)


__all__ = ["AnyPathMount"]
