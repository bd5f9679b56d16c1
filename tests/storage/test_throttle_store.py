"""ThrottleStore on each backend: a reservation is granted only while the key is not blocked,
even when many are made at once; giving one back lifts only the block it set."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from ostiary.services.container import Services
from ostiary.storage.misc import Reservation, ThrottleStore

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
BLOCKS = [NOW + timedelta(seconds=s) for s in (2, 4, 8)]


async def _reserve(store: ThrottleStore, now: datetime = NOW, allowance: int = 5) -> Reservation:
    return await store.reserve(
        "k", allowance=allowance, now=now, forget_before=now - timedelta(hours=1),
        block_times=[t - NOW + now for t in BLOCKS],
    )  # fmt: skip


async def test_concurrent_reservations_grant_only_the_allowance(backend: Services) -> None:
    """50 reservations at once on a key allowing 5: 5 granted, the 5th sets the first block."""
    store = ThrottleStore(backend.engine)
    results = await asyncio.gather(*(_reserve(store) for _ in range(50)))
    granted = [r for r in results if r.granted]
    assert 5 == len(granted)
    assert {BLOCKS[0]} == {r.blocked_until for r in results if not r.granted}


async def test_after_the_block_one_more_is_granted_and_the_delay_grows(backend: Services) -> None:
    """When the block ends, one attempt is granted and sets the next, longer block."""
    store = ThrottleStore(backend.engine)
    for _ in range(5):
        await _reserve(store)
    later = BLOCKS[0]
    first, second = await _reserve(store, later), await _reserve(store, later)
    assert (True, later + timedelta(seconds=4)) == (first.granted, first.blocked_until)
    assert False is second.granted


async def test_refund_lifts_only_the_block_its_attempt_set(backend: Services) -> None:
    """Giving back the attempt that set the block lifts it; giving back an earlier one
    only lowers the count."""
    store = ThrottleStore(backend.engine)
    earlier = [await _reserve(store) for _ in range(4)]
    blocking = await _reserve(store)
    await store.refund(earlier[0], allowance=5)
    still = await _reserve(store)
    await store.refund(blocking, allowance=5)
    assert (False, True) == (still.granted, (await _reserve(store)).granted)


async def test_counts_are_forgotten_after_a_quiet_hour(backend: Services) -> None:
    """An hour after the last attempt the count starts again from one."""
    store = ThrottleStore(backend.engine)
    for _ in range(5):
        await _reserve(store)
    fresh = await _reserve(store, NOW + timedelta(hours=1, seconds=1))
    assert (True, None) == (fresh.granted, fresh.blocked_until)
