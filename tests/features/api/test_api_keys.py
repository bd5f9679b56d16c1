"""/api/v1/keys: list signing keys with their status, rotate with or without a delay."""

from __future__ import annotations

from typing import Any

from api_helpers import Api


async def test_list_shows_the_active_key(api: Api) -> None:
    """A fresh environment has one active key, the one that signed the caller's token."""
    token_kid = (await api.services.keys.signing_key())[0]
    listed = await api.ok("GET", "/keys")
    assert ([token_kid], ["active"], 1) == (
        [k["kid"] for k in listed["keys"]],
        [k["status"] for k in listed["keys"]],
        listed["total_size"],
    )


async def test_rotate_with_a_delay_publishes_the_next_key(api: Api) -> None:
    """A rotation with a delay adds a key that is published (in /keys) but not signing yet."""
    rotated = await api.created("/keys/rotate", {"delay": 600})
    assert "next" == rotated["status"]
    jwks = (await api.client.get("/keys")).json()
    assert rotated["kid"] in [key["kid"] for key in jwks["keys"]]
    statuses = {k["kid"]: k["status"] for k in (await api.ok("GET", "/keys"))["keys"]}
    assert "next" == statuses[rotated["kid"]]


async def test_rotate_without_a_body_uses_the_configured_delay(api: Api) -> None:
    """No body: the configured activation delay (15 minutes by default) applies."""
    response = await api.post("/keys/rotate")
    assert 201 == response.status_code, response.text
    assert "next" == response.json()["status"]


async def test_rotate_now_retires_the_old_key(api: Api, clock: Any) -> None:
    """delay 0: the new key signs at once; the old one is retired but still published."""
    old_kid = (await api.services.keys.signing_key())[0]
    clock.advance(1)  # the test clock stands still; keys made in the same instant tie
    rotated = await api.created("/keys/rotate", {"delay": 0})
    statuses = {k["kid"]: k["status"] for k in (await api.ok("GET", "/keys"))["keys"]}
    assert {old_kid: "retired", rotated["kid"]: "active"} == statuses


async def test_keys_page_by_page(api: Api) -> None:
    """Four keys, two per page: two pages, total_size 4."""
    for _ in range(3):
        await api.created("/keys/rotate", {"delay": 3600})
    items, pages, total = await api.all_pages("/keys", "keys")
    assert (4, 2, 4) == (len({k["kid"] for k in items}), pages, total)


async def test_a_negative_delay_is_422(api: Api) -> None:
    """delay must be 0 or more seconds."""
    response = await api.post("/keys/rotate", json={"delay": -1})
    assert (422, "delay") == (response.status_code, response.json()["details"][0]["field"])


async def test_an_emergency_rotation_reports_and_keeps_the_key_it_superseded_from_signing(
    api: Api, clock: Any
) -> None:
    """delay 600 then delay 0: the second answer lists the first key as superseded; 601 s later
    the list shows the second key active and the first one superseded by it."""
    pending = await api.created("/keys/rotate", {"delay": 600})
    clock.advance(1)
    emergency = await api.created("/keys/rotate", {"delay": 0})
    assert ([], [(pending["kid"], "superseded", emergency["kid"])]) == (
        pending["superseded"],
        [(k["kid"], k["status"], k["superseded_by"]) for k in emergency["superseded"]],
    )
    clock.advance(601)
    listed = {k["kid"]: k["status"] for k in (await api.ok("GET", "/keys"))["keys"]}
    assert ("superseded", "active") == (listed[pending["kid"]], listed[emergency["kid"]])


async def test_the_openapi_document_describes_the_superseded_keys(api: Api) -> None:
    """The rotate answer's schema has `superseded` (a list of keys) and the status enum has
    `superseded`, so generated clients know both."""
    document = await api.ok("GET", "/openapi.json", token=None)
    schemas = document["components"]["schemas"]
    created = document["paths"]["/keys/rotate"]["post"]["responses"]["201"]["content"]
    rotated = schemas[created["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
    assert {"type": "array", "items": {"$ref": "#/components/schemas/SigningKey"}} == {
        k: v for k, v in rotated["properties"]["superseded"].items() if k in ("type", "items")
    }
    assert "superseded" in schemas["SigningKey"]["properties"]["status"]["enum"]
