"""Errors that use cases raise; each interface (CLI, pages, API) renders them its own way."""

from __future__ import annotations

__all__ = ["Conflict", "InvalidInput", "NotFound", "ServiceError"]


class ServiceError(Exception):
    """Base class: ``str(err)`` is a sentence a user can act on."""

    code = "error"


class InvalidInput(ServiceError):
    """A value breaks a rule. ``field`` names the input, ``rule`` is a stable id."""

    code = "invalid_argument"

    def __init__(self, field: str, message: str, *, rule: str = "invalid") -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule


class NotFound(ServiceError):
    code = "not_found"


class Conflict(ServiceError):
    """The request clashes with what exists (a duplicate, a limit reached, a protected record)."""

    code = "conflict"
