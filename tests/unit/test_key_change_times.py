"""``next_change``: the moment until which the signing key and the published keys stay as they
are. Ostiary works both out once and keeps them until that moment (services/keys.py), so a
moment too late would publish an expired key or sign with a retired one, and one too early
only costs a recomputation."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from ostiary.domain.keys import SigningKey, current_signing_key, key_status, next_change

T0 = datetime(2026, 1, 1, tzinfo=UTC)
RETENTION = timedelta(hours=2)


def key(i: int, activates: timedelta) -> SigningKey:
    return SigningKey(
        id=f"key_{i:02d}",
        algorithm="RS256",
        public_jwk={"kid": f"key_{i:02d}"},
        encrypted_private_key=b"",
        created_at=T0 + activates - timedelta(minutes=10),
        activates_at=T0 + activates,
    )


def state(keys: list[SigningKey], now: datetime) -> tuple[object, ...]:
    signing = current_signing_key(keys, now)
    return (signing and signing.id, *(key_status(k, keys, now, RETENTION) for k in keys))


def test_one_active_key_never_changes() -> None:
    keys = [key(1, timedelta(0))]
    assert next_change(keys, T0 + timedelta(days=400), RETENTION).year == 9999


def test_a_rotation_changes_at_the_activation_then_at_the_end_of_retention() -> None:
    keys = [key(1, timedelta(0)), key(2, timedelta(minutes=10))]
    now = T0 + timedelta(minutes=1)
    assert next_change(keys, now, RETENTION) == T0 + timedelta(minutes=10)
    now = T0 + timedelta(minutes=10)
    assert next_change(keys, now, RETENTION) == T0 + timedelta(minutes=10) + RETENTION


def test_nothing_changes_before_the_moment_and_something_changes_at_it() -> None:
    rng = random.Random(20261123)
    for _ in range(300):
        keys = [key(i, timedelta(minutes=rng.randrange(0, 600))) for i in range(rng.randint(1, 5))]
        now = T0 + timedelta(minutes=rng.randrange(-60, 900), seconds=rng.random())
        moment = next_change(keys, now, RETENTION)
        before = state(keys, now)
        if moment.year == 9999:
            assert state(keys, now + timedelta(days=3650)) == before
            continue
        assert moment > now
        for fraction in (0.25, 0.5, 0.999):
            assert state(keys, now + (moment - now) * fraction) == before
        assert state(keys, moment - timedelta(microseconds=1)) == before
        assert state(keys, moment) != before
