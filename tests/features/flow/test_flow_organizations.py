"""Organizations in the flow: the picker, prompt=select_account, organization_id, and the
oid/roles/permissions claims of access tokens."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

from flow_helpers import FlowHelper, RegisteredApp, query_of

from ostiary.domain.users import User
from ostiary.services.container import Services


async def _two_organizations(services: Services, user: User) -> tuple[str, str]:
    """Acme (role admin, which extends viewer) and Beta (role member) for the user."""
    await services.roles.create("viewer", permissions=["invoices:read"])
    await services.roles.update("admin", permissions=["invoices:write"], extends="viewer")
    acme = await services.organizations.create("Acme Corp")
    beta = await services.organizations.create("Beta Inc")
    await services.organizations.add_member(acme.id, user.id, roles=["admin"])
    await services.organizations.add_member(beta.id, user.id, roles=["member"])
    return acme.id, beta.id


async def _pick(flow: FlowHelper, response_location: str, org_id: str) -> str:
    """On the organization page, choose ``org_id``; returns the redirect back to the app."""
    assert response_location.startswith("/ui/organization?txn=")
    form = await flow.open_form(response_location)
    chosen = await flow.client.post(
        "/ui/organization",
        data={"txn": form.txn, "csrf_token": form.csrf_token, "organization_id": org_id},
    )
    assert 303 == chosen.status_code, chosen.text
    return chosen.headers["location"]


async def _access_claims(flow: FlowHelper, app: RegisteredApp, location: str) -> dict[str, object]:
    code = query_of(location)["code"]
    response = await flow.client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": location.split("?", 1)[0],
        },
        auth=(app.client_id, app.secret or ""),
    )
    assert 200 == response.status_code, response.text
    _, claims = await flow.verify(response.json()["access_token"])
    return claims


async def test_organization_claims_follow_the_organization_the_user_picks(
    flow: FlowHelper, services: Services
) -> None:
    """A member of two organizations picks one after signing in; the access token carries its
    oid, roles and effective permissions, and they change when the user picks the other."""
    web = await flow.web(enforce_pkce=False)
    user = await flow.user()
    acme, beta = await _two_organizations(services, user)

    attempt = await flow.start(web, pkce=False)
    form = await flow.open_form(attempt.response)
    signed_in = await flow.submit_login(form)
    claims = await _access_claims(flow, web, await _pick(flow, signed_in.headers["location"], acme))
    expected = (acme, ["admin"], ["invoices:read", "invoices:write"])
    assert expected == (claims["oid"], claims["roles"], claims["permissions"])

    again = await flow.start(web, pkce=False)  # the choice is remembered by the session
    claims = await _access_claims(flow, web, again.response.headers["location"])
    assert acme == claims["oid"]

    switch = await flow.start(web, pkce=False, extra={"prompt": "select_account"})
    location = await _pick(flow, switch.response.headers["location"], beta)
    claims = await _access_claims(flow, web, location)
    assert (beta, ["member"], []) == (claims["oid"], claims["roles"], claims["permissions"])


async def test_organization_id_preselects_and_non_members_are_refused(
    flow: FlowHelper, services: Services
) -> None:
    """organization_id picks the organization without the page; one the user does not belong
    to comes back as access_denied with state and iss."""
    web = await flow.web(enforce_pkce=False)
    user = await flow.user()
    _, beta = await _two_organizations(services, user)
    first = await flow.start(web, pkce=False, extra={"organization_id": beta})
    form = await flow.open_form(first.response)
    signed_in = await flow.submit_login(form)
    claims = await _access_claims(flow, web, signed_in.headers["location"])
    assert beta == claims["oid"]

    other = await services.organizations.create("Gamma LLC")
    refused = await flow.start(web, pkce=False, state="s1", extra={"organization_id": other.id})
    params = query_of(refused.response.headers["location"])
    expected = ("access_denied", "s1", services.settings.issuer)
    assert expected == (params["error"], params["state"], params["iss"])


async def test_prompt_none_with_an_undecided_organization_needs_interaction(
    flow: FlowHelper, services: Services
) -> None:
    """prompt=none cannot show the organization page: interaction_required comes back."""
    web = await flow.web(enforce_pkce=False)
    user = await flow.user()
    await _two_organizations(services, user)
    attempt = await flow.start(web, pkce=False)
    await flow.submit_login(await flow.open_form(attempt.response))  # stops at the picker
    silent = await flow.start(web, pkce=False, extra={"prompt": "none"})
    assert "interaction_required" == query_of(silent.response.headers["location"])["error"]
