"""Errors that use cases raise; each interface (CLI, pages, API) renders them its own way."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

__all__ = ["Conflict", "InvalidInput", "NotFound", "Problem", "ServiceError"]


class ServiceError(Exception):
    """Base class: ``str(err)`` is a sentence a user can act on."""

    code = "error"


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """One broken rule: the input, the rule's stable id, and a sentence a user can act on."""

    field: str
    rule: str
    message: str


class InvalidInput(ServiceError):
    """A value breaks a rule. ``field`` names the input, ``rule`` is a stable id. When several
    values are wrong at once (the URLs of a form), ``problems`` lists every one of them; ``field``
    and ``rule`` are the first's."""

    code = "invalid_argument"

    def __init__(
        self,
        field: str,
        message: str,
        *,
        rule: str = "invalid",
        problems: Sequence[Problem] = (),
    ) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule
        self.problems = tuple(problems) or (Problem(field, rule, message),)

    @classmethod
    def of(cls, problems: Sequence[Problem], summary: str) -> InvalidInput:
        """One error for ``problems`` (at least one): the only message, or ``summary`` followed
        by every message."""
        first = problems[0]
        message = (
            first.message
            if len(problems) == 1
            else " ".join([summary, *(p.message for p in problems)])
        )
        return cls(first.field, message, rule=first.rule, problems=problems)


class NotFound(ServiceError):
    code = "not_found"


class Conflict(ServiceError):
    """The request clashes with what exists (a duplicate, a limit reached, a protected record)."""

    code = "conflict"
