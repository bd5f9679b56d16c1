"""Comparing secrets: every MAC, digest, state, CSRF token or code that a request presents is
compared with the expected one here, as bytes and in constant time."""

from __future__ import annotations

import hmac

__all__ = ["secrets_equal"]


def _as_bytes(value: str | bytes) -> bytes:
    # surrogatepass: a str holding a lone surrogate encodes too, so no text can raise.
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def secrets_equal(presented: str | bytes, expected: str | bytes) -> bool:
    """Whether ``presented`` equals ``expected``, in time that does not depend on where they
    differ. Never raises: ``hmac.compare_digest`` refuses ``str`` with non-ASCII characters,
    which an attacker chooses, so both sides are compared as UTF-8 bytes."""
    return hmac.compare_digest(_as_bytes(presented), _as_bytes(expected))
