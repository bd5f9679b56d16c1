"""The administrator dashboard (``/admin``), signed in through the Ostiary Console app.

Each module owns one part of the navigation; ``kit`` holds what they share and ``auth`` the
sign-in. Every page is server-rendered, every form carries a CSRF token, and every destructive
action asks for confirmation on a page of its own (GET shows it, POST does it).
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from ostiary.web.admin import apps, keys, log, organizations, outbox, roles, sessions, users
from ostiary.web.admin.auth import callback

__all__ = ["admin_routes"]

GET, POST, BOTH = ["GET"], ["POST"], ["GET", "POST"]


def admin_routes() -> list[BaseRoute]:
    return [
        Route("/admin", apps.home, methods=GET),
        Route("/admin/callback", callback, methods=GET),
        # applications
        Route("/admin/apps", apps.apps_list, methods=GET),
        Route("/admin/apps/new", apps.apps_new, methods=BOTH),
        Route("/admin/apps/{app_id}", apps.app_settings, methods=BOTH),
        Route("/admin/apps/{app_id}/redirects", apps.app_redirects, methods=BOTH),
        Route("/admin/apps/{app_id}/secrets", apps.secret_create, methods=POST),
        Route("/admin/apps/{app_id}/secrets/{secret_id}/revoke", apps.secret_revoke, methods=BOTH),
        Route("/admin/apps/{app_id}/delete", apps.app_delete, methods=BOTH),
        # users
        Route("/admin/users", users.users_list, methods=GET),
        Route("/admin/users/new", users.users_new, methods=BOTH),
        Route("/admin/users/{user_id}", users.user_detail, methods=GET),
        Route("/admin/users/{user_id}/delete", users.user_delete, methods=BOTH),
        # organizations
        Route("/admin/organizations", organizations.orgs_list, methods=GET),
        Route("/admin/organizations/new", organizations.orgs_new, methods=BOTH),
        Route("/admin/organizations/{org_id}", organizations.org_detail, methods=BOTH),
        Route("/admin/organizations/{org_id}/members", organizations.member_add, methods=POST),
        Route(
            "/admin/organizations/{org_id}/members/{user_id}",
            organizations.member_edit,
            methods=BOTH,
        ),
        Route(
            "/admin/organizations/{org_id}/members/{user_id}/remove",
            organizations.member_remove,
            methods=BOTH,
        ),
        Route("/admin/organizations/{org_id}/delete", organizations.org_delete, methods=BOTH),
        Route("/admin/organizations/{org_id}/domains", organizations.domain_add, methods=POST),
        Route(
            "/admin/organizations/{org_id}/domains/{domain_id}/verify",
            organizations.domain_verify,
            methods=POST,
        ),
        Route(
            "/admin/organizations/{org_id}/domains/{domain_id}/remove",
            organizations.domain_remove,
            methods=POST,
        ),
        # roles
        Route("/admin/roles", roles.roles_list, methods=GET),
        Route("/admin/roles/new", roles.roles_new, methods=BOTH),
        Route("/admin/roles/{role_id}", roles.role_edit, methods=BOTH),
        Route("/admin/roles/{role_id}/delete", roles.role_delete, methods=BOTH),
        # sessions, keys, activity
        Route("/admin/sessions", sessions.sessions_list, methods=GET),
        Route("/admin/sessions/{session_id}/revoke", sessions.session_revoke, methods=BOTH),
        Route("/admin/keys", keys.keys_list, methods=GET),
        Route("/admin/keys/rotate", keys.keys_rotate, methods=POST),
        Route("/admin/log", log.log_list, methods=GET),
        Route("/admin/outbox", outbox.outbox, methods=GET),
    ]
