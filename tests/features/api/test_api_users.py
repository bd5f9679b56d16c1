"""/api/v1/users: create, list (with an email filter), read, change and delete users."""

from __future__ import annotations

from api_helpers import PASSWORD, Api


async def test_create_then_get_by_id_and_by_email(api: Api) -> None:
    """A created user can be read by id and by email (any case); no password in the answer."""
    created = await api.created(
        "/users", {"email": "Ada@Example.com", "name": "Ada Lovelace", "password": PASSWORD}
    )
    assert ("Ada@Example.com", "Ada Lovelace", False) == (
        created["email"],
        created["name"],
        created["email_verified"],
    )
    assert "password" not in created and "password_hash" not in created
    assert created == await api.ok("GET", f"/users/{created['id']}")
    assert created == await api.ok("GET", "/users/ada@example.com")


async def test_created_password_signs_in(api: Api) -> None:
    """A user created with a password can sign in on the hosted login page."""
    await api.created("/users", {"email": "grace@example.com", "password": PASSWORD})
    signed_in = await api.sign_in("grace@example.com")
    assert signed_in.session_id.startswith("ses_")


async def test_duplicate_email_is_409_whatever_the_case(api: Api) -> None:
    """Emails are unique case-insensitively: a second create is 409, never 500."""
    await api.created("/users", {"email": "ada@example.com"})
    response = await api.post("/users", json={"email": "ADA@example.com"})
    assert (409, "conflict") == (response.status_code, response.json()["code"])


async def test_bad_email_is_422_naming_the_field(api: Api) -> None:
    """An email without a domain is 422 with details on the email field."""
    response = await api.post("/users", json={"email": "ada@"})
    assert (422, "invalid_argument") == (response.status_code, response.json()["code"])
    assert "email" == response.json()["details"][0]["field"]


async def test_short_password_is_422_with_its_rule(api: Api) -> None:
    """Password rules come back as rule ids."""
    response = await api.post("/users", json={"email": "a@example.com", "password": "short"})
    assert 422 == response.status_code
    assert ("password", "password_too_short") == (
        response.json()["details"][0]["field"],
        response.json()["details"][0]["rule"],
    )


async def test_list_users_page_by_page(api: Api) -> None:
    """Five users, two per page: three pages, total_size 5, in creation order."""
    ids = [(await api.created("/users", {"email": f"user{i}@example.com"}))["id"] for i in range(5)]
    items, pages, total = await api.all_pages("/users", "users")
    assert (ids, 3, 5) == ([u["id"] for u in items], pages, total)


async def test_list_users_by_email(api: Api) -> None:
    """?email= finds the one user with that address, ignoring case."""
    await api.created("/users", {"email": "one@example.com"})
    two = await api.created("/users", {"email": "two@example.com"})
    found = await api.ok("GET", "/users", params={"email": "TWO@example.com"})
    assert ([two["id"]], 1, None) == (
        [u["id"] for u in found["users"]],
        found["total_size"],
        found["next_page_token"],
    )


async def test_update_profile_fields(api: Api) -> None:
    """PATCH changes the fields sent and keeps the others."""
    created = await api.created("/users", {"email": "ada@example.com", "name": "Ada"})
    updated = await api.ok(
        "PATCH",
        f"/users/{created['id']}",
        json={"name": "Ada Lovelace", "given_name": "Ada", "locale": "en-GB"},
    )
    assert ("Ada Lovelace", "Ada", "en-GB", "ada@example.com") == (
        updated["name"],
        updated["given_name"],
        updated["locale"],
        updated["email"],
    )
    assert updated == await api.ok("GET", f"/users/{created['id']}")


async def test_changing_the_email_unverifies_it(api: Api) -> None:
    """A new email is unverified unless email_verified is sent with it."""
    created = await api.created("/users", {"email": "ada@example.com", "email_verified": True})
    updated = await api.ok("PATCH", f"/users/{created['id']}", json={"email": "ada@new.example"})
    assert ("ada@new.example", False) == (updated["email"], updated["email_verified"])


async def test_changing_to_a_taken_email_is_409(api: Api) -> None:
    """PATCH to another user's email is a 409."""
    await api.created("/users", {"email": "ada@example.com"})
    grace = await api.created("/users", {"email": "grace@example.com"})
    response = await api.patch(f"/users/{grace['id']}", json={"email": "ada@example.com"})
    assert 409 == response.status_code


async def test_null_for_a_required_field_is_422(api: Api) -> None:
    """email may be left out of a PATCH but not set to null."""
    created = await api.created("/users", {"email": "ada@example.com"})
    response = await api.patch(f"/users/{created['id']}", json={"email": None})
    assert (422, "email") == (response.status_code, response.json()["details"][0]["field"])


async def test_delete_ends_the_users_sessions_with_backchannel_logout(api: Api) -> None:
    """Deleting a signed-in user ends their session and queues a back-channel logout."""
    user = await api.created("/users", {"email": "ada@example.com", "password": PASSWORD})
    signed_in = await api.sign_in("ada@example.com")
    response = await api.delete(f"/users/{user['id']}")
    assert 204 == response.status_code
    assert 404 == (await api.get(f"/users/{user['id']}")).status_code
    deliveries = await api.services.backchannel.for_session(signed_in.session_id)
    assert [signed_in.app.app.client_id] == [d.client_id for d in deliveries]


async def test_unknown_user_is_404(api: Api) -> None:
    """GET, PATCH and DELETE of an unknown user: 404."""
    for method, body in [("GET", None), ("PATCH", {"name": "x"}), ("DELETE", None)]:
        response = await api.request(method, "/users/usr_01ARZ3NDEKTSV4RRFFQ69G5FAV", json=body)
        assert 404 == response.status_code, method
