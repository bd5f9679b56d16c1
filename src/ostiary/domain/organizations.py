"""Organizations (customer tenants), memberships, roles and permissions."""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

__all__ = [
    "DEFAULT_ROLES",
    "MAX_METADATA_PAIRS",
    "MAX_PERMISSIONS_PER_ROLE",
    "PERMISSION_RE",
    "Membership",
    "MembershipStatus",
    "Organization",
    "Permission",
    "Role",
    "effective_permissions",
]

MAX_METADATA_PAIRS = 10
MAX_PERMISSIONS_PER_ROLE = 100
PERMISSION_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}:[a-z0-9][a-z0-9_.*-]{0,63}$")
DEFAULT_ROLES = ("admin", "member")


class MembershipStatus(enum.StrEnum):
    ACTIVE = "active"
    PENDING_INVITE = "pending_invite"
    SUSPENDED = "suspended"


@dataclasses.dataclass(frozen=True, slots=True)
class Organization:
    id: str
    display_name: str
    slug: str
    external_id: str | None
    metadata: dict[str, str]
    session_idle_timeout: int | None
    session_absolute_timeout: int | None
    created_at: datetime
    updated_at: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class Membership:
    user_id: str
    organization_id: str
    status: MembershipStatus
    roles: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class Role:
    id: str
    name: str
    display_name: str
    description: str | None
    permissions: tuple[str, ...]
    extends: str | None  # the name of a role whose permissions this one inherits
    created_at: datetime
    updated_at: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class Permission:
    name: str  # resource:action
    description: str | None
    created_at: datetime


def effective_permissions(role_names: Iterable[str], roles: Mapping[str, Role]) -> list[str]:
    """Every permission of the roles and of the roles they extend (cycles are ignored)."""
    found: dict[str, None] = {}
    for name in role_names:
        seen: set[str] = set()
        current: str | None = name
        while current is not None and current not in seen and current in roles:
            seen.add(current)
            role = roles[current]
            for permission in role.permissions:
                found.setdefault(permission, None)
            current = role.extends
    return sorted(found)


def metadata_problem(metadata: Mapping[str, Any]) -> str | None:
    if len(metadata) > MAX_METADATA_PAIRS:
        return f"At most {MAX_METADATA_PAIRS} metadata pairs."
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            return "Metadata keys and values must be strings."
        if not 1 <= len(key) <= 40 or len(value) > 500:
            return "Metadata keys are 1–40 characters, values at most 500."
    return None
