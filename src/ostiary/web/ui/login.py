"""Hosted pages of an authorization: ``/ui/login``, ``/ui/signup``, ``/ui/consent``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ostiary.domain.sessions import Session, SessionStatus
from ostiary.domain.users import User
from ostiary.protocol.scopes import SCOPE_DESCRIPTIONS
from ostiary.services.authorize import PendingLogin, TransactionGone
from ostiary.services.errors import Conflict, InvalidInput
from ostiary.services.events import AuthEvent
from ostiary.services.login import LoginFailed, Throttled
from ostiary.services.sessions import COOKIE_NAME
from ostiary.web.context import services_of
from ostiary.web.oauth.authorize import outcome_response
from ostiary.web.pages import csrf_ok, csrf_token, error_page, render, set_cookie

__all__ = ["consent_page", "login_page", "organization_page", "signup_page"]

MAX_FIELD = 1024


async def _pending(request: Request, txn_id: str | None) -> PendingLogin | TransactionGone:
    services = services_of(request)
    pending = await services.authorize.pending(txn_id)
    if isinstance(pending, TransactionGone) and pending.app is None:
        return await services.authorize.gone_for_client(request.query_params.get("client_id"))
    return pending


async def _gone(request: Request, gone: TransactionGone) -> Response:
    """An expired or bookmarked login page: restart at the app, or explain what to do."""
    if gone.initiate_login_uri:
        return RedirectResponse(gone.initiate_login_uri, status_code=303)
    services = services_of(request)
    session = await services.sessions.from_cookie(request.cookies.get(COOKIE_NAME))
    app = f" to {gone.app.name}" if gone.app else ""
    message = (
        f"This sign-in page has expired or was opened from a bookmark. Go back{app} and "
        "choose “Sign in” there to start again."
    )
    if session is not None:
        user = await services.users.get(session.user_id)
        message = f"You are already signed in as {user.email}. " + message
    return render(
        request,
        "message.html",
        {
            "title": "Start again from the app",
            "message": message,
            "action_url": None,
            "action_label": None,
        },
        status_code=400,
    )


def _csrf_failure(request: Request, back: str) -> Response:
    return error_page(
        request,
        "Please try again",
        "This form was open too long or came from another site, so it was not sent. "
        "Go back and submit it again.",
        status_code=403,
        detail="CSRF token missing or wrong",
        action_url=back,
        action_label="Back to the form",
    )


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value[:MAX_FIELD] if isinstance(value, str) else ""


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


# -- login ---------------------------------------------------------------------------------------


async def login_page(request: Request) -> Response:
    form = await request.form() if request.method == "POST" else None
    txn_id = _text(form, "txn") if form is not None else request.query_params.get("txn")
    pending = await _pending(request, txn_id)
    if isinstance(pending, TransactionGone):
        return await _gone(request, pending)
    services = services_of(request)
    session = await services.sessions.from_cookie(request.cookies.get(COOKIE_NAME))
    reauth_user = await services.users.get(session.user_id) if session else None
    if form is None:
        return _login_form(request, pending, reauth_user, pending.request.login_hint)
    if not csrf_ok(request, form.get("csrf_token")):
        return _csrf_failure(request, f"/ui/login?txn={pending.txn.id}")
    email, password = _text(form, "email").strip(), _text(form, "password")
    if reauth_user is not None:
        email = reauth_user.email
    ip = _client_ip(request)
    client_id = pending.app.client_id
    try:
        user = await services.login.sign_in(email, password, ip)
    except Throttled as err:
        await services.events.record(
            AuthEvent.LOGIN_THROTTLED, email=email, client_id=client_id, ip=ip
        )
        response = _login_form(request, pending, reauth_user, email, error=str(err), status=429)
        response.headers["retry-after"] = str(err.retry_after)
        return response
    except LoginFailed as err:
        await services.events.record(
            AuthEvent.LOGIN_FAILED, email=email, client_id=client_id, ip=ip
        )
        return _login_form(request, pending, reauth_user, email, error=str(err), status=401)
    return await _signed_in(request, pending, user, session, amr=("pwd",))


def _login_form(
    request: Request,
    pending: PendingLogin,
    reauth_user: User | None,
    email: str | None,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    services = services_of(request)
    signup = services.settings.signup_enabled and reauth_user is None
    return render(
        request,
        "login.html",
        {
            "app_name": pending.app.name,
            "form_action": "/ui/login",
            "txn": pending.txn.id,
            "csrf_token": csrf_token(request),
            "email": reauth_user.email if reauth_user else email,
            "error": error,
            "notice": None,
            "reauth": reauth_user is not None,
            "signup_url": f"/ui/signup?txn={pending.txn.id}" if signup else None,
        },
        status_code=status,
    )


async def _signed_in(
    request: Request,
    pending: PendingLogin,
    user: User,
    session: Session | None,
    *,
    amr: tuple[str, ...],
) -> Response:
    """Start (or refresh) the shared session, then continue the authorization request."""
    services = services_of(request)
    cookie: str | None = None
    if session is not None and session.user_id == user.id:
        session = await services.sessions.reauthenticate(session, amr)
    else:
        if session is not None:  # another user signs in on this browser
            await services.sessions.end(session, SessionStatus.LOGGED_OUT)
        session, cookie = await services.sessions.create(
            user.id,
            amr=amr,
            user_agent=request.headers.get("user-agent"),
            ip=_client_ip(request),
        )
    await services.users.record_login(user.id)
    await services.events.record(
        AuthEvent.LOGIN_SUCCEEDED,
        user_id=user.id,
        email=user.email,
        client_id=pending.app.client_id,
        session_id=session.id,
        ip=_client_ip(request),
    )
    response = outcome_response(request, await services.authorize.resume(pending, session))
    if cookie is not None:
        set_cookie(
            request,
            response,
            COOKIE_NAME,
            cookie,
            max_age=services.settings.session_absolute_timeout,
        )
    return response


# -- sign-up -------------------------------------------------------------------------------------


async def signup_page(request: Request) -> Response:
    services = services_of(request)
    form = await request.form() if request.method == "POST" else None
    txn_id = _text(form, "txn") if form is not None else request.query_params.get("txn")
    pending = await _pending(request, txn_id)
    if isinstance(pending, TransactionGone):
        return await _gone(request, pending)
    if not services.settings.signup_enabled:
        return error_page(
            request,
            "Sign-up is turned off",
            f"New accounts cannot be created here. Ask the people who run {pending.app.name} "
            "for an account, or sign in if you have one.",
            status_code=403,
            action_url=f"/ui/login?txn={pending.txn.id}",
            action_label="Sign in",
        )
    if form is None:
        return _signup_form(request, pending, email=pending.request.login_hint)
    if not csrf_ok(request, form.get("csrf_token")):
        return _csrf_failure(request, f"/ui/signup?txn={pending.txn.id}")
    email, name = _text(form, "email").strip(), _text(form, "name").strip()
    try:
        user = await services.users.create(email, password=_text(form, "password"), name=name)
    except InvalidInput as err:
        return _signup_form(
            request, pending, email=email, name=name, field_errors={err.field: str(err)}
        )
    except Conflict:
        return _signup_form(
            request,
            pending,
            email=email,
            name=name,
            error="An account with this email already exists. Sign in instead.",
            status=409,
        )
    await services.events.record(
        AuthEvent.SIGNUP, user_id=user.id, email=user.email, client_id=pending.app.client_id,
        ip=_client_ip(request),
    )  # fmt: skip
    session = await services.sessions.from_cookie(request.cookies.get(COOKIE_NAME))
    return await _signed_in(request, pending, user, session, amr=("pwd",))


def _signup_form(
    request: Request,
    pending: PendingLogin,
    *,
    email: str | None = None,
    name: str | None = None,
    error: str | None = None,
    field_errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    services = services_of(request)
    return render(
        request,
        "signup.html",
        {
            "app_name": pending.app.name,
            "form_action": "/ui/signup",
            "txn": pending.txn.id,
            "csrf_token": csrf_token(request),
            "email": email,
            "name": name,
            "error": error,
            "field_errors": field_errors or {},
            "login_url": f"/ui/login?txn={pending.txn.id}",
            "password_min_length": services.settings.password_min_length,
        },
        status_code=400 if field_errors else status,
    )


# -- consent -------------------------------------------------------------------------------------


async def consent_page(request: Request) -> Response:
    services = services_of(request)
    form = await request.form() if request.method == "POST" else None
    txn_id = _text(form, "txn") if form is not None else request.query_params.get("txn")
    pending = await _pending(request, txn_id)
    if isinstance(pending, TransactionGone):
        return await _gone(request, pending)
    session = await services.sessions.from_cookie(request.cookies.get(COOKIE_NAME))
    if session is None:  # the session ended while the page was open: sign in again
        query = urlencode({"txn": pending.txn.id})
        return RedirectResponse(f"/ui/login?{query}", status_code=303)
    if form is None:
        user = await services.users.get(session.user_id)
        context: dict[str, Any] = {
            "app_name": pending.app.name,
            "form_action": "/ui/consent",
            "txn": pending.txn.id,
            "csrf_token": csrf_token(request),
            "user_email": user.email,
            "scopes": [(s, SCOPE_DESCRIPTIONS.get(s, s)) for s in pending.request.scope],
        }
        return render(request, "consent.html", context)
    if not csrf_ok(request, form.get("csrf_token")):
        return _csrf_failure(request, f"/ui/consent?txn={pending.txn.id}")
    allow = form.get("decision") == "allow"
    return outcome_response(request, await services.authorize.consent(pending, session, allow))


# -- organization picker -------------------------------------------------------------------------


async def organization_page(request: Request) -> Response:
    services = services_of(request)
    form = await request.form() if request.method == "POST" else None
    txn_id = _text(form, "txn") if form is not None else request.query_params.get("txn")
    pending = await _pending(request, txn_id)
    if isinstance(pending, TransactionGone):
        return await _gone(request, pending)
    session = await services.sessions.from_cookie(request.cookies.get(COOKIE_NAME))
    if session is None:
        return RedirectResponse(f"/ui/login?{urlencode({'txn': pending.txn.id})}", status_code=303)
    choices = await services.authorize.organizations_for(session.user_id)
    if form is None:
        user = await services.users.get(session.user_id)
        return render(
            request,
            "organization.html",
            {
                "app_name": pending.app.name,
                "form_action": "/ui/organization",
                "txn": pending.txn.id,
                "csrf_token": csrf_token(request),
                "user_email": user.email,
                "organizations": choices,
            },
        )
    if not csrf_ok(request, form.get("csrf_token")):
        return _csrf_failure(request, f"/ui/organization?txn={pending.txn.id}")
    chosen = _text(form, "organization_id")
    if chosen not in {org_id for org_id, _ in choices}:
        return error_page(
            request,
            "Not one of your organizations",
            "You are not a member of that organization. Go back and pick one from the list.",
            status_code=403,
            action_url=f"/ui/organization?txn={pending.txn.id}",
            action_label="Back to the list",
        )
    outcome = await services.authorize.choose_organization(pending, session, chosen)
    return outcome_response(request, outcome)
