"""``GET /oauth/authorize``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ostiary.services.authorize import (
    ErrorPage,
    Outcome,
    Redirect,
    ShowConsent,
    ShowLogin,
    ShowOrganizations,
)
from ostiary.web.context import services_of
from ostiary.web.cookies import session_cookie
from ostiary.web.pages import oauth_error_page

__all__ = ["authorize", "outcome_response"]


async def authorize(request: Request) -> Response:
    services = services_of(request)
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    session = await services.sessions.from_cookie(session_cookie(request))
    ip = request.client.host if request.client else None
    outcome = await services.authorize.authorize(params, session, ip=ip)
    return outcome_response(request, outcome)


def outcome_response(request: Request, outcome: Outcome) -> Response:
    """Turn a use-case outcome into HTTP: a 303 to the app or to a hosted page, or a page."""
    if isinstance(outcome, Redirect):
        return RedirectResponse(outcome.url, status_code=303, headers={"cache-control": "no-store"})
    if isinstance(outcome, ShowLogin):
        page = "/ui/signup" if outcome.signup else "/ui/login"
        return RedirectResponse(f"{page}?txn={outcome.txn_id}", status_code=303)
    if isinstance(outcome, ShowConsent):
        return RedirectResponse(f"/ui/consent?txn={outcome.txn_id}", status_code=303)
    if isinstance(outcome, ShowOrganizations):
        return RedirectResponse(f"/ui/organization?txn={outcome.txn_id}", status_code=303)
    assert isinstance(outcome, ErrorPage)
    return oauth_error_page(request, outcome.error)
