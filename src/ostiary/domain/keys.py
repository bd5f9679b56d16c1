"""Signing keys and the rules for which of them sign and which are published.

A key's life follows from two moments stored with it, ``created_at`` (when its rotation was
made) and ``activates_at`` (when it may start signing), so every node reads the same answer
from the key table and nothing is decided in one process's memory::

    rotate(delay) ─► next ──activates_at comes──► active ──the next rotation's key──► retired
                      │                                       activates              │
                      │ another rotation is made                                     │ retention
                      │ before activates_at comes                                    │ ends
                      ▼                                                              ▼
                  superseded ─────── retention after the superseding rotation ───► expired

**The newest rotation wins** (``superseded_keys``): a rotation made while the previous key is
still ``next`` supersedes that key, which then never signs. Signing therefore only ever moves
on to the key of a later rotation, never back to an older one: ``rotate --delay 600`` followed
by an emergency ``rotate --delay 0`` leaves the emergency key signing when the 600 s are up.
A key that has started signing is never superseded: the next rotation retires it once its own
key activates, and it stays published until every token it signed has expired.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

__all__ = [
    "SigningKey",
    "current_signing_key",
    "in_rotation_order",
    "key_status",
    "key_statuses",
    "next_change",
    "pending_keys",
    "published_keys",
    "superseded_keys",
]


@dataclasses.dataclass(frozen=True, slots=True)
class SigningKey:
    id: str  # key_…, also the JWK ``kid``
    algorithm: str  # RS256 | ES256
    public_jwk: dict[str, Any]
    encrypted_private_key: bytes
    created_at: datetime  # when its rotation was made
    activates_at: datetime  # from this moment on it signs new tokens, unless superseded

    @property
    def kid(self) -> str:
        return self.id


def _rotation_order(key: SigningKey) -> tuple[datetime, str]:
    """Rotations in the order they were made: by creation time, then by the time-sortable id
    (keys made in the same instant)."""
    return (key.created_at, key.id)


def in_rotation_order(keys: Sequence[SigningKey]) -> list[SigningKey]:
    """The keys oldest rotation first."""
    return sorted(keys, key=_rotation_order)


def superseded_keys(keys: Sequence[SigningKey]) -> dict[str, SigningKey]:
    """The newest rotation wins: each key whose next rotation was made before its activation
    time came, mapped (by kid) to that next rotation's key. A superseded key never signs."""
    ordered = in_rotation_order(keys)
    return {
        key.id: after
        for key, after in itertools.pairwise(ordered)
        if after.created_at < key.activates_at
    }


def _signers(keys: Sequence[SigningKey]) -> list[SigningKey]:
    """The keys that sign at some time, in rotation order. Each one's activation time is at
    or after the previous one's (the next rotation came after it activated), so each signs
    from its activation until the next one's."""
    superseded = superseded_keys(keys)
    return [key for key in in_rotation_order(keys) if key.id not in superseded]


def current_signing_key(keys: Sequence[SigningKey], now: datetime) -> SigningKey | None:
    """The key of the latest rotation whose activation time has come, superseded keys aside."""
    active = [key for key in _signers(keys) if key.activates_at <= now]
    return active[-1] if active else None


def pending_keys(keys: Sequence[SigningKey], now: datetime) -> list[SigningKey]:
    """The keys waiting to sign (``next``): exactly those a rotation made at ``now`` would
    supersede."""
    return [key for key in _signers(keys) if key.activates_at > now]


def _ends(keys: Sequence[SigningKey], now: datetime) -> dict[str, datetime | None]:
    """kid -> the moment from which no new token carries the key's signature: a superseded
    key's supersession, a signer's retirement by the next signer (once that has come), None
    while it signs or waits to."""
    ends: dict[str, datetime | None] = {
        kid: after.created_at for kid, after in superseded_keys(keys).items()
    }
    signers = _signers(keys)
    for key, after in zip(signers, [*signers[1:], None], strict=True):
        retired = after is not None and after.activates_at <= now
        ends[key.id] = after.activates_at if after is not None and retired else None
    return ends


def key_statuses(keys: Sequence[SigningKey], now: datetime, retention: timedelta) -> dict[str, str]:
    """kid -> ``next`` (published, not yet signing), ``active``, ``retired`` (published so
    tokens it signed still verify), ``superseded`` (a later rotation came before it signed:
    it never signs; published for the retention after that rotation, in case a node that had
    not read the table again yet signed with it) or ``expired`` (no live token can carry its
    signature)."""
    superseded = superseded_keys(keys)
    ends = _ends(keys, now)
    statuses: dict[str, str] = {}
    for key in keys:
        end = ends[key.id]
        if end is not None and end + retention <= now:
            statuses[key.id] = "expired"
        elif key.id in superseded:
            statuses[key.id] = "superseded"
        elif key.activates_at > now:
            statuses[key.id] = "next"
        else:
            statuses[key.id] = "active" if end is None else "retired"
    return statuses


def key_status(
    key: SigningKey, keys: Sequence[SigningKey], now: datetime, retention: timedelta
) -> str:
    """The status of one key among ``keys`` (see ``key_statuses``)."""
    return key_statuses(keys, now, retention)[key.id]


def published_keys(
    keys: Sequence[SigningKey], now: datetime, retention: timedelta
) -> list[SigningKey]:
    """Every key that may still verify a live token, plus keys about to become active."""
    statuses = key_statuses(keys, now, retention)
    return [key for key in keys if statuses[key.id] != "expired"]


def next_change(keys: Sequence[SigningKey], now: datetime, retention: timedelta) -> datetime:
    """The first moment after ``now`` at which the signing key or a key's status can change: a
    signer's activation, or the end of a retired or superseded key's retention. Until then,
    what ``current_signing_key`` and ``published_keys`` answer for ``now`` stays true."""
    moments = [key.activates_at for key in _signers(keys) if key.activates_at > now]
    for end in _ends(keys, now).values():
        if end is not None and end + retention > now:
            moments.append(end + retention)
    return min(moments, default=datetime.max.replace(tzinfo=now.tzinfo))
