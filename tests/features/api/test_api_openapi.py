"""The OpenAPI 3.1 document at /api/v1/openapi.json describes exactly what the server does:
every operation is listed with its errors, and schemathesis, fuzzing every operation with a
valid token, finds no server error and no answer that breaks the document."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import schemathesis
from api_helpers import Api
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.python import asgi
from starlette.applications import Starlette

from ostiary.bootstrap import build_services, prepare
from ostiary.config import Settings
from ostiary.web.app import create_web_app

OPERATIONS = {
    "GET /organizations/{org_id}/domains",
    "POST /organizations/{org_id}/domains",
    "GET /organizations/{org_id}/domains/{domain}",
    "POST /organizations/{org_id}/domains/{domain}/verify",
    "DELETE /organizations/{org_id}/domains/{domain}",
    "GET /applications",
    "POST /applications",
    "GET /applications/{app_id}",
    "PATCH /applications/{app_id}",
    "DELETE /applications/{app_id}",
    "GET /applications/{app_id}/secrets",
    "POST /applications/{app_id}/secrets",
    "DELETE /applications/{app_id}/secrets/{secret_id}",
    "GET /users",
    "POST /users",
    "GET /users/{user_id}",
    "PATCH /users/{user_id}",
    "DELETE /users/{user_id}",
    "GET /users/{user_id}/sessions",
    "DELETE /users/{user_id}/sessions",
    "GET /sessions/{session_id}",
    "DELETE /sessions/{session_id}",
    "GET /organizations",
    "POST /organizations",
    "GET /organizations/{org_id}",
    "PATCH /organizations/{org_id}",
    "DELETE /organizations/{org_id}",
    "GET /organizations/{org_id}/members",
    "POST /organizations/{org_id}/members",
    "GET /organizations/{org_id}/members/{user_id}",
    "PATCH /organizations/{org_id}/members/{user_id}",
    "DELETE /organizations/{org_id}/members/{user_id}",
    "GET /roles",
    "POST /roles",
    "GET /roles/{role}",
    "PATCH /roles/{role}",
    "DELETE /roles/{role}",
    "GET /permissions",
    "POST /permissions",
    "GET /permissions/{name}",
    "PATCH /permissions/{name}",
    "DELETE /permissions/{name}",
    "GET /keys",
    "POST /keys/rotate",
}
# Every built-in check except "schema-valid data must be accepted": the document cannot hold
# every rule (a cursor from another list, a taken slug, a redirect URI with a query, an unknown
# role are schema-valid and still 4xx, by design). Its counterpart, "schema-invalid data must be
# rejected", stays on: every constraint the document states, the server enforces.
CONFIG = {"checks": {"positive_data_acceptance": {"enabled": False}}}


def _operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": operation
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }


async def test_the_document_lists_every_operation(api: Api) -> None:
    """OpenAPI 3.1, served under /api/v1, with exactly the operations of the management API."""
    document = await api.ok("GET", "/openapi.json", token=None)
    assert ("3.1.0", [{"url": "/api/v1"}]) == (document["openapi"], document["servers"])
    assert OPERATIONS == set(_operations(document))


async def test_every_operation_declares_its_scope_and_errors(api: Api) -> None:
    """Each operation names its scope and documents 401, 403 and 422 with the error shape;
    each that takes a body documents 400 (malformed JSON) and 413 (too large) as well."""
    document = await api.ok("GET", "/openapi.json", token=None)
    error = {"$ref": "#/components/schemas/ErrorBody"}
    for name, operation in _operations(document).items():
        scope = "management:read" if name.startswith("GET") else "management:write"
        assert [{"managementToken": [scope]}] == operation["security"], name
        for status in ("401", "403", "422"):
            content = operation["responses"][status]["content"]["application/json"]
            assert error == content["schema"], (name, status)
        if "requestBody" in operation:
            assert {"400", "413"} <= set(operation["responses"]), name


async def test_the_token_url_is_the_token_endpoint(api: Api) -> None:
    """The security scheme is OAuth 2.0 client_credentials at /oauth/token with both scopes."""
    document = await api.ok("GET", "/openapi.json", token=None)
    flow = document["components"]["securitySchemes"]["managementToken"]["flows"]
    assert "/oauth/token" == flow["clientCredentials"]["tokenUrl"]
    assert {"management:read", "management:write"} == set(flow["clientCredentials"]["scopes"])


def _served_app(make_settings: Callable[..., Settings]) -> tuple[Starlette, dict[str, str]]:
    """The real web app, whose lifespan prepares the database and registers what the fuzzing
    needs: a management app (client_id, secret) and one record of each kind, whose ids become
    the path parameters, so that operations reach real records and not only 404s. All of it runs
    on the event loop that schemathesis drives the app from."""
    services = build_services(make_settings())
    app = create_web_app(services)
    known: dict[str, str] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await prepare(services)
        caller, secret = await services.apps.create(
            "Schemathesis", "web", management_api_access=True
        )
        assert secret is not None
        target, _ = await services.apps.create("Fuzzed", "web")
        user = await services.users.create("fuzzed@example.com", name="Fuzzed")
        session, _ = await services.sessions.create(
            user.id, amr=("pwd",), user_agent="schemathesis", ip="127.0.0.1"
        )
        org = await services.organizations.create("Fuzzed Org")
        await services.organizations.add_member(org.id, user.id)
        await services.roles.create("fuzzed")
        await services.roles.create_permission("fuzzed:read")
        known.update(
            client_id=caller.client_id,
            secret=secret.value,
            app_id=target.id,
            user_id=user.id,
            session_id=session.id,
            org_id=org.id,
            role="fuzzed",
            name="fuzzed:read",
        )
        try:
            yield
        finally:
            await services.engine.dispose()

    app.router.lifespan_context = lifespan
    return app, known


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    make_settings: Callable[..., Settings],
) -> None:
    """Every operation, fuzzed with schema-valid and with schema-invalid data and a full-access
    token, answers within its documented statuses, headers and schemas, rejects what the
    document forbids, and never answers 5xx."""
    app, known = _served_app(make_settings)
    try:
        schema = schemathesis.openapi.from_asgi(
            "/api/v1/openapi.json", app, config=schemathesis.Config.from_dict(CONFIG)
        )
        with asgi.get_client(app) as http:
            answer = http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(known["client_id"], known["secret"]),
            )
        assert 200 == answer.status_code, answer.text
        headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        tested = set()
        for result in schema.get_all_operations():
            operation = result.ok()
            tested.add(f"{operation.method.upper()} {operation.path}")
            # Requests go to the known records, except valid deletes (which would remove them
            # for the operations that follow, so they get generated ids and mostly 404).
            names = {p.name for p in operation.path_parameters}
            known_path = {k: v for k, v in known.items() if k in names}
            for mode, examples in ((GenerationMode.POSITIVE, 8), (GenerationMode.NEGATIVE, 4)):
                valid_delete = mode is GenerationMode.POSITIVE and operation.method == "delete"
                strategy = operation.as_strategy(
                    mode, path_parameters={} if valid_delete else known_path
                )

                @given(case=strategy)
                @settings(
                    max_examples=examples,
                    derandomize=True,
                    deadline=None,
                    database=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                def fuzz(case: schemathesis.Case) -> None:
                    case.call_and_validate(headers=headers)

                try:
                    fuzz()
                except Unsatisfiable:
                    # Its path fixed, nothing else of this operation can be made invalid.
                    assert mode is GenerationMode.NEGATIVE, operation.path
        assert OPERATIONS == tested
    finally:
        asgi.shutdown_lifespans()
