"""Hosted pages for email: passwordless sign-in (code and magic link), password reset and
email verification."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ostiary.services.authorize import PendingLogin, TransactionGone
from ostiary.services.email_flows import ChallengeFailed, EmailRateLimited
from ostiary.services.errors import InvalidInput
from ostiary.web.context import services_of
from ostiary.web.cookies import names_of, session_cookie
from ostiary.web.pages import csrf_ok, csrf_token, error_page, render
from ostiary.web.ui.flow import (
    client_ip,
    csrf_failure,
    form_text,
    load_pending,
    restart_elsewhere,
    signed_in,
)

__all__ = [
    "email_code_page",
    "forgot_password_page",
    "magic_link",
    "reset_password_page",
    "start_email_sign_in",
    "verify_email",
]

NOTICES = {
    "password_changed": "Your password was changed. Sign in with the new one.",
    "email_verified": "Your email address is verified. Sign in to continue.",
}


def _challenge_page(request: Request, err: ChallengeFailed, *, back: str | None) -> Response:
    titles = {
        "expired": "This link or code has expired",
        "used": "This link was already used",
        "other_browser": "Open this link in the right browser",
        "locked": "Too many wrong codes",
    }
    return error_page(
        request,
        titles.get(err.reason, "This link is not valid"),
        str(err),
        status_code=400,
        detail=f"reason={err.reason}",
        action_url=back,
        action_label="Start again" if back else None,
    )


async def start_email_sign_in(request: Request, pending: PendingLogin, email: str) -> Response:
    """Called by the login page when the user chose to be emailed a code or link."""
    services = services_of(request)
    try:
        challenge = await services.email_flows.start_sign_in(
            email,
            ip=client_ip(request),
            txn_id=pending.txn.id,
            browser_id=request.cookies.get(names_of(request).browser),
            app_name=pending.app.name,
        )
    except InvalidInput as err:
        return error_page(
            request,
            "Check the email address",
            str(err),
            status_code=400,
            action_url=f"/ui/login?txn={pending.txn.id}",
            action_label="Back to sign in",
        )
    except EmailRateLimited as err:
        response = error_page(
            request,
            "Please wait a moment",
            str(err),
            status_code=429,
            action_url=f"/ui/login?txn={pending.txn.id}",
            action_label="Back to sign in",
        )
        response.headers["retry-after"] = str(err.retry_after)
        return response
    query = urlencode({"txn": pending.txn.id, "challenge": challenge.id})
    return RedirectResponse(f"/ui/login/code?{query}", status_code=303)


async def email_code_page(request: Request) -> Response:
    services = services_of(request)
    form = await request.form() if request.method == "POST" else None
    source = form if form is not None else request.query_params
    txn_id = str(source.get("txn") or "")
    challenge_id = str(source.get("challenge") or "")
    pending = await load_pending(request, txn_id)
    if isinstance(pending, TransactionGone):
        return await restart_elsewhere(request, pending)
    challenge = await services.email_flows.pending_challenge(challenge_id)
    restart = f"/ui/login?txn={pending.txn.id}"
    if challenge is None or challenge.txn_id != pending.txn.id:
        return RedirectResponse(restart, status_code=303)

    def page(error: str | None = None, status: int = 200) -> Response:
        return render(
            request,
            "code.html",
            {
                "form_action": "/ui/login/code",
                "txn": pending.txn.id,
                "challenge": challenge.id,
                "csrf_token": csrf_token(request),
                "email": challenge.email,
                "has_code": challenge.has_code,
                "has_link": challenge.has_link,
                "minutes": max(1, services.settings.email_code_ttl // 60),
                "error": error,
                "notice": None,
                "restart_url": restart,
            },
            status_code=status,
            redirects_to=pending.request.redirect_uri,
        )

    if form is None:
        return page()
    if not csrf_ok(request, form.get("csrf_token")):
        return csrf_failure(request, restart)
    try:
        result = await services.email_flows.finish_with_code(challenge.id, form_text(form, "code"))
    except ChallengeFailed as err:
        if err.reason == "wrong":
            return page(str(err), 400)
        return _challenge_page(request, err, back=restart)
    session = await services.sessions.from_cookie(session_cookie(request))
    return await signed_in(request, pending, result.user, session, amr=("otp",))


async def magic_link(request: Request) -> Response:
    services = services_of(request)
    try:
        result = await services.email_flows.finish_with_link(
            request.query_params.get("token", ""), request.cookies.get(names_of(request).browser)
        )
    except ChallengeFailed as err:
        return _challenge_page(request, err, back=None)
    pending = await load_pending(request, result.challenge.txn_id)
    session = await services.sessions.from_cookie(session_cookie(request))
    if isinstance(pending, PendingLogin):
        return await signed_in(request, pending, result.user, session, amr=("email",))
    # The login page behind the link has expired: sign the browser in, then let the app
    # restart the flow (it will get a code at once) or explain.
    return await signed_in(request, None, result.user, session, amr=("email",), gone=pending)


# -- password reset ------------------------------------------------------------------------------


async def forgot_password_page(request: Request) -> Response:
    services = services_of(request)
    form = await request.form() if request.method == "POST" else None
    txn_id = form_text(form, "txn") if form is not None else request.query_params.get("txn")
    back = f"/ui/login?txn={txn_id}" if txn_id else None

    def page(email: str | None = None, error: str | None = None, status: int = 200) -> Response:
        return render(
            request,
            "forgot.html",
            {
                "form_action": "/ui/password/forgot",
                "txn": txn_id,
                "csrf_token": csrf_token(request),
                "email": email,
                "error": error,
                "back_url": back,
            },
            status_code=status,
        )

    if form is None:
        return page()
    if not csrf_ok(request, form.get("csrf_token")):
        return csrf_failure(request, "/ui/password/forgot")
    email = form_text(form, "email").strip()
    try:
        await services.email_flows.request_password_reset(
            email, ip=client_ip(request), txn_id=txn_id or None
        )
    except InvalidInput:
        return page(email, "Enter the email address of your account.", 400)
    except EmailRateLimited as err:
        response = page(email, str(err), 429)
        response.headers["retry-after"] = str(err.retry_after)
        return response
    return render(
        request,
        "message.html",
        {
            "title": "Check your email",
            "message": f"If an account exists for {email}, we sent it a link to choose a new "
            "password. The link works once and expires in 30 minutes.",
            "action_url": back,
            "action_label": "Back to sign in" if back else None,
        },
    )


async def reset_password_page(request: Request) -> Response:
    services = services_of(request)
    form = await request.form() if request.method == "POST" else None
    token = form_text(form, "token") if form is not None else request.query_params.get("token", "")
    try:
        challenge = await services.email_flows.check_reset_link(token)
    except ChallengeFailed as err:
        return _challenge_page(request, err, back="/ui/password/forgot")

    def page(error: str | None = None, status: int = 200) -> Response:
        return render(
            request,
            "reset.html",
            {
                "form_action": "/ui/password/reset",
                "token": token,
                "csrf_token": csrf_token(request),
                "email": challenge.email,
                "error": error,
                "password_min_length": services.settings.password_min_length,
            },
            status_code=status,
        )

    if form is None:
        return page()
    if not csrf_ok(request, form.get("csrf_token")):
        return csrf_failure(request, f"/ui/password/reset?{urlencode({'token': token})}")
    try:
        _, challenge = await services.email_flows.reset_password(token, form_text(form, "password"))
    except InvalidInput as err:
        return page(str(err), 400)
    except ChallengeFailed as err:
        return _challenge_page(request, err, back="/ui/password/forgot")
    return await _back_to_app(request, challenge.txn_id, "password_changed")


async def _back_to_app(request: Request, txn_id: str | None, notice: str) -> Response:
    """After a reset or a verification: back to the login page of the app that started it, or
    to the app's initiate-login URI, or a page that says what happened."""
    pending = await load_pending(request, txn_id)
    if isinstance(pending, PendingLogin):
        query = urlencode({"txn": pending.txn.id, "notice": notice})
        return RedirectResponse(f"/ui/login?{query}", status_code=303)
    if pending.initiate_login_uri:
        return RedirectResponse(pending.initiate_login_uri, status_code=303)
    services = services_of(request)
    signed_in_now = await services.sessions.from_cookie(session_cookie(request))
    message = NOTICES[notice].replace("Sign in", "Go back to your app and sign in")
    if signed_in_now is not None:
        message = message.split(".")[0] + ". Go back to your app to continue."
    return render(
        request,
        "message.html",
        {
            "title": "All set",
            "message": message,
            "action_url": None,
            "action_label": None,
        },
    )


# -- email verification --------------------------------------------------------------------------


async def verify_email(request: Request) -> Response:
    services = services_of(request)
    try:
        _, challenge = await services.email_flows.verify_email(
            request.query_params.get("token", "")
        )
    except ChallengeFailed as err:
        return _challenge_page(request, err, back=None)
    return await _back_to_app(request, challenge.txn_id, "email_verified")
