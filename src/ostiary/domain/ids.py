"""Prefixed identifiers (``usr_…``, ``app_…``) and random client IDs and secrets.

Record IDs are ULID-shaped: 48 bits of milliseconds then 80 random bits, in Crockford base32,
so they sort by creation time (handy for cursor pagination). Within one process they are also
strictly increasing — ULID's monotonic mode: an id made in the same millisecond as the one
before gets that one's random part plus one — so "newest first" holds for records made in a
burst. The encoding is a few lines of stdlib code, not worth a dependency.
"""

from __future__ import annotations

import secrets
import threading
import time

__all__ = ["new_client_id", "new_id", "new_token"]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


_last_value = 0
_lock = threading.Lock()


def new_id(prefix: str, *, now_ms: int | None = None) -> str:
    """A time-sortable identifier such as ``usr_01JD3W5Y0M8Q4T7N2B6X9C1F5H``."""
    global _last_value
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms << 80) | secrets.randbits(80)
    if now_ms is None:
        with _lock:
            if value >> 80 <= _last_value >> 80:  # same millisecond (or the clock stepped back)
                value = _last_value + 1
            _last_value = value
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"


def new_client_id(app_type: str) -> str:
    """A long random client ID whose prefix tells the app type: ``web_…``, ``spa_…``, ``ntv_…``."""
    prefix = {"web": "web", "spa": "spa", "native": "ntv"}[app_type]
    return f"{prefix}_{secrets.token_hex(16)}"


def new_token(prefix: str = "", nbytes: int = 32) -> str:
    """A URL-safe random secret of ``nbytes`` bytes (256 bits by default)."""
    body = secrets.token_urlsafe(nbytes)
    return f"{prefix}{body}"
