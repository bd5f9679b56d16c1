"""Base classes of the request and response bodies.

Request bodies are strict (no ``"5"`` for 5, no ``1`` for true) and refuse unknown fields, so a
typo is a 422 rather than a silently ignored change. An integer may be written ``5.0``: JSON has
one number type, and JSON Schema counts ``5.0`` as an integer.

No text anywhere in a request may hold a NUL character; the OpenAPI document says so for every
string (:mod:`ostiary.web.api.document`), and the patterns below exclude it themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

__all__ = [
    "EMAIL_PATTERN",
    "NOT_BLANK_PATTERN",
    "ListBody",
    "RequestBody",
    "ResponseBody",
    "documented_pattern",
    "optional",
    "unique_items",
]

# The patterns are written for Python's `re`, ECMAScript and the Rust regex engine pydantic
# uses. Their `\s` differ (Python's includes U+001C-U+001F, ECMAScript's U+FEFF), so
# whitespace is spelled out as Python's, which is what str.strip() removes and what the
# services' own checks use on the stripped text.
WHITESPACE = (
    r"\t\n\u000b\u000c\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f"
    r"\u205f\u3000"
)
NOT_BLANK_PATTERN = rf"^[^\u0000]*[^{WHITESPACE}\u0000][^\u0000]*$"
EMAIL_PATTERN = (
    rf"^[{WHITESPACE}]*[^@{WHITESPACE}\u0000]{{1,64}}@[^@{WHITESPACE}\u0000]+"
    rf"\.[^@{WHITESPACE}.\u0000]{{2,}}[{WHITESPACE}]*$"
)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


SchemaExtra = Callable[[dict[str, Any]], None]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def optional(*, extra: SchemaExtra | None = None, **constraints: Any) -> Any:
    """A field of a PATCH body: it may be left out (no change), but not set to null. ``extra``
    adds to its schema (e.g. :func:`documented_pattern`)."""

    def schema_extra(schema: dict[str, Any]) -> None:
        _no_default(schema)
        if extra is not None:
            extra(schema)

    return Field(None, json_schema_extra=schema_extra, **constraints)


def documented_pattern(pattern: str) -> SchemaExtra:
    """``json_schema_extra`` stating a rule that the service checks (with its own rule id and
    message): ``pattern`` goes on the string branch of the field's schema (of ``str | None``
    too)."""

    def extra(schema: dict[str, Any]) -> None:
        for branch in schema.get("anyOf", [schema]):
            if branch.get("type") == "string":
                branch["pattern"] = pattern

    return extra


def unique_items(schema: dict[str, Any]) -> None:
    """``json_schema_extra`` of a list the service refuses duplicates in."""
    schema["uniqueItems"] = True


def _takes_int(model: type[BaseModel], name: str) -> bool:
    field = model.model_fields.get(name)
    if field is None:
        return False
    return field.annotation is int or int in get_args(field.annotation)


class RequestBody(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        """A NUL character cannot be stored (PostgreSQL text refuses it)."""
        if _has_nul(data):
            raise PydanticCustomError("nul_character", "Text must not contain NUL characters.")
        return data

    @model_validator(mode="before")
    @classmethod
    def _whole_numbers(cls, data: Any) -> Any:
        """5.0 for an integer field is 5 (JSON Schema counts it an integer); 5.5, "5" and true
        are still refused by the strict fields."""
        if not isinstance(data, dict):
            return data
        return {
            name: int(value)
            if isinstance(value, float) and value.is_integer() and _takes_int(cls, name)
            else value
            for name, value in data.items()
        }


class ResponseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ListBody(ResponseBody):
    next_page_token: str | None = Field(
        description="Pass as `page_token` for the next page; null on the last page."
    )
    total_size: int = Field(description="How many items the whole list holds.")
