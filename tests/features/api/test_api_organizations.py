"""/api/v1/organizations and their members: CRUD, pagination, duplicates and rules."""

from __future__ import annotations

from typing import Any

from api_helpers import Api


async def _user(api: Api, email: str) -> dict[str, Any]:
    return await api.created("/users", {"email": email})


async def test_create_get_update_delete_an_organization(api: Api) -> None:
    """The whole life of an organization through the API."""
    created = await api.created(
        "/organizations",
        {"display_name": "Acme Corp", "external_id": "crm-42", "metadata": {"tier": "gold"}},
    )
    assert ("acme-corp", "crm-42", {"tier": "gold"}) == (
        created["slug"],
        created["external_id"],
        created["metadata"],
    )
    assert created == await api.ok("GET", f"/organizations/{created['id']}")
    updated = await api.ok(
        "PATCH",
        f"/organizations/{created['id']}",
        json={"display_name": "Acme", "session_idle_timeout": 3600},
    )
    assert ("Acme", "acme-corp", 3600) == (
        updated["display_name"],
        updated["slug"],
        updated["session_idle_timeout"],
    )
    assert 204 == (await api.delete(f"/organizations/{created['id']}")).status_code
    assert 404 == (await api.get(f"/organizations/{created['id']}")).status_code


async def test_list_organizations_page_by_page(api: Api) -> None:
    """Three organizations, two per page: two pages, total_size 3."""
    ids = [
        (await api.created("/organizations", {"display_name": f"Org {i}"}))["id"] for i in range(3)
    ]
    items, pages, total = await api.all_pages("/organizations", "organizations")
    assert (ids, 2, 3) == ([o["id"] for o in items], pages, total)


async def test_duplicate_slug_is_409(api: Api) -> None:
    """Two organizations cannot share a slug, on create or on update."""
    await api.created("/organizations", {"display_name": "Acme", "slug": "acme"})
    response = await api.post("/organizations", json={"display_name": "Acme 2", "slug": "acme"})
    assert (409, "conflict") == (response.status_code, response.json()["code"])
    other = await api.created("/organizations", {"display_name": "Other"})
    response = await api.patch(f"/organizations/{other['id']}", json={"slug": "acme"})
    assert 409 == response.status_code


async def test_organization_rules_are_422(api: Api) -> None:
    """A bad slug, eleven metadata pairs and a too-short session timeout are each 422."""
    cases = [
        ({"display_name": "X", "slug": "Not A Slug"}, "slug"),
        (
            {"display_name": "X", "metadata": {f"k{i}": "v" for i in range(11)}},
            "metadata",
        ),
    ]
    for body, field in cases:
        response = await api.post("/organizations", json=body)
        assert (422, field) == (response.status_code, response.json()["details"][0]["field"])
    org = await api.created("/organizations", {"display_name": "Acme"})
    response = await api.patch(f"/organizations/{org['id']}", json={"session_idle_timeout": 5})
    assert (422, "session_idle_timeout") == (
        response.status_code,
        response.json()["details"][0]["field"],
    )


async def test_unknown_organization_is_404(api: Api) -> None:
    """GET, PATCH, DELETE and the members of an unknown organization: 404."""
    path = "/organizations/org_01ARZ3NDEKTSV4RRFFQ69G5FAV"
    for method, sub, body in [
        ("GET", "", None),
        ("PATCH", "", {"display_name": "x"}),
        ("DELETE", "", None),
        ("GET", "/members", None),
        ("POST", "/members", {"user_id": "usr_x"}),
    ]:
        response = await api.request(method, path + sub, json=body)
        assert 404 == response.status_code, (method, sub)


# -- members ----------------------------------------------------------------------------------


async def test_membership_add_get_update_remove(api: Api) -> None:
    """Add a user (default role member), read it, change roles and status, remove it."""
    org = await api.created("/organizations", {"display_name": "Acme"})
    user = await _user(api, "ada@example.com")
    members = f"/organizations/{org['id']}/members"
    added = await api.created(members, {"user_id": user["id"]})
    assert (["member"], "active") == (added["roles"], added["status"])
    assert added == await api.ok("GET", f"{members}/{user['id']}")
    updated = await api.ok(
        "PATCH", f"{members}/{user['id']}", json={"roles": ["admin"], "status": "suspended"}
    )
    assert (["admin"], "suspended") == (updated["roles"], updated["status"])
    assert 204 == (await api.delete(f"{members}/{user['id']}")).status_code
    assert 404 == (await api.get(f"{members}/{user['id']}")).status_code


async def test_list_members_page_by_page(api: Api) -> None:
    """Five members, two per page: three pages, total_size 5."""
    org = await api.created("/organizations", {"display_name": "Acme"})
    members = f"/organizations/{org['id']}/members"
    for i in range(5):
        user = await _user(api, f"member{i}@example.com")
        await api.created(members, {"user_id": user["id"], "roles": ["member"]})
    items, pages, total = await api.all_pages(members, "members")
    assert (5, 3, 5) == (len({m["user_id"] for m in items}), pages, total)


async def test_duplicate_membership_is_409(api: Api) -> None:
    """Adding the same user twice is a 409."""
    org = await api.created("/organizations", {"display_name": "Acme"})
    user = await _user(api, "ada@example.com")
    members = f"/organizations/{org['id']}/members"
    await api.created(members, {"user_id": user["id"]})
    response = await api.post(members, json={"user_id": user["id"]})
    assert (409, "conflict") == (response.status_code, response.json()["code"])


async def test_membership_rules(api: Api) -> None:
    """An unknown role and an unknown status are 422; an unknown user is 404."""
    org = await api.created("/organizations", {"display_name": "Acme"})
    user = await _user(api, "ada@example.com")
    members = f"/organizations/{org['id']}/members"
    response = await api.post(members, json={"user_id": user["id"], "roles": ["wizard"]})
    assert (422, "roles") == (response.status_code, response.json()["details"][0]["field"])
    response = await api.post(members, json={"user_id": user["id"], "status": "retired"})
    assert (422, "status") == (response.status_code, response.json()["details"][0]["field"])
    response = await api.post(members, json={"user_id": "usr_01ARZ3NDEKTSV4RRFFQ69G5FAV"})
    assert 404 == response.status_code


async def test_membership_shows_in_the_users_token(api: Api) -> None:
    """A role granted through the API reaches the access token of the member's next login."""
    await api.created("/permissions", {"name": "invoices:read"})
    await api.created("/roles", {"name": "billing", "permissions": ["invoices:read"]})
    org = await api.created("/organizations", {"display_name": "Acme"})
    user = await api.created(
        "/users", {"email": "ada@example.com", "password": "correct horse battery staple"}
    )
    await api.created(
        f"/organizations/{org['id']}/members", {"user_id": user["id"], "roles": ["billing"]}
    )
    signed_in = await api.sign_in("ada@example.com")
    claims = await api.services.bearer.verify(signed_in.access_token)
    assert (org["id"], ["billing"], ["invoices:read"]) == (
        claims["oid"],
        claims["roles"],
        claims["permissions"],
    )
