"""Users of an environment."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

__all__ = ["ADMIN_ROLE", "User", "normalize_email"]

# The environment role that lets a user into the dashboard (`ostiary admins grant EMAIL`).
ADMIN_ROLE = "ostiary_admin"


def normalize_email(email: str) -> str:
    """The form used for uniqueness and lookups: trimmed and lower-cased."""
    return email.strip().lower()


@dataclasses.dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str
    email_verified: bool
    name: str | None
    given_name: str | None
    family_name: str | None
    picture: str | None
    locale: str | None
    metadata: dict[str, Any]
    external_id: str | None
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None
    roles: tuple[str, ...] = ()
