"""Every form of the dashboard is protected against cross-site request forgery."""

from __future__ import annotations

from admin_helpers import AdminBrowser

from ostiary.web.admin import admin_routes


async def test_every_dashboard_post_needs_the_csrf_token(admin: AdminBrowser) -> None:
    """Each POST route refuses a request without the form's CSRF token (and one with a wrong
    token) with a 403 page, and changes nothing."""
    services = admin.services
    app, secret = await services.apps.create("Target", "web")
    assert secret is not None
    user = await admin.user("victim@example.com")
    org = await services.organizations.create("Acme")
    await services.organizations.add_member(org.id, user.id, roles=["member"])
    role = await services.roles.create("auditor", permissions=["logs:read"])
    session, _ = await services.sessions.create(user.id, amr=("pwd",), user_agent=None, ip=None)
    params = {
        "app_id": app.id,
        "secret_id": secret.secret.id,
        "user_id": user.id,
        "org_id": org.id,
        "role_id": role.id,
        "session_id": session.id,
    }
    keys_before = len(await services.keys.all())
    posts = [
        route.path.format(**params)
        for route in admin_routes()
        if "POST" in (getattr(route, "methods", None) or ())
    ]
    assert 15 <= len(posts)

    for path in posts:
        for form in ({"name": "Changed"}, {"name": "Changed", "csrf_token": "x" * 43}):
            response = await admin.client.post(path, data=form)
            assert 403 == response.status_code, (path, response.status_code)
            assert "Please try again" in response.text, path

    assert "Target" == (await services.apps.get(app.id)).name
    assert [secret.secret.id] == [
        s.id for s in await services.apps.list_secrets(app.id) if s.active
    ]
    assert "victim@example.com" == (await services.users.get(user.id)).email
    assert ("member",) == (await services.organizations.membership(org.id, user.id)).roles
    assert ("logs:read",) == (await services.roles.get(role.id)).permissions
    assert (await services.sessions.get(session.id)).is_live(services.clock.now())
    assert keys_before == len(await services.keys.all())
    assert 2 == len(await services.apps.all())
