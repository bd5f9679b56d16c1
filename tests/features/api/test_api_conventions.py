"""Conventions shared by every /api/v1 endpoint: pagination parameters, the error shape,
Cache-Control: no-store, unknown paths and methods."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest
from api_helpers import Api

from ostiary.services.container import Services
from ostiary.web.app import create_web_app


@pytest.mark.parametrize("page_size", ["0", "-1", "101", "ten"])
async def test_page_size_out_of_range_is_422(api: Api, page_size: str) -> None:
    """page_size must be an integer from 1 to 100; anything else is 422 naming page_size."""
    response = await api.get("/users", params={"page_size": page_size})
    body = response.json()
    assert (422, "invalid_argument", "page_size") == (
        response.status_code,
        body["code"],
        body["details"][0]["field"],
    )


async def test_page_size_defaults_to_10(api: Api) -> None:
    """Without page_size a page holds 10 items."""
    for i in range(12):
        await api.created("/permissions", {"name": f"thing{i:02}:read"})
    first = await api.ok("GET", "/permissions")
    second = await api.ok("GET", "/permissions", params={"page_token": first["next_page_token"]})
    assert (10, 2, None, 12) == (
        len(first["permissions"]),
        len(second["permissions"]),
        second["next_page_token"],
        second["total_size"],
    )


async def test_page_size_100_is_allowed(api: Api) -> None:
    """The largest page is 100."""
    assert 200 == (await api.get("/users", params={"page_size": "100"})).status_code


@pytest.mark.parametrize(
    "page_token",
    [
        "!!!",
        "users.",  # no key
        "users.7f",  # a key that is not printable ASCII
        "users.4",  # half a byte
        "roles." + b"role_01ARZ3NDEKTSV4RRFFQ69G5FAV".hex(),  # other list
        base64.urlsafe_b64encode(b"users:usr_01ARZ3NDEKTSV4RRFFQ69G5FAV").decode(),  # old form
    ],
)
async def test_a_foreign_or_altered_page_token_is_422(api: Api, page_token: str) -> None:
    """page_token must be a next_page_token of the same list."""
    response = await api.get("/users", params={"page_token": page_token})
    assert (422, "page_token", "invalid_page_token") == (
        response.status_code,
        response.json()["details"][0]["field"],
        response.json()["details"][0]["rule"],
    )


async def test_every_answer_is_no_store(api: Api) -> None:
    """Success, errors, the OpenAPI document and unknown paths all carry no-store."""
    responses = [
        await api.get("/users"),
        await api.get("/users", token=None),
        await api.get("/users/usr_nobody"),
        await api.post("/users", json={"email": "bad"}),
        await api.get("/openapi.json", token=None),
        await api.get("/nothing-here"),
        await api.request("PUT", "/users"),
    ]
    assert ["no-store"] * len(responses) == [r.headers["cache-control"] for r in responses]


async def test_errors_have_code_message_details(api: Api) -> None:
    """Every error body is exactly {code, message, details}."""
    for response in [
        await api.get("/users", token=None),
        await api.get("/users/usr_nobody"),
        await api.post("/users", json={"email": "bad"}),
        await api.get("/nothing-here"),
    ]:
        assert ["code", "details", "message"] == sorted(response.json()), response.text


async def test_an_unknown_path_is_404_and_a_wrong_method_405(api: Api) -> None:
    """Unknown paths are 404 not_found; a known path with a wrong method is 405 with Allow."""
    missing = await api.get("/nothing-here")
    assert (404, "not_found") == (missing.status_code, missing.json()["code"])
    wrong = await api.request("PUT", "/users")
    assert (405, "method_not_allowed", "GET, POST") == (
        wrong.status_code,
        wrong.json()["code"],
        wrong.headers["allow"],
    )


async def test_a_body_that_is_not_a_json_object_is_422(api: Api) -> None:
    """A JSON array, or a form, where an object is expected: 422 saying what to send."""
    for kwargs in ({"json": ["a"]}, {"data": {"email": "a@example.com"}}):
        response = await api.post("/users", **kwargs)
        assert 422 == response.status_code
        assert "JSON object" in response.json()["message"]


async def test_a_nul_character_is_422(api: Api) -> None:
    """Text with a NUL character cannot be stored anywhere: 422, in a body and in a path."""
    response = await api.post("/users", json={"email": "a\u0000@example.com"})
    assert (422, "nul_character") == (response.status_code, response.json()["details"][0]["rule"])
    response = await api.get("/users/usr_%00")
    assert (422, "nul_character") == (response.status_code, response.json()["details"][0]["rule"])


async def test_a_body_over_256_kib_is_413(api: Api) -> None:
    """Bodies are capped: 300 KiB of metadata is refused before it is parsed."""
    big = {"email": "big@example.com", "metadata": {"blob": "x" * 300 * 1024}}
    response = await api.post("/users", json=big)
    assert (413, "payload_too_large") == (response.status_code, response.json()["code"])


async def test_a_streamed_body_over_256_kib_is_413(api: Api) -> None:
    """Without Content-Length (chunked), the body is counted as it arrives."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"email": "big@example.com", "name": "'
        for _ in range(3):
            yield b"x" * 100 * 1024
        yield b'"}'

    response = await api.post(
        "/users", content=chunks(), headers={"content-type": "application/json"}
    )
    assert (413, "payload_too_large") == (response.status_code, response.json()["code"])


async def test_an_unexpected_error_is_a_json_500(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug still answers in the API's shape (500 internal, no-store); nothing leaks."""
    transport = httpx.ASGITransport(app=create_web_app(services), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=services.settings.issuer) as client:
        api = Api(client, services)
        await api.token()

        async def broken(**_: object) -> None:
            raise RuntimeError("secret internals")

        monkeypatch.setattr(services.users, "page", broken)
        response = await api.get("/users")
    assert (500, "internal", "no-store") == (
        response.status_code,
        response.json()["code"],
        response.headers["cache-control"],
    )
    assert "secret internals" not in response.text
