"""OAuth wire details, without IO: PKCE, scope strings, reading JSON answers and OAuth errors,
and parsing the callback's query."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from ostiary_client.errors import (
    LoginRequired,
    OAuthError,
    OstiaryError,
    ProviderError,
    StateMismatch,
)

__all__ = [
    "json_body",
    "oauth_error",
    "ok_json",
    "parse_callback",
    "pkce_challenge",
    "scope_string",
]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pkce_challenge(verifier: str) -> str:
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def scope_string(scope: str | Sequence[str]) -> str:
    return scope if isinstance(scope, str) else " ".join(scope)


def json_body(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ProviderError(
            f"The {what} answered HTTP {response.status_code} with a body that is not JSON."
        ) from None


def ok_json(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code != 200:
        raise ProviderError(f"The {what} answered HTTP {response.status_code}.")
    body = json_body(response, what)
    if not isinstance(body, dict):
        raise ProviderError(f"The {what} is not a JSON object.")
    return body


def oauth_error(response: httpx.Response, what: str, *, refresh: bool = False) -> OstiaryError:
    """The error of a failed OAuth call: from a JSON body, else from ``WWW-Authenticate``."""
    error: str | None = None
    description: str | None = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        error = body["error"]
        description = body.get("error_description")
    else:
        challenge = response.headers.get("www-authenticate", "")
        params = dict(_challenge_params(challenge))
        error, description = params.get("error"), params.get("error_description")
    if error is None:
        return ProviderError(f"The {what} answered HTTP {response.status_code}.")
    if refresh and error == "invalid_grant":
        return LoginRequired(error, description, status_code=response.status_code)
    return OAuthError(
        error, description if isinstance(description, str) else None,
        status_code=response.status_code,
    )  # fmt: skip


def _challenge_params(challenge: str) -> list[tuple[str, str]]:
    """``error="…", error_description="…"`` out of a ``WWW-Authenticate: Bearer …`` header."""
    pairs = []
    rest = challenge.partition(" ")[2]
    for part in rest.split('", '):
        name, _, value = part.partition("=")
        pairs.append((name.strip().strip(","), value.strip().strip('"')))
    return pairs


def parse_callback(callback: str | Mapping[str, str]) -> tuple[dict[str, str], bool]:
    """The callback's query parameters, and whether it was a bare code (nothing to check)."""
    if isinstance(callback, Mapping):
        return {str(k): str(v) for k, v in callback.items()}, False
    if "?" not in callback and "=" not in callback:
        return {"code": callback}, True
    query = urlsplit(callback).query if "?" in callback else callback
    params: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in params:
            raise StateMismatch(f"The callback repeats the parameter {name}.")
        params[name] = value
    return params, False
