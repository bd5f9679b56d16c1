"""Scopes and the claims each one releases (OIDC Core §5.4)."""

from __future__ import annotations

__all__ = [
    "CLAIMS_BY_SCOPE",
    "KNOWN_SCOPES",
    "MANAGEMENT_SCOPES",
    "SCOPE_DESCRIPTIONS",
    "parse_scope",
]

CLAIMS_BY_SCOPE: dict[str, tuple[str, ...]] = {
    "profile": ("name", "given_name", "family_name", "picture", "locale", "updated_at"),
    "email": ("email", "email_verified"),
}
KNOWN_SCOPES = ("openid", "profile", "email", "offline_access")
# What a web app with management API access may ask for with client_credentials.
MANAGEMENT_SCOPES = ("management:read", "management:write")
SCOPE_DESCRIPTIONS = {
    "openid": "Confirm who you are",
    "profile": "Your name and profile picture",
    "email": "Your email address",
    "offline_access": "Stay signed in while you are away",
}


def parse_scope(raw: str) -> tuple[str, ...]:
    """Space-separated scopes, deduplicated, in the order given."""
    seen: dict[str, None] = {}
    for item in raw.split(" "):
        if item:
            seen.setdefault(item, None)
    return tuple(seen)
