"""The OpenAPI document states the rules the server enforces on each input, so that a client (or
schemathesis) that follows the document is never refused: page tokens, NUL characters, slugs,
role and permission names, emails, and integers written as ``5.0``."""

from __future__ import annotations

import re
import sys
from typing import Any

import pytest
from api_helpers import Api
from pydantic import BaseModel, Field, ValidationError

from ostiary.web.api.models import EMAIL_PATTERN, NOT_BLANK_PATTERN

PY_WHITESPACE = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]


async def _document(api: Api) -> dict[str, Any]:
    return await api.ok("GET", "/openapi.json", token=None)


def _string_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The string branch of a property (``str | None`` is an anyOf)."""
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "string":
            return branch
    raise AssertionError(f"no string in {schema}")


def _documented(schema: dict[str, Any], value: str) -> bool:
    """Whether the document allows ``value`` for this string (its pattern, as JSON Schema reads
    it: a search, with ECMAScript's strict ``$``)."""
    pattern = _string_schema(schema)["pattern"].replace("$", r"\Z")
    return re.search(pattern, value) is not None


def _body_field(document: dict[str, Any], component: str, field: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["components"]["schemas"][component]["properties"][field]
    return schema


async def test_a_page_token_is_documented_as_the_server_reads_it(api: Api) -> None:
    """The page_token pattern of /users matches the server's next_page_token and a token made
    the same way, both accepted, and not a token of another list, which the server refuses."""
    for i in range(3):
        await api.created("/users", {"email": f"page{i}@example.com"})
    first = await api.ok("GET", "/users", params={"page_size": "1"})
    made = "users." + b"usr_0".hex()
    foreign = "roles." + b"role_0".hex()
    document = await _document(api)
    [parameter] = [p for p in document["paths"]["/users"]["get"]["parameters"]
                   if p["name"] == "page_token"]  # fmt: skip
    statuses = [
        (await api.get("/users", params={"page_token": token})).status_code
        for token in (first["next_page_token"], made, foreign)
    ]
    documented = [
        _documented(parameter["schema"], token)
        for token in (first["next_page_token"], made, foreign)
    ]
    assert ([200, 200, 422], [True, True, False]) == (statuses, documented)


@pytest.mark.parametrize(
    ("path", "component", "body", "field"),
    [
        ("/applications", "ApplicationCreate", {"name": "Shop\x00", "type": "spa"}, "name"),
        ("/organizations", "OrganizationCreate", {"display_name": "A\x00"}, "display_name"),
        ("/users", "UserCreate", {"email": "a@example.com", "name": "A\x00"}, "name"),
        ("/roles", "RoleCreate", {"name": "r", "description": "\x00"}, "description"),
    ],
)
async def test_a_nul_character_is_refused_as_documented(
    api: Api, path: str, component: str, body: dict[str, Any], field: str
) -> None:
    """A name holding NUL is refused (422), and the document's pattern for it excludes NUL."""
    document = await _document(api)
    response = await api.post(path, json=body)
    assert (422, False) == (
        response.status_code,
        _documented(_body_field(document, component, field), body[field]),
    )


@pytest.mark.parametrize(
    ("path", "component", "field", "refused", "accepted", "rest"),
    [
        ("/organizations", "OrganizationCreate", "slug", "Acme Inc", "acme-inc",
         {"display_name": "Acme"}),
        ("/organizations", "OrganizationCreate", "slug", "acme\n", "acme-2",
         {"display_name": "Acme"}),
        ("/roles", "RoleCreate", "name", "0auditor", "auditor", {}),
        ("/roles", "RoleCreate", "name", "auditor\n", "auditor-2", {}),
        ("/permissions", "PermissionCreate", "name", "invoices", "invoices:read", {}),
        ("/permissions", "PermissionCreate", "name", "invoices:read\n", "invoices:write", {}),
        ("/users", "UserCreate", "email", "revoke", "revoke@example.com", {}),
        ("/users", "UserCreate", "email", "", " spaced@example.com ", {}),
    ],
)  # fmt: skip
async def test_a_format_is_documented_as_the_server_checks_it(
    api: Api,
    path: str,
    component: str,
    field: str,
    refused: str,
    accepted: str,
    rest: dict[str, Any],
) -> None:
    """A slug, role name, permission name or email the server refuses (422) is one the
    document's pattern refuses, and one it accepts (201) is one the pattern allows."""
    document = await _document(api)
    schema = _body_field(document, component, field)
    statuses = [
        (await api.post(path, json={**rest, field: value})).status_code
        for value in (refused, accepted)
    ]
    documented = [_documented(schema, value) for value in (refused, accepted)]
    assert ([422, 201], [False, True]) == (statuses, documented)


async def test_a_delay_of_0_0_rotates_now(api: Api) -> None:
    """``{"delay": 0.0}`` is an integer to JSON Schema, and the server takes it as 0."""
    response = await api.post("/keys/rotate", json={"delay": 0.0})
    assert (201, True) == (
        response.status_code,
        response.json()["activates_at"] == response.json()["created_at"],
    )


async def test_a_fractional_delay_is_still_refused(api: Api) -> None:
    """0.5 seconds is not an integer: 422, as before."""
    response = await api.post("/keys/rotate", json={"delay": 0.5})
    assert (422, "delay") == (response.status_code, response.json()["details"][0]["field"])


@pytest.mark.parametrize("pattern", [EMAIL_PATTERN, NOT_BLANK_PATTERN], ids=["email", "not-blank"])
def test_patterns_mean_the_same_to_every_regex_engine(pattern: str) -> None:
    """The document's text patterns give the same answer under Python's `re` (the services)
    and the Rust engine pydantic and schema tools use, for every whitespace character of
    either: their `\\s` differ (U+001C-U+001F), so a client generating valid data from the
    document was refused."""

    class Probe(BaseModel):
        value: str = Field(pattern=pattern)

    samples = [f"a{c}b@example.com" for c in (*PY_WHITESPACE, "\ufeff")]
    samples += [f"a@exa{c}mple.com" for c in (*PY_WHITESPACE, "\ufeff")] + list(PY_WHITESPACE)
    disagreements = []
    for sample in samples:
        try:
            Probe(value=sample)
            rust = True
        except ValidationError:
            rust = False
        if rust != bool(re.fullmatch(pattern, sample)):
            disagreements.append(sample)
    assert [] == disagreements
