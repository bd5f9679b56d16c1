"""A serving worker signs JWTs in child processes: the tokens verify as any other, a child that
dies is replaced without failing a request, a rotated key reaches the children, and the
children end with the worker."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Callable

import pytest

from ostiary.bootstrap import build_services, prepare, signing_processes
from ostiary.config import Settings
from ostiary.protocol.jose import verify_jwt
from ostiary.runtime.signing_processes import SigningProcesses
from ostiary.services.clock import Clock
from ostiary.services.container import Services

WAIT_S = 5.0  # a limit for a process to end, not a measurement


@pytest.fixture
async def serving(make_settings: Callable[..., Settings], clock: Clock) -> AsyncIterator[Services]:
    """Services as ``ostiary serve`` builds them, with two signing processes."""
    services = build_services(make_settings(SIGNING_PROCESSES="2"), clock=clock, serving=True)
    await prepare(services)
    try:
        yield services
    finally:
        assert services.keys.processes is not None
        await services.keys.processes.aclose()
        await services.engine.dispose()


def processes(services: Services) -> SigningProcesses:
    assert services.keys.processes is not None
    return services.keys.processes


async def signed_and_verified(services: Services, count: int, algorithm: str = "RS256") -> None:
    claims = [{"sub": f"usr_{i}", "name": "Zoë"} for i in range(count)]
    tokens = await asyncio.gather(*(services.keys.sign(c, typ="at+jwt") for c in claims))
    jwks = await services.keys.jwks()
    assert claims == [dict(verify_jwt(t, jwks, [algorithm]).claims) for t in tokens]


async def test_tokens_signed_in_child_processes_verify(serving: Services) -> None:
    """Twenty tokens signed at once come from two children and verify against /keys."""
    await signed_and_verified(serving, 20)
    pids = processes(serving).pids
    assert 2 == len(set(pids)) and os.getpid() not in pids


async def test_a_child_that_dies_is_replaced_and_no_signature_is_lost(serving: Services) -> None:
    await signed_and_verified(serving, 2)
    victim, survivor = processes(serving).pids
    os.kill(victim, signal.SIGKILL)
    await signed_and_verified(serving, 10)  # some were owed by the dead child, or sent to it
    pids = processes(serving).pids
    assert survivor in pids and victim not in pids and 2 == len(pids)


async def test_a_rotated_key_reaches_the_children(serving: Services) -> None:
    await signed_and_verified(serving, 4)
    new = await serving.keys.rotate(delay=0)
    token = await serving.keys.sign({"sub": "usr_1"}, typ="at+jwt")
    verified = verify_jwt(token, await serving.keys.jwks(), ["RS256"])
    assert new.kid == verified.header["kid"]


async def test_es256_is_signed_in_the_children_too(
    make_settings: Callable[..., Settings], clock: Clock
) -> None:
    settings = make_settings(SIGNING_PROCESSES="1", SIGNING_ALGORITHM="ES256")
    services = build_services(settings, clock=clock, serving=True)
    try:
        await prepare(services)
        await signed_and_verified(services, 3, "ES256")
    finally:
        await processes(services).aclose()
        await services.engine.dispose()


async def test_the_children_end_when_the_worker_closes_them(serving: Services) -> None:
    await signed_and_verified(serving, 2)
    pids = processes(serving).pids
    await processes(serving).aclose()
    for pid in pids:
        with pytest.raises(ProcessLookupError):  # ended and reaped
            os.kill(pid, 0)


def test_who_signs_where(make_settings: Callable[..., Settings]) -> None:
    """Serving: the worker's share of the CPUs unless configured; 0 means threads; anything
    else (the CLI, an app built by hand) signs on threads unless configured."""
    share = max(1, (os.cpu_count() or 1) // 2)
    served = signing_processes(make_settings(WORKERS="2"), serving=True)
    assert served is not None and share == served.count
    assert signing_processes(make_settings(SIGNING_PROCESSES="0"), serving=True) is None
    assert signing_processes(make_settings(), serving=False) is None
    configured = signing_processes(make_settings(SIGNING_PROCESSES="3"), serving=False)
    assert configured is not None and 3 == configured.count
