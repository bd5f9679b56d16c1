"""Applications: registration rules, redirect URLs, client secrets and client authentication."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from ostiary.domain.apps import MAX_ACTIVE_SECRETS, App, AppType, ClientSecret
from ostiary.domain.ids import new_client_id, new_id, new_token
from ostiary.protocol.compare import secrets_equal
from ostiary.protocol.digests import Digester
from ostiary.protocol.redirect_uris import RedirectUriError, UriKind, validate_registered_uri
from ostiary.services.clock import Clock
from ostiary.services.errors import Conflict, InvalidInput, NotFound, Problem
from ostiary.storage.apps import ActiveSecret, AppStore, DuplicateAppError, TooManySecretsError
from ostiary.storage.pages import Page

__all__ = ["CONSOLE_NAME", "AppService", "NewSecret"]

CONSOLE_NAME = "Ostiary Console"
CONSOLE_ID = "app_ostiary_console"
SECRET_PURPOSE = "client_secret"
MAX_REFRESH_REUSE_INTERVAL = 60
MIN_ACCESS_TOKEN_TTL = 30
MAX_REDIRECT_URIS = 50
# A secret's last_used_at is written when it is older than this: one write per secret per five
# minutes rather than one per token request. Each write also makes every worker read its clients
# again (ostiary.storage.changes), so this is what that bookkeeping costs a busy app.
SECRET_USE_PRECISION = timedelta(minutes=5)

# The fields a caller may change with ``update``; everything else is derived or fixed.
UPDATABLE = frozenset(
    {
        "name",
        "enforce_pkce",
        "management_api_access",
        "introspect_all_tokens",
        "third_party",
        "access_token_ttl",
        "refresh_reuse_interval",
        "redirect_uris",
        "post_logout_redirect_uris",
        "initiate_login_uri",
        "backchannel_logout_uri",
    }
)


@dataclasses.dataclass(frozen=True, slots=True)
class NewSecret:
    """A secret just created: ``value`` is shown this once and never stored."""

    secret: ClientSecret
    value: str


class AppService:
    def __init__(
        self,
        store: AppStore,
        digester: Digester,
        clock: Clock,
        *,
        production: bool,
        session_idle_timeout: int,
        issuer: str,
    ) -> None:
        self._store = store
        self._digester = digester
        self._clock = clock
        self._production = production
        self._idle_timeout = session_idle_timeout
        self._issuer = issuer
        # Uses this process has written (secret id -> when), so that the requests of a burst,
        # which all read the same old last_used_at, write it once.
        self._uses_noted: dict[str, datetime] = {}

    # -- registration ----------------------------------------------------------------------

    async def create(self, name: str, app_type: str, **fields: Any) -> tuple[App, NewSecret | None]:
        """Register an app; a web app gets its first secret, returned once."""
        try:
            kind = AppType(app_type)
        except ValueError:
            raise InvalidInput(
                "type", f"Unknown app type {app_type!r}: use web, spa or native."
            ) from None
        now = self._clock.now()
        is_console = bool(fields.pop("is_console", False))
        draft = App(
            # One fixed id for the console: two nodes starting at once cannot both create it.
            id=CONSOLE_ID if is_console else new_id("app"),
            client_id=new_client_id(kind.value),
            name=name,
            type=kind,
            enforce_pkce=True,
            management_api_access=False,
            introspect_all_tokens=False,
            third_party=False,
            access_token_ttl=None,
            refresh_reuse_interval=0,
            redirect_uris=(),
            post_logout_redirect_uris=(),
            initiate_login_uri=None,
            backchannel_logout_uri=None,
            is_console=is_console,
            created_at=now,
            updated_at=now,
        )
        app = self._apply(draft, fields)
        secret = self._new_secret(app) if kind is AppType.WEB else None
        await self._store.insert(
            app, None if secret is None else (secret.secret, self._digest(secret.value))
        )
        return app, secret

    async def update(self, ref: str, **fields: Any) -> App:
        app = await self.get(ref)
        updated = self._apply(app, fields)
        updated = dataclasses.replace(updated, updated_at=self._clock.now())
        await self._store.update(updated)
        return updated

    def _apply(self, app: App, fields: dict[str, Any]) -> App:
        unknown = set(fields) - UPDATABLE
        if unknown:
            raise InvalidInput(
                sorted(unknown)[0], f"Unknown field(s): {', '.join(sorted(unknown))}."
            )
        changes: dict[str, Any] = {}  # validated as a whole by _check below
        for field, value in fields.items():
            if value is None and field in ("redirect_uris", "post_logout_redirect_uris"):
                continue
            changes[field] = value
        for field in ("redirect_uris", "post_logout_redirect_uris"):
            if field in changes:
                changes[field] = tuple(changes[field])
        candidate = dataclasses.replace(app, **changes)
        self._check(candidate)
        return candidate

    def _check(self, app: App) -> None:
        name = app.name.strip()
        if not 1 <= len(name) <= 200:
            raise InvalidInput("name", "The app name must be 1 to 200 characters.")
        if app.type is not AppType.WEB:
            if not app.enforce_pkce:
                raise InvalidInput(
                    "enforce_pkce",
                    f"PKCE is always required for {app.type.value} apps (public clients).",
                    rule="pkce_required",
                )
            if app.management_api_access:
                raise InvalidInput(
                    "management_api_access",
                    "Only web apps can have management API access (it needs a client secret).",
                    rule="web_only",
                )
            if app.introspect_all_tokens:
                raise InvalidInput(
                    "introspect_all_tokens",
                    "Only web apps can introspect tokens (it needs a client secret).",
                    rule="web_only",
                )
        self._check_ttl(app.access_token_ttl)
        if not 0 <= app.refresh_reuse_interval <= MAX_REFRESH_REUSE_INTERVAL:
            raise InvalidInput(
                "refresh_reuse_interval",
                f"refresh_reuse_interval must be 0 to {MAX_REFRESH_REUSE_INTERVAL} seconds.",
            )
        self._check_every_uri(app)

    def _check_every_uri(self, app: App) -> None:
        """Every URL of the app is checked, and every bad one reported (not just the first)."""
        problems = [
            *self._uri_problems("redirect_uris", app.redirect_uris, UriKind.REDIRECT, app),
            *self._uri_problems(
                "post_logout_redirect_uris",
                app.post_logout_redirect_uris,
                UriKind.POST_LOGOUT,
                app,
            ),
            *self._uri_problems(
                "initiate_login_uri",
                [app.initiate_login_uri] if app.initiate_login_uri else [],
                UriKind.INITIATE_LOGIN,
                app,
            ),
            *self._uri_problems(
                "backchannel_logout_uri",
                [app.backchannel_logout_uri] if app.backchannel_logout_uri else [],
                UriKind.BACKCHANNEL_LOGOUT,
                app,
            ),
        ]
        if problems:
            raise InvalidInput.of(problems, f"{len(problems)} URLs are not allowed.")

    def _check_ttl(self, ttl: int | None) -> None:
        if ttl is None:
            return
        if ttl < MIN_ACCESS_TOKEN_TTL:
            raise InvalidInput(
                "access_token_ttl",
                f"The access-token lifetime must be at least {MIN_ACCESS_TOKEN_TTL} seconds.",
            )
        if self._idle_timeout and ttl >= self._idle_timeout:
            raise InvalidInput(
                "access_token_ttl",
                f"The access-token lifetime ({ttl} s) must be shorter than the session idle "
                f"timeout ({self._idle_timeout} s).",
                rule="ttl_exceeds_idle_timeout",
            )
        if not self._idle_timeout and ttl > 86400:
            raise InvalidInput(
                "access_token_ttl",
                "The access-token lifetime must be ≤ 86400 s.",
                rule="ttl_exceeds_idle_timeout",
            )

    def _uri_problems(
        self, field: str, uris: Iterable[str], kind: UriKind, app: App
    ) -> list[Problem]:
        uris = list(uris)
        if len(uris) > MAX_REDIRECT_URIS:
            return [Problem(field, "invalid", f"At most {MAX_REDIRECT_URIS} URLs of one kind.")]
        problems = []
        if len(set(uris)) != len(uris):
            problems.append(Problem(field, "duplicate", "The same URL is listed twice."))
        for uri in uris:
            try:
                validate_registered_uri(
                    uri, kind=kind, app_type=app.type.value, production=self._production
                )
            except RedirectUriError as err:
                problems.append(Problem(field, err.rule, str(err)))
        return problems

    # -- lookups ---------------------------------------------------------------------------

    async def get(self, ref: str) -> App:
        """An app by record id (``app_…``) or client_id."""
        app = await (
            self._store.get(ref) if ref.startswith("app_") else self._store.get_by_client_id(ref)
        )
        if app is None:
            raise NotFound(f"No application {ref!r}.")
        return app

    async def find_by_client_id(self, client_id: str) -> App | None:
        return await self._store.get_by_client_id(client_id)

    async def all(self) -> list[App]:
        return await self._store.all()

    async def page(self, *, after: str | None, limit: int) -> Page[App]:
        return await self._store.page(after=after, limit=limit)

    async def console(self) -> App:
        """The Ostiary Console app (created on first start by ``ensure_console``)."""
        app = await self._store.get(CONSOLE_ID)
        if app is None:
            raise NotFound(f"The {CONSOLE_NAME} app does not exist yet: start Ostiary once.")
        return app

    async def delete(self, ref: str) -> App:
        app = await self.get(ref)
        if app.is_console:
            raise Conflict(
                f"{CONSOLE_NAME} is how administrators sign in to the dashboard; "
                "it cannot be deleted."
            )
        await self._store.delete(app.id)
        return app

    async def ensure_console(self) -> App:
        """Create the Ostiary Console app on first start; keep its URLs in step with the issuer."""
        redirect = f"{self._issuer}/admin/callback"
        post_logout = f"{self._issuer}/admin"
        app = await self._store.get(CONSOLE_ID)
        if app is None:
            try:
                app, _ = await self.create(
                    CONSOLE_NAME,
                    "web",
                    is_console=True,
                    redirect_uris=[redirect],
                    post_logout_redirect_uris=[post_logout],
                )
                return app
            except DuplicateAppError:  # another node created it a moment ago
                app = await self._store.get(CONSOLE_ID)
                assert app is not None
        if app.redirect_uris != (redirect,) or app.post_logout_redirect_uris != (post_logout,):
            app = dataclasses.replace(
                app,
                redirect_uris=(redirect,),
                post_logout_redirect_uris=(post_logout,),
                updated_at=self._clock.now(),
            )
            await self._store.update(app)
        return app

    # -- secrets ---------------------------------------------------------------------------

    def _digest(self, value: str) -> str:
        return self._digester.digest(SECRET_PURPOSE, value)

    def _new_secret(self, app: App) -> NewSecret:
        value = new_token("sec_", 32)
        secret = ClientSecret(
            id=new_id("csec"),
            app_id=app.id,
            hint=value[-4:],
            created_at=self._clock.now(),
            revoked_at=None,
            last_used_at=None,
        )
        return NewSecret(secret=secret, value=value)

    async def create_secret(self, ref: str) -> NewSecret:
        app = await self.get(ref)
        if app.type is not AppType.WEB:
            raise InvalidInput(
                "type",
                f"Client secrets are for web apps only; a {app.type.value} app is a public "
                "client and proves itself with PKCE instead.",
                rule="secret_for_public_client",
            )
        new = self._new_secret(app)
        try:
            await self._store.add_secret(
                new.secret,
                self._digest(new.value),
                max_active=MAX_ACTIVE_SECRETS,
                now=self._clock.now(),
            )
        except TooManySecretsError:
            raise Conflict(
                f"{app.name} already has {MAX_ACTIVE_SECRETS} active secrets, the most allowed. "
                "Revoke one of them first (the one nothing uses any more), then generate the new "
                "one."
            ) from None
        return new

    async def list_secrets(self, ref: str) -> list[ClientSecret]:
        app = await self.get(ref)
        return await self._store.list_secrets(app.id)

    async def revoke_secret(self, ref: str, secret_id: str) -> None:
        app = await self.get(ref)
        if not await self._store.revoke_secret(app.id, secret_id, self._clock.now()):
            raise NotFound(f"No active secret {secret_id!r} on {app.name}.")

    async def authenticate(self, client_id: str, secret: str) -> App | None:
        """The web app whose active secret this is, or None. Compares in constant time. A check
        (the demo's, of a secret it saved), not a use: ``last_used_at`` stays as it is."""
        app, matched = await self._match(client_id, secret)
        return app if matched is not None else None

    async def identify_client(self, client_id: str, secret: str | None) -> tuple[App | None, bool]:
        """The app behind a client_id (None if unknown) and whether ``secret`` is one of its
        active secrets (always False for spa/native apps), read in one round trip. The secret
        that matched has its ``last_used_at`` brought up to date (within
        ``SECRET_USE_PRECISION``)."""
        app, matched = await self._match(client_id, secret)
        if matched is None:
            return app, False
        await self._note_use(matched)
        return app, True

    async def _match(
        self, client_id: str, secret: str | None
    ) -> tuple[App | None, ActiveSecret | None]:
        found = await self._store.with_active_secrets(client_id)
        if found is None:
            return None, None
        app, secrets = found
        if secret is None or app.type is not AppType.WEB:
            return app, None
        presented = self._digest(secret)
        matched: ActiveSecret | None = None
        for active in secrets:  # every one compared, in constant time
            if secrets_equal(presented, active.digest):
                matched = active
        return app, matched

    async def _note_use(self, secret: ActiveSecret) -> None:
        now = self._clock.now()
        stale_before = now - SECRET_USE_PRECISION
        last, noted = secret.last_used_at, self._uses_noted.get(secret.id)
        if (last is not None and last >= stale_before) or (
            noted is not None and noted >= stale_before
        ):
            return
        if len(self._uses_noted) >= 10_000:  # forget old entries; a repeat write is harmless
            self._uses_noted = {k: v for k, v in self._uses_noted.items() if v >= stale_before}
        self._uses_noted[secret.id] = now
        await self._store.note_secret_use(secret.id, now, stale_before)
