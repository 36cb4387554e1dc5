"""One error vocabulary for every service.

Domain code raises these; the error interceptor (`svckit.interceptors`) turns each into a
canonical gRPC status carrying `google.rpc.Status` details: an `ErrorInfo` with a stable
UPPER_SNAKE reason, and for invalid arguments a `BadRequest` with one violation per field.
Anything else that escapes a handler becomes INTERNAL with a generic message (and a log line).

    ServiceError
    ├── InvalidArgument      INVALID_ARGUMENT, with field violations
    ├── Unauthenticated      UNAUTHENTICATED (no, or no valid, credentials)
    ├── PermissionDenied     PERMISSION_DENIED (valid credentials, not allowed to do this)
    ├── NotFound             NOT_FOUND
    ├── AlreadyExists        ALREADY_EXISTS
    ├── FailedPrecondition   FAILED_PRECONDITION
    ├── ResourceExhausted    RESOURCE_EXHAUSTED
    └── Unavailable          UNAVAILABLE (a dependency is down)

Messages are short English for people; clients branch on the code and `ErrorInfo.reason`.
They must never contain secrets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import grpc


@dataclass(frozen=True)
class FieldViolation:
    """One bad field: its path in the request (`subjects[0].name`) and what is wrong with it."""

    field: str
    description: str


class ServiceError(Exception):
    """Base of the errors a service may raise on purpose."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN
    default_reason = "ERROR"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata: dict[str, str] = dict(metadata or {})


class InvalidArgument(ServiceError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    default_reason = "INVALID_ARGUMENT"

    def __init__(
        self,
        violations: Sequence[FieldViolation],
        *,
        message: str | None = None,
        reason: str | None = None,
    ) -> None:
        if not violations:
            raise ValueError("InvalidArgument needs at least one field violation")
        text = message or "; ".join(f"{v.field}: {v.description}" for v in violations)
        super().__init__(text, reason=reason)
        self.violations = tuple(violations)

    @classmethod
    def field(cls, field: str, description: str, *, reason: str | None = None) -> InvalidArgument:
        return cls([FieldViolation(field, description)], reason=reason)


class Unauthenticated(ServiceError):
    """The caller did not prove who it is; the message never repeats the credential."""

    code = grpc.StatusCode.UNAUTHENTICATED
    default_reason = "UNAUTHENTICATED"


class PermissionDenied(ServiceError):
    """The caller is known but may not do this (a missing scope, another tenant's data)."""

    code = grpc.StatusCode.PERMISSION_DENIED
    default_reason = "PERMISSION_DENIED"


class NotFound(ServiceError):
    code = grpc.StatusCode.NOT_FOUND
    default_reason = "NOT_FOUND"


class AlreadyExists(ServiceError):
    code = grpc.StatusCode.ALREADY_EXISTS
    default_reason = "ALREADY_EXISTS"


class FailedPrecondition(ServiceError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    default_reason = "FAILED_PRECONDITION"


class ResourceExhausted(ServiceError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_reason = "RESOURCE_EXHAUSTED"


class Unavailable(ServiceError):
    code = grpc.StatusCode.UNAVAILABLE
    default_reason = "UNAVAILABLE"


class Violations:
    """Collects field violations so a request reports every bad field at once.

    >>> v = Violations()
    >>> v.check(bool(name), "name", "must not be empty")
    >>> v.raise_if_any()
    """

    def __init__(self) -> None:
        self._items: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self._items.append(FieldViolation(field, description))

    def check(self, ok: bool, field: str, description: str) -> None:
        if not ok:
            self.add(field, description)

    def extend(self, other: Violations, prefix: str = "") -> None:
        for item in other._items:
            self.add(f"{prefix}{item.field}", item.description)

    def __bool__(self) -> bool:
        return bool(self._items)

    def raise_if_any(self, *, reason: str | None = None) -> None:
        if self._items:
            raise InvalidArgument(self._items, reason=reason)


__all__ = [
    "AlreadyExists",
    "FailedPrecondition",
    "FieldViolation",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "ServiceError",
    "Unauthenticated",
    "Unavailable",
    "Violations",
]
