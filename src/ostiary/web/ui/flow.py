"""What the hosted pages share: the login transaction behind a page, what to do when it is gone,
CSRF failures, and finishing a sign-in (session cookie, then back to the authorization)."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ostiary.domain.sessions import Session, SessionStatus
from ostiary.domain.users import User
from ostiary.services.authorize import PendingLogin, TransactionGone
from ostiary.services.events import AuthEvent
from ostiary.services.login import DEVICE_LIFETIME
from ostiary.web.context import services_of
from ostiary.web.cookies import names_of, session_cookie, set_cookie
from ostiary.web.oauth.authorize import outcome_response
from ostiary.web.pages import error_page, render

__all__ = [
    "client_ip",
    "csrf_failure",
    "form_text",
    "load_pending",
    "restart_elsewhere",
    "signed_in",
]

MAX_FIELD = 1024


async def load_pending(request: Request, txn_id: str | None) -> PendingLogin | TransactionGone:
    services = services_of(request)
    pending = await services.authorize.pending(txn_id)
    if isinstance(pending, TransactionGone) and pending.app is None:
        return await services.authorize.gone_for_client(request.query_params.get("client_id"))
    return pending


async def restart_elsewhere(request: Request, gone: TransactionGone) -> Response:
    """An expired or bookmarked login page: restart at the app, or explain what to do."""
    if gone.initiate_login_uri:
        return RedirectResponse(gone.initiate_login_uri, status_code=303)
    services = services_of(request)
    session = await services.sessions.from_cookie(session_cookie(request))
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


def csrf_failure(request: Request, back: str) -> Response:
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


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value[:MAX_FIELD] if isinstance(value, str) else ""


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def signed_in(
    request: Request,
    pending: PendingLogin | None,
    user: User,
    session: Session | None,
    *,
    amr: tuple[str, ...],
    gone: TransactionGone | None = None,
) -> Response:
    """Start (or refresh) the shared session, then continue the authorization request — or,
    when its login page has expired (``gone``), send the browser back to the app."""
    services = services_of(request)
    cookie: str | None = None
    if session is not None and session.user_id == user.id:
        session = await services.sessions.reauthenticate(session, amr)
    else:
        if session is not None:  # another user signs in on this browser
            await services.sessions.end(
                session,
                SessionStatus.LOGGED_OUT,
                client_id=pending.app.client_id if pending else None,
                ip=client_ip(request),
            )
        session, cookie = await services.sessions.create(
            user.id,
            amr=amr,
            user_agent=request.headers.get("user-agent"),
            ip=client_ip(request),
        )
    await services.users.record_login(user.id)
    await services.events.record(
        AuthEvent.LOGIN_SUCCEEDED,
        user_id=user.id,
        email=user.email,
        client_id=pending.app.client_id if pending else None,
        session_id=session.id,
        ip=client_ip(request),
    )
    if pending is not None:
        response = outcome_response(request, await services.authorize.resume(pending, session))
    elif gone is not None and gone.initiate_login_uri:
        response = RedirectResponse(gone.initiate_login_uri, status_code=303)
    else:
        response = render(
            request,
            "message.html",
            {
                "title": "You are signed in",
                "message": f"You are signed in as {user.email}. Go back to your app to continue.",
                "action_url": None,
                "action_label": None,
            },
        )
    if cookie is not None:
        set_cookie(
            request,
            response,
            names_of(request).session,
            cookie,
            max_age=services.settings.session_absolute_timeout,
        )
    remember_device(request, response, user)
    return response


def remember_device(request: Request, response: Response, user: User) -> None:
    """This browser signed in to ``user``'s account: it passes the account-wide sign-in
    throttle from now on (``ostiary.services.login.KnownDevices``)."""
    services = services_of(request)
    name = names_of(request).device
    set_cookie(
        request,
        response,
        name,
        services.login.devices.remember(request.cookies.get(name), user.id),
        max_age=int(DEVICE_LIFETIME.total_seconds()),
    )
