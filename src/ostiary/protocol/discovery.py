"""The OpenID Provider / OAuth 2.0 Authorization Server metadata document (OIDC Discovery 1.0,
RFC 8414). Built from what the server actually serves: an endpoint appears only once it exists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["build_discovery_document"]

SCOPES = ("openid", "profile", "email", "offline_access")


def build_discovery_document(
    issuer: str,
    *,
    signing_algorithms: tuple[str, ...],
    endpoints: Mapping[str, str],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``endpoints`` maps metadata names (``authorization_endpoint``…) to paths on the issuer."""
    document: dict[str, Any] = {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/keys",
    }
    for name, path in endpoints.items():
        document[name] = f"{issuer}{path}"
    document.update(
        {
            "scopes_supported": list(SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": list(signing_algorithms),
        }
    )
    if extra:
        document.update(extra)
    return document
