"""Signing keys and the rules for which of them sign and which are published."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

__all__ = [
    "SigningKey",
    "current_signing_key",
    "key_status",
    "next_change",
    "published_keys",
]


@dataclasses.dataclass(frozen=True, slots=True)
class SigningKey:
    id: str  # key_…, also the JWK ``kid``
    algorithm: str  # RS256 | ES256
    public_jwk: dict[str, Any]
    encrypted_private_key: bytes
    created_at: datetime
    activates_at: datetime  # from this moment on it signs new tokens

    @property
    def kid(self) -> str:
        return self.id


def current_signing_key(keys: Sequence[SigningKey], now: datetime) -> SigningKey | None:
    """The newest key whose activation time has come."""
    active = [key for key in keys if key.activates_at <= now]
    return max(active, key=_order, default=None)


def _order(key: SigningKey) -> tuple[datetime, datetime, str]:
    """Newer activation wins; ties break on creation, then on the time-sortable id."""
    return (key.activates_at, key.created_at, key.id)


def _retired_at(key: SigningKey, keys: Sequence[SigningKey], now: datetime) -> datetime | None:
    """When a newer key took over signing from ``key`` (None while it still signs or waits)."""
    later = [
        other.activates_at
        for other in keys
        if other.activates_at <= now and _order(other) > _order(key)
    ]
    return min(later, default=None)


def key_status(
    key: SigningKey, keys: Sequence[SigningKey], now: datetime, retention: timedelta
) -> str:
    """``next`` (published, not yet signing), ``active``, ``retired`` (published so tokens it
    signed still verify) or ``expired`` (no live token can carry its signature)."""
    if key.activates_at > now:
        return "next"
    retired = _retired_at(key, keys, now)
    if retired is None:
        return "active"
    return "retired" if retired + retention > now else "expired"


def published_keys(
    keys: Sequence[SigningKey], now: datetime, retention: timedelta
) -> list[SigningKey]:
    """Every key that may still verify a live token, plus keys about to become active."""
    return [key for key in keys if key_status(key, keys, now, retention) != "expired"]


def next_change(keys: Sequence[SigningKey], now: datetime, retention: timedelta) -> datetime:
    """The first moment after ``now`` at which the signing key or a key's status can change: a
    key's activation, or the end of a retired key's retention. Until then, what
    ``current_signing_key`` and ``published_keys`` answer for ``now`` stays true."""
    moments = [key.activates_at for key in keys if key.activates_at > now]
    for key in keys:
        retired = _retired_at(key, keys, now)
        if retired is not None and retired + retention > now:
            moments.append(retired + retention)
    return min(moments, default=datetime.max.replace(tzinfo=now.tzinfo))
