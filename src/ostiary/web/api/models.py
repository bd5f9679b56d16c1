"""Base classes of the request and response bodies.

Request bodies are strict (no ``"5"`` for 5, no ``1`` for true) and refuse unknown fields, so a
typo is a 422 rather than a silently ignored change.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

__all__ = ["ListBody", "RequestBody", "ResponseBody", "optional"]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def optional(**constraints: Any) -> Any:
    """A field of a PATCH body: it may be left out (no change), but not set to null."""
    return Field(None, json_schema_extra=_no_default, **constraints)


class RequestBody(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        """A NUL character cannot be stored (PostgreSQL text refuses it)."""
        if _has_nul(data):
            raise PydanticCustomError("nul_character", "Text must not contain NUL characters.")
        return data


class ResponseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ListBody(ResponseBody):
    next_page_token: str | None = Field(
        description="Pass as `page_token` for the next page; null on the last page."
    )
    total_size: int = Field(description="How many items the whole list holds.")
