"""/api/v1/applications: register, list, read, change and delete apps; their redirect URLs and
client secrets."""

from __future__ import annotations

from datetime import datetime

from api_helpers import AdvancingClock, Api, ManagementApp

from ostiary.services.apps import SECRET_USE_PRECISION

WEB = {
    "name": "Billing",
    "type": "web",
    "redirect_uris": ["https://billing.example.com/callback"],
    "post_logout_redirect_uris": ["https://billing.example.com/"],
    "initiate_login_uri": "https://billing.example.com/login",
    "backchannel_logout_uri": "https://billing.example.com/backchannel",
}


async def test_create_a_web_app_shows_its_first_secret_once(api: Api) -> None:
    """A new web app comes with a secret value; reading the app later never shows it."""
    created = await api.created("/applications", WEB)
    assert WEB["redirect_uris"] == created["redirect_uris"]
    assert WEB["backchannel_logout_uri"] == created["backchannel_logout_uri"]
    assert created["client_id"].startswith("web_")
    assert created["client_secret"]["value"].startswith("sec_")
    assert created["client_secret"]["value"][-4:] == created["client_secret"]["hint"]
    fetched = await api.ok("GET", f"/applications/{created['id']}")
    assert "client_secret" not in fetched
    secrets = await api.ok("GET", f"/applications/{created['id']}/secrets")
    assert "value" not in secrets["secrets"][0]


async def test_the_new_secret_works_at_the_token_endpoint(api: Api) -> None:
    """The secret returned by POST /applications authenticates the app at /oauth/token."""
    created = await api.created(
        "/applications", {"name": "Robot", "type": "web", "management_api_access": True}
    )
    app = ManagementApp(
        await api.services.apps.get(created["id"]), created["client_secret"]["value"]
    )
    assert 200 == (await api.token_response(app)).status_code


async def test_a_resource_server_may_be_allowed_to_introspect_every_token(api: Api) -> None:
    """introspect_all_tokens is off by default, set by POST or PATCH, and shown by GET."""
    default = await api.created("/applications", {"name": "Web", "type": "web"})
    created = await api.created(
        "/applications", {"name": "Orders API", "type": "web", "introspect_all_tokens": True}
    )
    path = f"/applications/{created['id']}"
    patched = await api.ok("PATCH", path, json={"introspect_all_tokens": False})
    fetched = await api.ok("GET", path)
    assert (False, True, False, False) == (
        default["introspect_all_tokens"],
        created["introspect_all_tokens"],
        patched["introspect_all_tokens"],
        fetched["introspect_all_tokens"],
    )


async def test_a_secret_shows_when_it_was_last_used(api: Api, clock: AdvancingClock) -> None:
    """last_used_at moves when the secret authenticates its app, to within
    SECRET_USE_PRECISION; a wrong secret, the demo's check of a saved secret and the app's other
    secret leave it alone. This is what tells an operator
    that an old secret is no longer used and can be revoked."""
    robot = await api.register("Robot", management=False)
    second = await api.created(f"/applications/{robot.app.id}/secrets", {})

    async def last_used() -> dict[str, datetime | None]:
        listed = await api.ok("GET", f"/applications/{robot.app.id}/secrets")
        return {
            s["id"]: s["last_used_at"] and datetime.fromisoformat(s["last_used_at"])
            for s in listed["secrets"]
        }

    first_id = next(i for i in await last_used() if i != second["id"])
    assert {first_id: None, second["id"]: None} == await last_used()

    assert 401 == (await api.token_response(ManagementApp(robot.app, "sec_wrong"))).status_code
    assert await api.services.apps.authenticate(robot.app.client_id, robot.secret)  # a check
    assert {first_id: None, second["id"]: None} == await last_used()

    used_at = clock.now()
    await api.token_for(robot)
    assert {first_id: used_at, second["id"]: None} == await last_used()

    clock.advance(SECRET_USE_PRECISION.total_seconds() - 1)
    await api.token_for(robot)  # within the precision: not written again
    assert {first_id: used_at, second["id"]: None} == await last_used()

    clock.advance(2)
    await api.token_for(robot)
    used_again_at = clock.now()
    assert {first_id: used_again_at, second["id"]: None} == await last_used()

    await api.token_for(ManagementApp(robot.app, second["value"]))
    assert {first_id: used_again_at, second["id"]: clock.now()} == await last_used()


async def test_create_a_spa_has_no_secret_and_pkce(api: Api) -> None:
    """A SPA is a public client: no secret, PKCE always on."""
    created = await api.created(
        "/applications",
        {"name": "Dashboard", "type": "spa", "redirect_uris": ["http://localhost:5173/cb"]},
    )
    assert (None, True) == (created["client_secret"], created["enforce_pkce"])
    assert created["client_id"].startswith("spa_")


async def test_list_applications_page_by_page(api: Api) -> None:
    """Five apps plus the console and the caller, two per page: four pages, total_size 7."""
    ids = [
        (await api.created("/applications", {"name": f"App {i}", "type": "native"}))["id"]
        for i in range(5)
    ]
    items, pages, total = await api.all_pages("/applications", "applications")
    listed = [item["id"] for item in items]
    assert (7, 4, 7) == (total, pages, len(set(listed)))
    assert ids == [i for i in listed if i in ids]


async def test_get_by_record_id_or_client_id(api: Api) -> None:
    """An app can be addressed by its app_… id or by its client_id."""
    created = await api.created("/applications", WEB)
    by_id = await api.ok("GET", f"/applications/{created['id']}")
    by_client_id = await api.ok("GET", f"/applications/{created['client_id']}")
    assert by_id == by_client_id


async def test_update_changes_only_the_fields_sent(api: Api) -> None:
    """PATCH with a new name and TTL leaves the redirect URLs alone; null clears a URL."""
    created = await api.created("/applications", WEB)
    updated = await api.ok(
        "PATCH",
        f"/applications/{created['id']}",
        json={"name": "Billing v2", "access_token_ttl": 600, "initiate_login_uri": None},
    )
    assert ("Billing v2", 600, None) == (
        updated["name"],
        updated["access_token_ttl"],
        updated["initiate_login_uri"],
    )
    assert WEB["redirect_uris"] == updated["redirect_uris"]
    assert updated == await api.ok("GET", f"/applications/{created['id']}")


async def test_delete_then_404(api: Api) -> None:
    """DELETE answers 204; the app is gone afterwards."""
    created = await api.created("/applications", WEB)
    response = await api.delete(f"/applications/{created['id']}")
    assert (204, b"") == (response.status_code, response.content)
    missing = await api.get(f"/applications/{created['id']}")
    assert (404, "not_found") == (missing.status_code, missing.json()["code"])


async def test_unknown_application_is_404_everywhere(api: Api) -> None:
    """GET, PATCH, DELETE and the secrets of an unknown app: 404 not_found."""
    path = "/applications/app_01ARZ3NDEKTSV4RRFFQ69G5FAV"
    for method, sub, body in [
        ("GET", "", None),
        ("PATCH", "", {"name": "x"}),
        ("DELETE", "", None),
        ("GET", "/secrets", None),
        ("POST", "/secrets", None),
    ]:
        response = await api.request(method, path + sub, json=body)
        assert (404, "not_found") == (response.status_code, response.json()["code"]), method


async def test_the_console_cannot_be_deleted(api: Api) -> None:
    """Deleting the Ostiary Console app is a 409 conflict."""
    console = await api.services.apps.console()
    response = await api.delete(f"/applications/{console.id}")
    assert 409 == response.status_code
    assert "cannot be deleted" in response.json()["message"]


async def test_redirect_uri_with_a_query_is_422_with_the_rule(api: Api) -> None:
    """A redirect URI with a query string is refused; details name the field and the rule."""
    response = await api.post(
        "/applications",
        json={**WEB, "redirect_uris": ["https://billing.example.com/cb?next=/home"]},
    )
    assert (422, "invalid_argument") == (response.status_code, response.json()["code"])
    [detail] = response.json()["details"]
    assert ("redirect_uris", "query") == (detail["field"], detail["rule"])


async def test_redirect_uri_rules_apply_on_update_too(api: Api) -> None:
    """PATCH with a fragment in a post-logout URI: 422 naming post_logout_redirect_uris."""
    created = await api.created("/applications", WEB)
    response = await api.patch(
        f"/applications/{created['id']}",
        json={"post_logout_redirect_uris": ["https://billing.example.com/#bye"]},
    )
    assert 422 == response.status_code
    assert "post_logout_redirect_uris" == response.json()["details"][0]["field"]


async def test_invalid_application_bodies_are_422(api: Api) -> None:
    """Unknown type, unknown field, wrong JSON type, missing name, management access for a SPA."""
    cases = [
        ({"name": "X", "type": "desktop"}, "type"),
        ({"name": "X", "type": "web", "colour": "red"}, "colour"),
        ({"name": "X", "type": "web", "third_party": "yes"}, "third_party"),
        ({"type": "web"}, "name"),
        ({"name": "X", "type": "spa", "management_api_access": True}, "management_api_access"),
        ({"name": "X", "type": "spa", "introspect_all_tokens": True}, "introspect_all_tokens"),
    ]
    for body, field in cases:
        response = await api.post("/applications", json=body)
        assert 422 == response.status_code, body
        assert field == response.json()["details"][0]["field"], response.json()


async def test_malformed_json_is_400(api: Api) -> None:
    """A body that is not JSON at all gets 400 malformed_json."""
    response = await api.post(
        "/applications", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert (400, "malformed_json") == (response.status_code, response.json()["code"])


# -- secrets ----------------------------------------------------------------------------------


async def test_secrets_create_list_revoke(api: Api) -> None:
    """A second secret is shown once; both are listed without values; one can be revoked."""
    created = await api.created("/applications", WEB)
    path = f"/applications/{created['id']}/secrets"
    second = await api.created(path, {})
    assert second["value"].startswith("sec_")
    listed = await api.ok("GET", path)
    assert [created["client_secret"]["id"], second["id"]] == [s["id"] for s in listed["secrets"]]
    assert all("value" not in s for s in listed["secrets"])
    assert 204 == (await api.delete(f"{path}/{created['client_secret']['id']}")).status_code
    after = await api.ok("GET", path)
    assert [False, True] == [s["active"] for s in after["secrets"]]


async def test_a_third_active_secret_is_409(api: Api) -> None:
    """At most two active secrets: the third is a 409 that says why."""
    created = await api.created("/applications", WEB)
    path = f"/applications/{created['id']}/secrets"
    await api.created(path, {})
    response = await api.post(path)
    assert (409, "conflict") == (response.status_code, response.json()["code"])
    assert "2 active secrets" in response.json()["message"]


async def test_secrets_page_by_page(api: Api) -> None:
    """Secrets paginate like every list: three secrets (one revoked), two per page."""
    created = await api.created("/applications", WEB)
    path = f"/applications/{created['id']}/secrets"
    await api.delete(f"{path}/{created['client_secret']['id']}")
    await api.created(path, {})
    await api.created(path, {})
    items, pages, total = await api.all_pages(path, "secrets")
    assert (3, 2, 3) == (total, pages, len(items))


async def test_a_spa_gets_no_secret(api: Api) -> None:
    """Secrets are for web apps: asking one for a SPA is 422 with its rule."""
    created = await api.created("/applications", {"name": "SPA", "type": "spa"})
    response = await api.post(f"/applications/{created['id']}/secrets")
    assert 422 == response.status_code
    assert "secret_for_public_client" == response.json()["details"][0]["rule"]


async def test_revoking_an_unknown_secret_is_404(api: Api) -> None:
    """DELETE …/secrets/{unknown}: 404."""
    created = await api.created("/applications", WEB)
    response = await api.delete(f"/applications/{created['id']}/secrets/csec_nope")
    assert 404 == response.status_code


async def test_every_bad_url_of_a_request_is_in_the_details(api: Api) -> None:
    """Two bad redirect URIs and a bad post-logout URI: all three are details of one 422, each
    with its field, rule and a message naming the URL."""
    response = await api.post(
        "/applications",
        json={
            **WEB,
            "redirect_uris": ["https://billing.example.com/cb?next=/home", "https://b.example/#x"],
            "post_logout_redirect_uris": ["ftp://billing.example.com/"],
        },
    )
    assert 422 == response.status_code
    details = response.json()["details"]
    fields = [(d["field"], d["rule"]) for d in details]
    expected_fields = ["redirect_uris", "redirect_uris", "post_logout_redirect_uris"]
    assert expected_fields == [field for field, _ in fields]
    assert "query" == fields[0][1]
    assert "cb?next=/home" in details[0]["message"] and "#x" in details[1]["message"]
    assert response.json()["message"].startswith("3 URLs are not allowed.")
