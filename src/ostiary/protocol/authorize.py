"""The authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1) as a table of small checks.

Reading ``CLIENT_STEPS`` then ``REQUEST_STEPS`` tells the whole rulebook. Errors raised by
``CLIENT_STEPS`` are shown as a page (the redirect URI is not trusted yet); errors from
``REQUEST_STEPS`` are sent back to the verified redirect URI. Sessions, consent and code issuing
need IO and live in ``ostiary.services.authorize``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ostiary.domain.apps import App
from ostiary.protocol.errors import (
    InvalidRedirect,
    InvalidRequest,
    InvalidScope,
    RequestNotSupported,
    UnknownClient,
    UnsupportedResponseType,
)
from ostiary.protocol.pkce import VALID_CHALLENGE
from ostiary.protocol.redirect_uris import match_redirect_uri
from ostiary.protocol.scopes import KNOWN_SCOPES, parse_scope

__all__ = [
    "CLIENT_STEPS",
    "PROMPTS",
    "REQUEST_STEPS",
    "AuthorizationRequest",
    "AuthorizeContext",
    "parse_authorization_request",
]

PROMPTS = frozenset({"none", "login", "create", "consent", "select_account"})
MAX_PARAM_LENGTH = 2048
SINGLE_VALUED = (
    "response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge",
    "code_challenge_method", "prompt", "max_age", "login_hint", "organization_id", "ui_locales",
    "response_mode", "request", "request_uri",
)  # fmt: skip


@dataclasses.dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A checked authorization request: safe to act on and to redirect errors for."""

    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    state: str | None = None
    nonce: str | None = None
    code_challenge: str | None = None
    prompt: frozenset[str] = frozenset()
    max_age: int | None = None
    login_hint: str | None = None
    organization_id: str | None = None
    ui_locales: str | None = None
    # Set only for Ostiary's own pages (e.g. the account page): where to go after sign-in,
    # a path on the issuer, instead of a code for an app.
    return_to: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["scope"] = list(self.scope)
        data["prompt"] = sorted(self.prompt)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuthorizationRequest:
        values = dict(data)
        values["scope"] = tuple(values["scope"])
        values["prompt"] = frozenset(values["prompt"])
        return cls(**values)

    def without_prompt(self, *prompts: str) -> AuthorizationRequest:
        return dataclasses.replace(self, prompt=self.prompt - set(prompts))


@dataclasses.dataclass(slots=True)
class AuthorizeContext:
    """What the steps read (``params``, ``app``) and fill in as they go."""

    params: Mapping[str, Sequence[str]]
    app: App | None
    production: bool
    redirect_uri: str | None = None
    scope: tuple[str, ...] = ()
    prompt: frozenset[str] = frozenset()
    max_age: int | None = None

    def one(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[0] if values else None

    @property
    def state(self) -> str | None:
        """The state to echo on an error redirect (only when it was sent exactly once)."""
        values = self.params.get("state")
        return values[0] if values and len(values) == 1 else None


Step = Callable[[AuthorizeContext], None]


# -- client steps: failures are shown as a page, never redirected -----------------------------


def check_client_id(ctx: AuthorizeContext) -> None:
    values = ctx.params.get("client_id", [])
    if len(values) != 1 or not values[0]:
        raise UnknownClient("The request has no client_id (or more than one).")
    if ctx.app is None:
        raise UnknownClient(f"There is no application with client_id {values[0]!r}.")


def check_redirect_uri(ctx: AuthorizeContext) -> None:
    assert ctx.app is not None
    values = ctx.params.get("redirect_uri", [])
    if len(values) != 1 or not values[0]:
        raise InvalidRedirect("The request must contain exactly one redirect_uri.")
    if not match_redirect_uri(
        ctx.app.redirect_uris, values[0], app_type=ctx.app.type.value, production=ctx.production
    ):
        raise InvalidRedirect(
            f"The redirect_uri {values[0]!r} is not registered for {ctx.app.name}.",
            detail="redirect_uri mismatch",
        )
    ctx.redirect_uri = values[0]


CLIENT_STEPS: tuple[Step, ...] = (check_client_id, check_redirect_uri)


# -- request steps: failures go back to the verified redirect_uri -----------------------------


def reject_repeated_parameters(ctx: AuthorizeContext) -> None:
    for name in SINGLE_VALUED:
        if len(ctx.params.get(name, [])) > 1:
            raise InvalidRequest(f"The parameter {name} was sent more than once.")


def reject_request_objects(ctx: AuthorizeContext) -> None:
    if ctx.one("request") or ctx.one("request_uri"):
        raise RequestNotSupported("Request objects (request, request_uri) are not supported.")


def check_response_type(ctx: AuthorizeContext) -> None:
    response_type = ctx.one("response_type")
    if not response_type:
        raise InvalidRequest("response_type is required; use response_type=code.")
    if response_type != "code":
        raise UnsupportedResponseType(
            f"response_type={response_type} is not supported; use response_type=code."
        )
    mode = ctx.one("response_mode")
    if mode not in (None, "query"):
        raise InvalidRequest(f"response_mode={mode} is not supported; only query is.")


def check_scope(ctx: AuthorizeContext) -> None:
    scope = parse_scope(ctx.one("scope") or "")
    if not scope:
        raise InvalidScope("scope is required, e.g. scope=openid profile email.")
    unknown = [s for s in scope if s not in KNOWN_SCOPES]
    if unknown:
        raise InvalidScope(f"Unknown scope {unknown[0]!r}; supported: {' '.join(KNOWN_SCOPES)}.")
    if "openid" not in scope:
        raise InvalidScope("scope must include openid.")
    ctx.scope = scope


def check_pkce(ctx: AuthorizeContext) -> None:
    assert ctx.app is not None
    challenge = ctx.one("code_challenge")
    method = ctx.one("code_challenge_method")
    if challenge is None:
        if method is not None:
            raise InvalidRequest("code_challenge_method was sent without code_challenge.")
        if ctx.app.requires_pkce:
            raise InvalidRequest(
                "PKCE is required for this application: send code_challenge and "
                "code_challenge_method=S256."
            )
        return
    if method != "S256":
        raise InvalidRequest(f"code_challenge_method={method or 'plain'} is not allowed; use S256.")
    if not VALID_CHALLENGE.match(challenge):
        raise InvalidRequest("code_challenge must be 43 base64url characters (S256).")


def check_prompt(ctx: AuthorizeContext) -> None:
    prompt = frozenset(parse_scope(ctx.one("prompt") or ""))
    unknown = prompt - PROMPTS
    if unknown:
        raise InvalidRequest(f"Unknown prompt value {sorted(unknown)[0]!r}.")
    if "none" in prompt and len(prompt) > 1:
        raise InvalidRequest("prompt=none cannot be combined with other prompt values.")
    ctx.prompt = prompt


def check_max_age(ctx: AuthorizeContext) -> None:
    raw = ctx.one("max_age")
    if raw is None or raw == "":
        return
    if not re.fullmatch(r"\d{1,10}", raw):
        raise InvalidRequest("max_age must be a whole number of seconds.")
    ctx.max_age = int(raw)


def check_lengths(ctx: AuthorizeContext) -> None:
    for name in ("state", "nonce", "login_hint", "organization_id", "ui_locales"):
        value = ctx.one(name)
        if value is not None and len(value) > MAX_PARAM_LENGTH:
            raise InvalidRequest(f"{name} is longer than {MAX_PARAM_LENGTH} characters.")


REQUEST_STEPS: tuple[Step, ...] = (
    reject_repeated_parameters,
    reject_request_objects,
    check_response_type,
    check_scope,
    check_pkce,
    check_prompt,
    check_max_age,
    check_lengths,
)


def parse_authorization_request(ctx: AuthorizeContext) -> AuthorizationRequest:
    """Run every step; raises the first error. Callers render client-step errors as a page and
    the rest as a redirect to ``ctx.redirect_uri``."""
    for step in (*CLIENT_STEPS, *REQUEST_STEPS):
        step(ctx)
    assert ctx.app is not None and ctx.redirect_uri is not None
    return AuthorizationRequest(
        client_id=ctx.app.client_id,
        redirect_uri=ctx.redirect_uri,
        scope=ctx.scope,
        state=ctx.one("state"),
        nonce=ctx.one("nonce"),
        code_challenge=ctx.one("code_challenge"),
        prompt=ctx.prompt,
        max_age=ctx.max_age,
        login_hint=ctx.one("login_hint"),
        organization_id=ctx.one("organization_id"),
        ui_locales=ctx.one("ui_locales"),
    )
