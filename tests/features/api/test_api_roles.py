"""/api/v1/roles (by id or name) and /api/v1/permissions: CRUD, pagination, duplicates, rules."""

from __future__ import annotations

from api_helpers import Api


async def test_create_get_update_delete_a_role(api: Api) -> None:
    """The whole life of a role, addressed by id and by name."""
    created = await api.created(
        "/roles",
        {"name": "billing", "display_name": "Billing", "permissions": ["invoices:read"]},
    )
    assert created == await api.ok("GET", f"/roles/{created['id']}")
    assert created == await api.ok("GET", "/roles/billing")
    updated = await api.ok(
        "PATCH",
        "/roles/billing",
        json={"permissions": ["invoices:read", "invoices:write"], "extends": "member"},
    )
    assert (["invoices:read", "invoices:write"], "member", "billing") == (
        updated["permissions"],
        updated["extends"],
        updated["name"],
    )
    assert 204 == (await api.delete(f"/roles/{created['id']}")).status_code
    assert 404 == (await api.get("/roles/billing")).status_code


async def test_list_roles_page_by_page(api: Api) -> None:
    """admin and member plus three new roles, two per page: three pages, total_size 5."""
    for name in ("billing", "support", "sales"):
        await api.created("/roles", {"name": name})
    items, pages, total = await api.all_pages("/roles", "roles")
    assert (["admin", "member", "billing", "support", "sales"], 3, 5) == (
        [r["name"] for r in items],
        pages,
        total,
    )


async def test_duplicate_role_name_is_409(api: Api) -> None:
    """Role names are unique: a second "billing" is 409."""
    await api.created("/roles", {"name": "billing"})
    response = await api.post("/roles", json={"name": "billing"})
    assert (409, "conflict") == (response.status_code, response.json()["code"])


async def test_built_in_and_extended_roles_cannot_be_deleted(api: Api) -> None:
    """admin is built in; a role another role extends must be freed first: both 409."""
    assert 409 == (await api.delete("/roles/admin")).status_code
    await api.created("/roles", {"name": "base"})
    await api.created("/roles", {"name": "derived", "extends": "base"})
    response = await api.delete("/roles/base")
    assert (409, "conflict") == (response.status_code, response.json()["code"])


async def test_role_rules_are_422(api: Api) -> None:
    """A bad name, a bad permission, an unknown parent and a cycle are each 422."""
    cases = [
        ({"name": "Billing Team"}, "name"),
        ({"name": "billing", "permissions": ["read invoices"]}, "permissions"),
        ({"name": "billing", "extends": "nobody"}, "extends"),
    ]
    for body, field in cases:
        response = await api.post("/roles", json=body)
        assert (422, field) == (response.status_code, response.json()["details"][0]["field"])
    await api.created("/roles", {"name": "a"})
    await api.created("/roles", {"name": "b", "extends": "a"})
    response = await api.patch("/roles/a", json={"extends": "b"})
    assert (422, "extends") == (response.status_code, response.json()["details"][0]["field"])


async def test_a_role_name_cannot_change(api: Api) -> None:
    """name is not a field of PATCH: 422 on the unknown field."""
    await api.created("/roles", {"name": "billing"})
    response = await api.patch("/roles/billing", json={"name": "finance"})
    assert (422, "name") == (response.status_code, response.json()["details"][0]["field"])


async def test_unknown_role_is_404(api: Api) -> None:
    """GET, PATCH and DELETE of an unknown role: 404."""
    for method, body in [("GET", None), ("PATCH", {"description": "x"}), ("DELETE", None)]:
        assert 404 == (await api.request(method, "/roles/ghost", json=body)).status_code


# -- permissions ------------------------------------------------------------------------------


async def test_create_get_update_delete_a_permission(api: Api) -> None:
    """The whole life of a permission; its name (with a colon) is the path."""
    created = await api.created(
        "/permissions", {"name": "invoices:read", "description": "Read invoices"}
    )
    assert created == await api.ok("GET", "/permissions/invoices:read")
    updated = await api.ok(
        "PATCH", "/permissions/invoices:read", json={"description": "See every invoice"}
    )
    assert "See every invoice" == updated["description"]
    unchanged = await api.ok("PATCH", "/permissions/invoices:read", json={})
    assert updated == unchanged
    assert 204 == (await api.delete("/permissions/invoices:read")).status_code
    assert 404 == (await api.get("/permissions/invoices:read")).status_code


async def test_list_permissions_page_by_page(api: Api) -> None:
    """Five permissions, two per page: three pages in name order, total_size 5."""
    names = ["b:read", "a:write", "c:read", "a:read", "b:write"]
    for name in names:
        await api.created("/permissions", {"name": name})
    items, pages, total = await api.all_pages("/permissions", "permissions")
    assert (sorted(names), 3, 5) == ([p["name"] for p in items], pages, total)


async def test_duplicate_permission_is_409(api: Api) -> None:
    """A permission exists once: the second create is 409."""
    await api.created("/permissions", {"name": "invoices:read"})
    response = await api.post("/permissions", json={"name": "invoices:read"})
    assert (409, "conflict") == (response.status_code, response.json()["code"])


async def test_bad_permission_name_is_422(api: Api) -> None:
    """A permission is resource:action."""
    response = await api.post("/permissions", json={"name": "invoices"})
    assert (422, "name") == (response.status_code, response.json()["details"][0]["field"])


async def test_unknown_permission_is_404(api: Api) -> None:
    """GET, PATCH and DELETE of an unknown permission: 404."""
    for method, body in [("GET", None), ("PATCH", {"description": "x"}), ("DELETE", None)]:
        response = await api.request(method, "/permissions/ghost:read", json=body)
        assert 404 == response.status_code, method
