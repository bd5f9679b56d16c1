"""Hosted pages of an authorization: ``/ui/login``, ``/ui/signup``, ``/ui/consent``."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ostiary.domain.users import User
from ostiary.protocol.scopes import SCOPE_DESCRIPTIONS
from ostiary.services.authorize import PendingLogin, TransactionGone
from ostiary.services.email_flows import EmailRateLimited
from ostiary.services.errors import Conflict, InvalidInput
from ostiary.services.events import AuthEvent
from ostiary.services.login import LoginFailed, Throttled
from ostiary.web.context import services_of
from ostiary.web.cookies import session_cookie
from ostiary.web.oauth.authorize import outcome_response
from ostiary.web.pages import csrf_ok, csrf_token, error_page, render
from ostiary.web.ui.email import NOTICES, start_email_sign_in
from ostiary.web.ui.flow import (
    client_ip,
    csrf_failure,
    form_text,
    load_pending,
    restart_elsewhere,
    signed_in,
)

__all__ = ["consent_page", "login_page", "organization_page", "signup_page"]


# -- login ---------------------------------------------------------------------------------------


async def login_page(request: Request) -> Response:
    form = await request.form() if request.method == "POST" else None
    txn_id = form_text(form, "txn") if form is not None else request.query_params.get("txn")
    pending = await load_pending(request, txn_id)
    if isinstance(pending, TransactionGone):
        return await restart_elsewhere(request, pending)
    services = services_of(request)
    session = await services.sessions.from_cookie(session_cookie(request))
    reauth_user = await services.users.get(session.user_id) if session else None
    if form is None:
        notice = NOTICES.get(request.query_params.get("notice", ""))
        return _login_form(request, pending, reauth_user, pending.request.login_hint, notice=notice)
    if not csrf_ok(request, form.get("csrf_token")):
        return csrf_failure(request, f"/ui/login?txn={pending.txn.id}")
    email, password = form_text(form, "email").strip(), form_text(form, "password")
    if reauth_user is not None:
        email = reauth_user.email
    methods = services.settings.login_methods
    if form.get("method") == "email" and _email_methods(methods):
        return await start_email_sign_in(request, pending, email)
    if "password" not in methods:
        return _login_form(
            request, pending, reauth_user, email,
            error="Sign-in with a password is turned off here: use the email option.", status=400,
        )  # fmt: skip
    ip = client_ip(request)
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
    if services.settings.require_email_verification and not user.email_verified:
        return await _verification_needed(request, pending, user)
    return await signed_in(request, pending, user, session, amr=("pwd",))


def _email_methods(methods: tuple[str, ...]) -> list[str]:
    return [m for m in methods if m in ("email_code", "magic_link")]


async def _verification_needed(request: Request, pending: PendingLogin, user: User) -> Response:
    """Sign-in waits until the email is verified: send a (new) link and say so."""
    services = services_of(request)
    with contextlib.suppress(EmailRateLimited):  # a link went out recently: look for that one
        await services.email_flows.send_verification(
            user, txn_id=pending.txn.id, ip=client_ip(request)
        )
    return render(
        request,
        "message.html",
        {
            "title": "Verify your email first",
            "message": f"We sent a link to {user.email}. Open it to verify your address, then "
            "you can sign in.",
            "action_url": None,
            "action_label": None,
        },
        status_code=403,
    )


def _login_form(
    request: Request,
    pending: PendingLogin,
    reauth_user: User | None,
    email: str | None,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    services = services_of(request)
    signup = services.settings.signup_enabled and reauth_user is None
    methods = services.settings.login_methods
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
            "notice": notice,
            "reauth": reauth_user is not None,
            "signup_url": f"/ui/signup?txn={pending.txn.id}" if signup else None,
            "password_enabled": "password" in methods,
            "email_methods": _email_methods(methods),
            "forgot_url": f"/ui/password/forgot?txn={pending.txn.id}",
        },
        status_code=status,
        redirects_to=pending.request.redirect_uri,
    )


# -- sign-up -------------------------------------------------------------------------------------


async def signup_page(request: Request) -> Response:
    services = services_of(request)
    form = await request.form() if request.method == "POST" else None
    txn_id = form_text(form, "txn") if form is not None else request.query_params.get("txn")
    pending = await load_pending(request, txn_id)
    if isinstance(pending, TransactionGone):
        return await restart_elsewhere(request, pending)
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
        return csrf_failure(request, f"/ui/signup?txn={pending.txn.id}")
    email, name = form_text(form, "email").strip(), form_text(form, "name").strip()
    try:
        user = await services.users.create(email, password=form_text(form, "password"), name=name)
    except InvalidInput as err:
        return _signup_form(
            request, pending, email=email, name=name, field_errors={err.field: str(err)}
        )
    except Conflict:
        # Saying "this email has an account" would tell anyone which emails are registered:
        # the owner gets an email instead, and the page is the one a new account sees.
        await services.email_flows.tell_account_exists(email, ip=client_ip(request))
        return _check_your_email(request, email)
    await services.events.record(
        AuthEvent.SIGNUP, user_id=user.id, email=user.email, client_id=pending.app.client_id,
        ip=client_ip(request),
    )  # fmt: skip
    await services.email_flows.send_verification(user, txn_id=pending.txn.id, ip=client_ip(request))
    if services.settings.require_email_verification:
        return _check_your_email(request, user.email)
    session = await services.sessions.from_cookie(session_cookie(request))
    return await signed_in(request, pending, user, session, amr=("pwd",))


def _check_your_email(request: Request, email: str) -> Response:
    """The answer to a sign-up that waits for the inbox: the same for a new account and for an
    email that already has one."""
    return render(
        request,
        "message.html",
        {
            "title": "Check your email",
            "message": f"We sent a link to {email}. Open it to verify your address, then sign in.",
            "action_url": None,
            "action_label": None,
        },
    )


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
        redirects_to=pending.request.redirect_uri,
    )


# -- consent -------------------------------------------------------------------------------------


async def consent_page(request: Request) -> Response:
    services = services_of(request)
    form = await request.form() if request.method == "POST" else None
    txn_id = form_text(form, "txn") if form is not None else request.query_params.get("txn")
    pending = await load_pending(request, txn_id)
    if isinstance(pending, TransactionGone):
        return await restart_elsewhere(request, pending)
    session = await services.sessions.from_cookie(session_cookie(request))
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
        return render(request, "consent.html", context, redirects_to=pending.request.redirect_uri)
    if not csrf_ok(request, form.get("csrf_token")):
        return csrf_failure(request, f"/ui/consent?txn={pending.txn.id}")
    allow = form.get("decision") == "allow"
    return outcome_response(request, await services.authorize.consent(pending, session, allow))


# -- organization picker -------------------------------------------------------------------------


async def organization_page(request: Request) -> Response:
    services = services_of(request)
    form = await request.form() if request.method == "POST" else None
    txn_id = form_text(form, "txn") if form is not None else request.query_params.get("txn")
    pending = await load_pending(request, txn_id)
    if isinstance(pending, TransactionGone):
        return await restart_elsewhere(request, pending)
    session = await services.sessions.from_cookie(session_cookie(request))
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
            redirects_to=pending.request.redirect_uri,
        )
    if not csrf_ok(request, form.get("csrf_token")):
        return csrf_failure(request, f"/ui/organization?txn={pending.txn.id}")
    chosen = form_text(form, "organization_id")
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
