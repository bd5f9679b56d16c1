"""The rotation rule of domain/keys.py as plain function calls: the newest rotation wins. A key
still waiting to sign when the next rotation is made is superseded and never signs; signing
only ever moves on to a later rotation's key; a key that has signed is retired, not superseded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ostiary.domain.keys import (
    SigningKey,
    current_signing_key,
    key_statuses,
    next_change,
    pending_keys,
    published_keys,
    superseded_keys,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
RETENTION = timedelta(hours=2)


def rotation(n: int, made: int, delay: int) -> SigningKey:
    """Key ``key_0n`` of a rotation made ``made`` seconds after T0, signing ``delay`` s later."""
    return SigningKey(
        id=f"key_{n:02d}",
        algorithm="RS256",
        public_jwk={"kid": f"key_{n:02d}"},
        encrypted_private_key=b"",
        created_at=T0 + timedelta(seconds=made),
        activates_at=T0 + timedelta(seconds=made + delay),
    )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


FIRST = rotation(1, -86400, 0)  # the key made on first start, a day before


def signer(keys: list[SigningKey], seconds: float) -> str | None:
    key = current_signing_key(keys, at(seconds))
    return key and key.id


def test_the_issues_emergency_rotation_is_not_undone() -> None:
    """rotate --delay 600 then rotate --delay 0: the second key signs at once and still signs
    after 601 s; the first is superseded, never active."""
    keys = [FIRST, rotation(2, 0, 600), rotation(3, 5, 0)]
    assert ["key_03", "key_03", "key_03"] == [signer(keys, s) for s in (5, 600, 601)]
    assert {"key_01": "retired", "key_02": "superseded", "key_03": "active"} == key_statuses(
        keys, at(601), RETENTION
    )


def test_a_rotation_supersedes_the_key_still_waiting_to_sign() -> None:
    """The superseded key is mapped to the rotation that superseded it, whatever the delays."""
    for first_delay, second_delay in ((600, 0), (600, 300), (300, 600), (600, 600)):
        keys = [FIRST, rotation(2, 0, first_delay), rotation(3, 10, second_delay)]
        assert {"key_02": keys[2]} == superseded_keys(keys), (first_delay, second_delay)


def test_the_later_rotation_signs_and_the_earlier_never_does() -> None:
    """Two delayed rotations, in either order of delays: second by second, the signing key is
    the first start's key, then the later rotation's key; never the superseded one."""
    for first_delay, second_delay in ((600, 300), (300, 600)):
        keys = [FIRST, rotation(2, 0, first_delay), rotation(3, 10, second_delay)]
        signers = [signer(keys, s) for s in range(0, 1200)]
        switch = 10 + second_delay
        assert ["key_01"] * switch + ["key_03"] * (1200 - switch) == signers


def test_a_key_whose_time_came_before_the_next_rotation_is_not_superseded() -> None:
    """Activated at 60 s, the next rotation at 61 s: it signs until that rotation's key
    activates, then is retired; the rotation made exactly at its activation time also counts
    as after it."""
    for made in (60, 61):
        keys = [FIRST, rotation(2, 0, 60), rotation(3, made, 600)]
        assert {} == superseded_keys(keys)
        assert ("key_02", "key_03") == (signer(keys, made), signer(keys, made + 600))
        assert "retired" == key_statuses(keys, at(made + 600), RETENTION)["key_02"]


def test_rotations_in_the_same_instant_are_ordered_by_their_ids() -> None:
    """Two rotations made in one instant (delay 600, then 0): the later id wins."""
    keys = [FIRST, rotation(2, 0, 600), rotation(3, 0, 0)]
    assert (["key_02"], "key_03") == (list(superseded_keys(keys)), signer(keys, 601))


def test_a_chain_of_rotations_leaves_only_the_last_pending_key() -> None:
    """Three delayed rotations, each before the previous one's time: only the last signs."""
    keys = [FIRST, rotation(2, 0, 600), rotation(3, 10, 600), rotation(4, 20, 600)]
    assert ["key_02", "key_03"] == sorted(superseded_keys(keys))
    assert ["key_04"] == [key.id for key in pending_keys(keys, at(30))]
    assert ("key_01", "key_04") == (signer(keys, 619), signer(keys, 620))


def test_pending_keys_are_exactly_what_a_rotation_now_would_supersede() -> None:
    """Before its activation the waiting key is pending; once it signs, nothing is."""
    keys = [FIRST, rotation(2, 0, 600)]
    assert (["key_02"], []) == (
        [key.id for key in pending_keys(keys, at(599))],
        [key.id for key in pending_keys(keys, at(600))],
    )


def test_a_superseded_key_is_published_for_the_retention_after_its_supersession() -> None:
    """It stays in the published set until the superseding rotation is RETENTION old, and
    next_change names that moment."""
    keys = [FIRST, rotation(2, 0, 600), rotation(3, 10, 0)]
    end = at(10) + RETENTION
    assert end == next_change(keys, at(11), RETENTION)
    published = [key.id for key in published_keys(keys, end - timedelta(microseconds=1), RETENTION)]
    assert ["key_01", "key_02", "key_03"] == published
    assert ["key_03"] == [key.id for key in published_keys(keys, end, RETENTION)]
    assert "expired" == key_statuses(keys, end, RETENTION)["key_02"]
