"""The OpenAPI document: what FastAPI generates from the models, plus the one rule that every
text of a request shares and that no model states field by field: it holds no NUL character
(PostgreSQL text cannot store one). The models refuse it (``RequestBody``), and so do path and
query parameters (``auth._reject_nul``); this module says so in the document, on every string a
request may carry: parameters, body fields, list items, object keys and values, and the values
of free-form metadata, at any depth.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

__all__ = ["NO_NUL_PATTERN", "install_document"]

NO_NUL_PATTERN = r"^[^\u0000]*$"
NUL_FREE_JSON = "NulFreeJson"
NUL_FREE_JSON_SCHEMA: dict[str, Any] = {
    "description": "Any JSON value whose strings (keys too) hold no NUL character.",
    "anyOf": [
        {"type": "string", "pattern": NO_NUL_PATTERN},
        {"type": ["number", "boolean", "null"]},
        {"type": "array", "items": {"$ref": f"#/components/schemas/{NUL_FREE_JSON}"}},
        {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL_PATTERN},
            "additionalProperties": {"$ref": f"#/components/schemas/{NUL_FREE_JSON}"},
        },
    ],
}


def _forbid_nul(schema: Any, components: dict[str, Any], seen: set[str]) -> None:
    """Give every string of ``schema`` (following its references) a NUL-free pattern, unless it
    has a pattern of its own (those exclude NUL themselves), and every free-form value the
    NUL-free JSON schema."""
    if not isinstance(schema, dict):
        return
    reference = schema.get("$ref")
    if isinstance(reference, str):
        name = reference.rsplit("/", 1)[-1]
        if name not in seen and name in components:
            seen.add(name)
            _forbid_nul(components[name], components, seen)
        return
    if schema.get("type") == "string" and "pattern" not in schema and "enum" not in schema:
        schema["pattern"] = NO_NUL_PATTERN
    if schema.get("type") == "object" and schema.get("additionalProperties") is not False:
        schema.setdefault("propertyNames", {}).setdefault("pattern", NO_NUL_PATTERN)
        if schema.get("additionalProperties") is True:
            schema["additionalProperties"] = {"$ref": f"#/components/schemas/{NUL_FREE_JSON}"}
    for key in ("properties",):
        for child in schema.get(key, {}).values():
            _forbid_nul(child, components, seen)
    for key in ("items", "additionalProperties", "propertyNames"):
        _forbid_nul(schema.get(key), components, seen)
    for key in ("anyOf", "oneOf", "allOf"):
        for child in schema.get(key, []):
            _forbid_nul(child, components, seen)


def _with_request_rules(document: dict[str, Any]) -> dict[str, Any]:
    components = document.setdefault("components", {}).setdefault("schemas", {})
    seen: set[str] = set()
    for methods in document["paths"].values():
        for operation in methods.values():
            for parameter in operation.get("parameters", []):
                _forbid_nul(parameter.get("schema"), components, seen)
            for media in operation.get("requestBody", {}).get("content", {}).values():
                _forbid_nul(media.get("schema"), components, seen)
    components[NUL_FREE_JSON] = NUL_FREE_JSON_SCHEMA
    return document


def install_document(api: FastAPI) -> None:
    """Make ``api.openapi()`` answer the generated document with the request rules added."""
    generate: Callable[[], dict[str, Any]] = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            api.openapi_schema = _with_request_rules(generate())
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
