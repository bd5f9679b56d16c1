"""Errors of the management API: one JSON shape, ``{"code", "message", "details"}``, rendered here.

Service errors (InvalidInput, NotFound, Conflict), request validation, malformed JSON and the
framework's own HTTP errors (unknown path, wrong method) all end in :func:`install_handlers`;
:func:`error_responses` declares the same shapes in the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from ostiary.services.errors import Conflict, InvalidInput, NotFound, ServiceError
from ostiary.storage.db import DatabaseUnavailable

__all__ = [
    "ApiError",
    "ErrorBody",
    "ErrorDetail",
    "error_response",
    "error_responses",
    "install_handlers",
    "invalid_argument",
    "unavailable_response",
]


class ErrorDetail(BaseModel):
    """One broken rule: which input (dotted path, e.g. ``redirect_uris.0``) and which rule."""

    field: str | None = Field(description="The input that breaks the rule, as a dotted path.")
    rule: str = Field(description="A stable identifier of the rule, e.g. `query_not_allowed`.")
    message: str


class ErrorBody(BaseModel):
    """Every error response of the management API."""

    code: str = Field(
        description="unauthenticated, permission_denied, malformed_json, invalid_argument, "
        "not_found, conflict, method_not_allowed, payload_too_large, unavailable or internal."
    )
    message: str = Field(description="A sentence a person can act on.")
    details: list[ErrorDetail]


class ApiError(Exception):
    """An error response decided by the API layer itself (authentication, cursors)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Sequence[ErrorDetail] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = list(details)
        self.headers = headers


def invalid_argument(field: str, rule: str, message: str) -> ApiError:
    return ApiError(
        422,
        "invalid_argument",
        message,
        details=[ErrorDetail(field=field, rule=rule, message=message)],
    )


DESCRIPTIONS = {
    400: "The body is not well-formed JSON.",
    401: "No bearer token, or one that is not valid for the management API.",
    403: "The token lacks the scope this operation needs, belongs to a user, or its app has no "
    "management API access.",
    404: "No such resource.",
    413: "The body is larger than the API accepts (256 KiB).",
    409: "The request clashes with what exists: a duplicate, a limit reached, a protected record.",
    422: "A parameter or a field of the body breaks a rule; `details` names the field and rule.",
}
CHALLENGE_HEADER = {
    "WWW-Authenticate": {
        "description": "The Bearer challenge (RFC 6750 §3).",
        "schema": {"type": "string"},
        "required": True,
    }
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entries for these error statuses."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorBody, "description": DESCRIPTIONS[status]}
        if status in (401, 403):
            entry["headers"] = CHALLENGE_HEADER
        responses[status] = entry
    return responses


def error_response(status: int, code: str, message: str) -> JSONResponse:
    """An error answer outside FastAPI's handlers (the body limit in front of it)."""
    return _render(status, code, message)


def _render(
    status: int,
    code: str,
    message: str,
    details: Sequence[ErrorDetail] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(code=code, message=message, details=list(details))
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


async def _api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _render(exc.status, exc.code, exc.message, exc.details, exc.headers)


async def _service_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    message = str(exc)
    if isinstance(exc, InvalidInput):
        details = [ErrorDetail(field=p.field, rule=p.rule, message=p.message) for p in exc.problems]
        return _render(422, exc.code, message, details)
    if isinstance(exc, NotFound):
        return _render(404, exc.code, message)
    if isinstance(exc, Conflict):
        return _render(409, exc.code, message)
    return _render(422, exc.code, message)


def _field(loc: Sequence[int | str]) -> str | None:
    """``("body", "redirect_uris", 0)`` -> ``redirect_uris.0``; ``("query", "page_size")`` ->
    ``page_size``; the whole body -> None."""
    parts = [str(part) for part in loc[1:]]
    return ".".join(parts) or None


NOT_AN_OBJECT = "The request body must be a JSON object, sent as Content-Type: application/json."


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(error.get("type") == "json_invalid" for error in errors):
        return _render(400, "malformed_json", "The request body is not well-formed JSON.")
    details = []
    for error in errors:
        field = _field(error.get("loc", ()))
        rule = str(error.get("type"))
        message = str(error.get("msg", "Invalid value."))
        if field is None and rule in ("missing", "model_attributes_type", "model_type"):
            message = NOT_AN_OBJECT
        elif field and not message.startswith(field):
            message = f"{field}: {message}"
        details.append(ErrorDetail(field=field, rule=rule, message=message))
    summary = details[0].message if len(details) == 1 else f"{len(details)} inputs are invalid."
    return _render(422, "invalid_argument", summary, details)


HTTP_ERRORS = {
    400: ("malformed_json", "The request body could not be read."),
    404: ("not_found", "No such resource."),
    405: ("method_not_allowed", "This method is not allowed here."),
}


def _allowed_methods(request: Request) -> str:
    """Every method of every route at this path (the router names only the first route's)."""
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code, message = HTTP_ERRORS.get(exc.status_code, ("error", str(exc.detail)))
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return _render(exc.status_code, code, message, headers=headers)


def unavailable_response(err: DatabaseUnavailable) -> JSONResponse:
    """503: the database is out of reach, or lost the connection before a write was known to
    be done (``ostiary.storage.connection_loss``)."""
    message = "The database cannot be reached right now; repeat the request in a moment."
    return _render(503, "unavailable", message, headers={"Retry-After": str(err.retry_after_s)})


async def _unavailable(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DatabaseUnavailable)
    return unavailable_response(exc)


async def _unexpected(_request: Request, _exc: Exception) -> Response:
    """A bug: the answer keeps the API's shape; the exception goes on up to be logged."""
    return _render(500, "internal", "Something went wrong on our side; it has been logged.")


def install_handlers(api: FastAPI) -> None:
    api.add_exception_handler(ApiError, _api_error)
    api.add_exception_handler(ServiceError, _service_error)
    api.add_exception_handler(RequestValidationError, _validation_error)
    api.add_exception_handler(StarletteHTTPException, _http_error)
    api.add_exception_handler(DatabaseUnavailable, _unavailable)
    api.add_exception_handler(Exception, _unexpected)
