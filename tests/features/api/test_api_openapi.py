"""The OpenAPI 3.1 document at /api/v1/openapi.json describes exactly what the server does:
every operation is listed with its errors, and schemathesis, fuzzing every operation with a
valid token and every check on, finds no server error, no answer that breaks the document, no
schema-invalid request accepted and no schema-valid request refused."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import schemathesis
from api_helpers import Api
from schemathesis import engine
from schemathesis.engine import events
from schemathesis.openapi.checks import RejectedPositiveData
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
MAX_EXAMPLES = 5  # per operation and mode, on top of the coverage phase's boundary cases
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
)
URI_FIELDS = ("redirect_uris", "post_logout_redirect_uris", "initiate_login_uri",
              "backchannel_logout_uri")  # fmt: skip
# The rules a JSON Schema cannot state, each named in the document's description: they depend
# on stored records (an app's type, which roles exist), on the environment (its idle timeout,
# the minimum password length), on a URL's parts (scheme, host, wildcards) or on the public
# suffix list (which domains can be owned). A schema-valid
# request refused with 422 for one of these is not a failure; for anything else it is.
UNSTATED_RULES = {
    ("enforce_pkce", "pkce_required"),
    ("management_api_access", "web_only"),
    ("introspect_all_tokens", "web_only"),
    ("name", "domain"),
    ("access_token_ttl", "ttl_exceeds_idle_timeout"),
    ("password", "password_too_short"),
    ("roles", "unknown_role"),
    ("extends", "unknown_role"),
    ("extends", "role_cycle"),
}


def _refused_for_an_unstated_rule(
    _context: Any, failure: Exception, _case: Any, response: Any
) -> bool:
    """schemathesis's filter_failure hook: keep every failure except a schema-valid request
    refused with 422 for rules that are all in UNSTATED_RULES (or URL rules)."""
    if not isinstance(failure, RejectedPositiveData) or response.status_code != 422:
        return True
    details = response.json().get("details", [])
    unstated = [
        detail
        for detail in details
        if (str(detail.get("field")).split(".")[0], detail.get("rule")) in UNSTATED_RULES
        or str(detail.get("field")).split(".")[0] in URI_FIELDS
    ]
    return not details or len(unstated) != len(details)


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


def _conformance_config(token: str) -> schemathesis.Config:
    """Every check on; the examples, coverage and fuzzing phases with a fixed seed and
    deterministic generation, so that CI runs the same requests each time."""
    return schemathesis.Config.from_dict(
        {
            "headers": {"Authorization": f"Bearer {token}"},
            "seed": 1,
            "workers": 1,
            "checks": {name: {"enabled": True} for name in CHECKS},
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
            "output": {"sanitization": {"enabled": False}},
        }
    )


def test_schemathesis_finds_no_failure_with_every_check_on(
    make_settings: Callable[..., Settings],
) -> None:
    """schemathesis, with every check on (schema-valid data accepted, schema-invalid data
    refused, statuses, headers and bodies as documented, no 5xx), fuzzing every operation with a
    full-access token, finds no failure: the document says exactly what the server accepts."""
    app, known = _served_app(make_settings)
    try:
        with asgi.get_client(app) as http:
            answer = http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(known["client_id"], known["secret"]),
            )
        assert 200 == answer.status_code, answer.text
        schema = schemathesis.openapi.from_asgi(
            "/api/v1/openapi.json", app, config=_conformance_config(answer.json()["access_token"])
        )
        schema.hook("filter_failure")(_refused_for_an_unstated_rule)
        tested, failures, errors = set(), [], []
        for event in engine.from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished):
                tested.add(event.recorder.label)
                failures.extend(
                    f"{event.recorder.label}: {check.name}: {check.failure_info.failure.title}\n"
                    f"{check.failure_info.code_sample}"
                    for checks in event.recorder.checks.values()
                    for check in checks
                    if check.failure_info is not None
                )
            elif isinstance(event, events.NonFatalError | events.FatalError):
                errors.append(str(event.info.format() if hasattr(event, "info") else event))
        report = "\n\n".join([f"{len(failures)} failures", *failures, *errors])
        assert ([], [], OPERATIONS) == (failures, errors, tested), report
    finally:
        asgi.shutdown_lifespans()
