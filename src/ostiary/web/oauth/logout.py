"""``GET|POST /oidc/logout``: RP-initiated logout, with a confirmation form when needed."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ostiary.services.logout import LogoutError, LogoutPlan
from ostiary.web.context import services_of
from ostiary.web.cookies import delete_cookie, names_of, session_cookie
from ostiary.web.pages import csrf_ok, csrf_token, error_page, render

__all__ = ["logout", "signed_out"]

PARAMS = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales")


async def logout(request: Request) -> Response:
    services = services_of(request)
    if request.method == "POST":
        form = await request.form()
        raw = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    else:
        raw = dict(request.query_params)
    params = {k: raw[k] for k in PARAMS if raw.get(k)}
    session = await services.sessions.from_cookie(session_cookie(request))
    confirming = request.method == "POST" and "confirm" in raw
    if confirming and not csrf_ok(request, raw.get("csrf_token")):
        return error_page(
            request,
            "Please try again",
            "The sign-out form was open too long or came from another site, so nothing "
            "happened. You are still signed in.",
            status_code=403,
            detail="CSRF token missing or wrong",
        )
    try:
        plan = await services.logout.plan(params, session)
    except LogoutError as err:
        return error_page(
            request,
            "This sign-out link is not valid",
            f"{err} You have not been signed out. Go back to the app and try again.",
            status_code=400,
            detail="error=invalid_request",
        )
    if confirming:
        if raw.get("confirm") != "yes":
            return render(
                request,
                "message.html",
                {
                    "title": "You are still signed in",
                    "message": "Nothing changed: you are still signed in to your apps.",
                    "action_url": None,
                    "action_label": None,
                },
            )
    elif plan.needs_confirmation:
        return await _confirmation(request, plan, session_user=session.user_id if session else None)
    ip = request.client.host if request.client else None
    await services.logout.log_out(session, app=plan.app, ip=ip)
    return signed_out(request, plan.redirect_to)


async def _confirmation(request: Request, plan: LogoutPlan, session_user: str | None) -> Response:
    services = services_of(request)
    user = await services.users.get(session_user) if session_user else None
    return render(
        request,
        "logout_confirm.html",
        {
            "form_action": "/oidc/logout",
            "csrf_token": csrf_token(request),
            "hidden": plan.params,
            "app_name": plan.app.name if plan.app else None,
            "user_email": user.email if user else None,
        },
        redirects_to=plan.redirect_to,
    )


def signed_out(request: Request, redirect_to: str | None) -> Response:
    """Clear the session cookie, then go to the app's post-logout URI or show a page."""
    response: Response
    if redirect_to:
        response = RedirectResponse(redirect_to, status_code=303)
    else:
        response = render(
            request,
            "message.html",
            {
                "title": "You are signed out",
                "message": "You have been signed out of every app that shares this sign-in. "
                "You can close this window.",
                "action_url": None,
                "action_label": None,
            },
        )
    delete_cookie(request, response, names_of(request).session)
    return response
