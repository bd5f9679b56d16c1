"""The authorization endpoint's use case: check the request, then decide between an immediate
code (the shared session at work), a hosted page, or an error sent back to the app.

State machine of one authorization (``txn`` = a LoginTransaction row)::

    /oauth/authorize ──checks fail (client/redirect)──▶ error page
          │ checks fail (anything else) ──▶ redirect ?error=…&state&iss
          ▼
    live session, no forcing prompt ──▶ [consent if third-party] ──▶ redirect ?code&state&iss
          │ no session / prompt=login|create / max_age exceeded
          ▼
    txn ──▶ /ui/login (or /ui/signup) ──success──▶ [consent] ──▶ redirect ?code&state&iss
     └── expired or bookmarked ──▶ app's initiate-login URI, or an explanatory page
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import timedelta
from urllib.parse import urlencode

from ostiary.domain.apps import App
from ostiary.domain.ids import new_id, new_token
from ostiary.domain.sessions import AuthorizationCode, LoginTransaction, Session
from ostiary.protocol.authorize import (
    AuthorizationRequest,
    AuthorizeContext,
    parse_authorization_request,
)
from ostiary.protocol.digests import Digester
from ostiary.protocol.errors import (
    AccessDenied,
    ConsentRequired,
    InteractionRequired,
    InvalidRedirect,
    LoginRequired,
    OAuthError,
    UnknownClient,
)
from ostiary.protocol.redirect_uris import match_redirect_uri
from ostiary.services.apps import CONSOLE_ID
from ostiary.services.clock import Clock
from ostiary.services.events import AuthEvent, AuthLog
from ostiary.services.organizations import OrganizationService
from ostiary.services.sessions import SessionService
from ostiary.storage.apps import AppStore
from ostiary.storage.misc import ConsentStore
from ostiary.storage.sessions import SessionStore
from ostiary.storage.tokens import TokenStore

__all__ = [
    "CODE_PURPOSE",
    "AuthorizeService",
    "ErrorPage",
    "Outcome",
    "Redirect",
    "ShowConsent",
    "ShowLogin",
    "ShowOrganizations",
    "TransactionGone",
]

CODE_PURPOSE = "code"
TRANSACTION_TTL = timedelta(minutes=30)
TRANSACTION_KEEP = timedelta(hours=24)  # expired rows kept a while to send users back to the app


@dataclasses.dataclass(frozen=True, slots=True)
class Redirect:
    url: str
    issued_from: Session | None = None  # the session a code was issued from, if one was


@dataclasses.dataclass(frozen=True, slots=True)
class ShowLogin:
    txn_id: str
    signup: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class ShowConsent:
    txn_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class ShowOrganizations:
    txn_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class ErrorPage:
    error: OAuthError


Outcome = Redirect | ShowLogin | ShowConsent | ShowOrganizations | ErrorPage


@dataclasses.dataclass(frozen=True, slots=True)
class TransactionGone:
    """A login page whose transaction expired or never existed. ``initiate_login_uri`` is set
    when the app registered one: the browser goes there to restart the login."""

    app: App | None
    initiate_login_uri: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class PendingLogin:
    txn: LoginTransaction
    app: App
    request: AuthorizationRequest


class AuthorizeService:
    def __init__(
        self,
        apps: AppStore,
        sessions: SessionService,
        session_store: SessionStore,
        tokens: TokenStore,
        consents: ConsentStore,
        organizations: OrganizationService,
        events: AuthLog,
        digester: Digester,
        clock: Clock,
        *,
        issuer: str,
        production: bool,
        code_ttl: int,
    ) -> None:
        self._apps = apps
        self._sessions = sessions
        self._session_store = session_store
        self._tokens = tokens
        self._consents = consents
        self._organizations = organizations
        self._events = events
        self._digester = digester
        self._clock = clock
        self._issuer = issuer
        self._production = production
        self._code_ttl = code_ttl

    # -- the endpoint ----------------------------------------------------------------------

    async def authorize(
        self,
        params: Mapping[str, Sequence[str]],
        session: Session | None,
        *,
        ip: str | None = None,
    ) -> Outcome:
        client_ids = params.get("client_id", [])
        app = (
            await self._apps.get_by_client_id(client_ids[0])
            if len(client_ids) == 1 and client_ids[0]
            else None
        )
        ctx = AuthorizeContext(params=params, app=app, production=self._production)
        try:
            request = parse_authorization_request(ctx)
        except (UnknownClient, InvalidRedirect) as err:
            return ErrorPage(err)
        except OAuthError as err:
            assert ctx.redirect_uri is not None  # the client steps passed
            return Redirect(self.error_redirect(ctx.redirect_uri, err, ctx.state))
        assert app is not None
        outcome = await self.decide(app, request, session)
        await self._record_session_reuse(app, request, outcome, ip)
        return outcome

    async def _record_session_reuse(
        self, app: App, request: AuthorizationRequest, outcome: Outcome, ip: str | None
    ) -> None:
        """A code issued straight from the shared session (no login page) is a sign-in to
        ``app`` all the same: the authentication log records it as its own event."""
        if not isinstance(outcome, Redirect) or outcome.issued_from is None:
            return
        session = outcome.issued_from
        silent = " (prompt=none)" if "none" in request.prompt else ""
        await self._events.record(
            AuthEvent.LOGIN_SESSION_REUSED,
            user_id=session.user_id,
            client_id=app.client_id,
            session_id=session.id,
            ip=ip,
            detail=f"From the shared session, without a login page{silent}.",
        )

    async def decide(
        self, app: App, request: AuthorizationRequest, session: Session | None
    ) -> Outcome:
        """What to do with a checked request given the browser's session."""
        now = self._clock.now()
        needs_login = (
            session is None
            or "login" in request.prompt
            or "create" in request.prompt
            or (
                request.max_age is not None
                and (now - session.auth_time).total_seconds() >= request.max_age
            )
        )
        if "none" in request.prompt:
            if needs_login:
                return self._error(request, LoginRequired("The user is not signed in."))
            assert session is not None
            chosen = await self._choose_organization(app, request, session)
            if not isinstance(chosen, Session):
                return chosen
            if await self._needs_consent(app, request, chosen):
                return self._error(request, ConsentRequired("The user has not consented yet."))
            return Redirect(await self.issue_code(app, request, chosen), issued_from=chosen)
        if needs_login:
            txn = await self._new_transaction(app, request)
            return ShowLogin(txn.id, signup="create" in request.prompt)
        assert session is not None
        chosen = await self._choose_organization(app, request, session)
        if not isinstance(chosen, Session):
            return chosen
        session = chosen
        if await self._needs_consent(app, request, session):
            txn = await self._new_transaction(app, request)
            return ShowConsent(txn.id)
        return Redirect(await self.issue_code(app, request, session), issued_from=session)

    async def _choose_organization(
        self, app: App, request: AuthorizationRequest, session: Session
    ) -> Session | Outcome:
        """Settle the session's current organization: the one asked for with
        ``organization_id``, the only one, the one already chosen, or the user's pick on the
        organization page (``prompt=select_account`` always asks)."""
        memberships = await self._organizations.organizations_of(session.user_id)
        ids = [org.id for org, _ in memberships]
        wanted: str | None
        if request.organization_id is not None:
            if request.organization_id not in ids:
                return self._error(
                    request,
                    AccessDenied("The user is not a member of the requested organization."),
                )
            wanted = request.organization_id
        elif not ids:
            wanted = None
        elif len(ids) == 1:
            wanted = ids[0]
        elif "select_account" not in request.prompt and session.organization_id in ids:
            wanted = session.organization_id
        elif "none" in request.prompt:
            return self._error(
                request, InteractionRequired("The user must choose an organization.")
            )
        else:
            txn = await self._new_transaction(app, request)
            return ShowOrganizations(txn.id)
        if wanted != session.organization_id:
            session = await self._sessions.set_organization(session, wanted)
        return session

    async def choose_organization(
        self, pending: PendingLogin, session: Session, organization_id: str
    ) -> Outcome:
        """The user picked an organization on the organization page."""
        request = dataclasses.replace(
            pending.request.without_prompt("select_account", "login", "create"),
            organization_id=organization_id,
            max_age=None,
        )
        await self._session_store.delete_transaction(pending.txn.id)
        return await self.decide(pending.app, request, session)

    async def organizations_for(self, user_id: str) -> list[tuple[str, str]]:
        """``(id, display name)`` of the user's organizations, for the organization page."""
        return [
            (org.id, org.display_name)
            for org, _ in await self._organizations.organizations_of(user_id)
        ]

    async def _needs_consent(
        self, app: App, request: AuthorizationRequest, session: Session
    ) -> bool:
        if not app.third_party:
            return False  # first-party apps are not asked (SPEC §2)
        if "consent" in request.prompt:
            return True
        granted = await self._consents.granted(session.user_id, app.id)
        return not set(request.scope) <= set(granted)

    # -- transactions (the hosted pages' link back to the request) -------------------------

    async def _new_transaction(self, app: App, request: AuthorizationRequest) -> LoginTransaction:
        now = self._clock.now()
        txn = LoginTransaction(
            id=new_token("txn_", 16),
            app_id=app.id,
            request=request.to_json(),
            created_at=now,
            expires_at=now + TRANSACTION_TTL,
        )
        await self._session_store.insert_transaction(txn)
        return txn

    async def pending(self, txn_id: str | None) -> PendingLogin | TransactionGone:
        """The live transaction behind a login page, or where to send the browser instead."""
        txn = await self._session_store.transaction(txn_id) if txn_id else None
        app = await self._apps.get(txn.app_id) if txn is not None else None
        if txn is None or app is None:
            return TransactionGone(None, None)
        if txn.expires_at <= self._clock.now():
            return TransactionGone(app, app.initiate_login_uri)
        request = AuthorizationRequest.from_json(txn.request)
        if request.return_to is None and not match_redirect_uri(
            app.redirect_uris, request.redirect_uri, app_type=app.type.value,
            production=self._production,
        ):  # fmt: skip
            # The redirect URI was unregistered while the page was open: never send a code
            # (or an error) there. The app must start again, and will be told what is wrong.
            return TransactionGone(app, None)
        return PendingLogin(txn, app, request)

    async def gone_for_client(self, client_id: str | None) -> TransactionGone:
        """A bookmarked login page that names its app with ``client_id``."""
        app = await self._apps.get_by_client_id(client_id) if client_id else None
        return TransactionGone(app, app.initiate_login_uri if app else None)

    async def start_internal_login(self, return_to: str) -> ShowLogin:
        """Sign-in for Ostiary's own pages: a transaction owned by the Ostiary Console app that
        ends at ``return_to`` (a path on the issuer) instead of issuing a code."""
        if not return_to.startswith("/") or return_to.startswith("//"):
            raise ValueError("return_to must be a path on the issuer")
        console = await self._apps.get(CONSOLE_ID)
        assert console is not None, "prepare() creates the console app"
        request = AuthorizationRequest(
            client_id=console.client_id,
            redirect_uri=f"{self._issuer}{return_to}",
            scope=("openid",),
            return_to=return_to,
        )
        return ShowLogin((await self._new_transaction(console, request)).id)

    async def resume(self, pending: PendingLogin, session: Session) -> Outcome:
        """The user signed in (or re-authenticated) on a hosted page: continue the request."""
        if pending.request.return_to is not None:
            await self._session_store.delete_transaction(pending.txn.id)
            return Redirect(pending.request.return_to)
        request = pending.request.without_prompt("login", "create")
        if request.max_age is not None:
            request = dataclasses.replace(request, max_age=None)  # just authenticated
        await self._session_store.delete_transaction(pending.txn.id)  # single use
        return await self.decide(pending.app, request, session)

    async def consent(self, pending: PendingLogin, session: Session, allow: bool) -> Redirect:
        await self._session_store.delete_transaction(pending.txn.id)
        request = pending.request
        if not allow:
            return Redirect(
                self.error_redirect(
                    request.redirect_uri,
                    AccessDenied("The user did not allow access."),
                    request.state,
                )
            )
        await self._consents.grant(
            session.user_id, pending.app.id, request.scope, self._clock.now()
        )
        return Redirect(await self.issue_code(pending.app, request, session))

    # -- responses -------------------------------------------------------------------------

    def _error(self, request: AuthorizationRequest, err: OAuthError) -> Redirect:
        return Redirect(self.error_redirect(request.redirect_uri, err, request.state))

    def error_redirect(self, redirect_uri: str, err: OAuthError, state: str | None) -> str:
        """Only ever called with a redirect URI verified for the client."""
        params = {"error": err.error, "error_description": err.description}
        if state is not None:
            params["state"] = state
        params["iss"] = self._issuer
        return _with_query(redirect_uri, params)

    async def issue_code(self, app: App, request: AuthorizationRequest, session: Session) -> str:
        now = self._clock.now()
        code_value = new_token(nbytes=32)
        code = AuthorizationCode(
            grant_id=new_id("grt"),
            app_id=app.id,
            client_id=app.client_id,
            session_id=session.id,
            user_id=session.user_id,
            redirect_uri=request.redirect_uri,
            scope=request.scope,
            nonce=request.nonce,
            code_challenge=request.code_challenge,
            auth_time=session.auth_time,
            amr=session.amr,
            organization_id=session.organization_id,
            created_at=now,
            expires_at=now + timedelta(seconds=self._code_ttl),
        )
        await self._tokens.insert_code(code, self._digester.digest(CODE_PURPOSE, code_value))
        await self._sessions.add_client(session, app.client_id)
        params = {"code": code_value}
        if request.state is not None:
            params["state"] = request.state
        params["iss"] = self._issuer
        return _with_query(request.redirect_uri, params)


def _with_query(uri: str, params: Mapping[str, str]) -> str:
    separator = "&" if "?" in uri else "?"
    return f"{uri}{separator}{urlencode(params)}"
