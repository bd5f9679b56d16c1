"""Logout tokens (OIDC Back-Channel Logout 1.0 §2.4) and the back-channel retry schedule."""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = ["BACKCHANNEL_EVENT", "LOGOUT_TOKEN_TTL", "RETRY_DELAYS", "logout_token_claims"]

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TTL = 120
# Seconds to wait before each retry of a failed delivery; after the last one it is given up.
RETRY_DELAYS = (5, 30, 120, 300, 900)


def logout_token_claims(
    *, issuer: str, client_id: str, subject: str, session_id: str, jti: str, now: datetime
) -> dict[str, Any]:
    """Claims of a logout token. Never a ``nonce`` (§2.4: it must not be one)."""
    iat = int(now.timestamp())
    return {
        "iss": issuer,
        "aud": client_id,
        "iat": iat,
        "exp": iat + LOGOUT_TOKEN_TTL,
        "jti": jti,
        "sub": subject,
        "sid": session_id,
        "events": {BACKCHANNEL_EVENT: {}},
    }
