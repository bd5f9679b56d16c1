"""Running sans-IO flows. A flow is a generator that yields an effect (an ``httpx.Request``,
or for the web integrations a session-store operation) and is sent its result; a driver
answers the effects, with IO, until the flow returns."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar, cast

import httpx

from ostiary_client.errors import ProviderError

__all__ = ["Flow", "run_async", "run_sync", "transport_error"]

T = TypeVar("T")
E = TypeVar("E")
Flow = Generator[httpx.Request, httpx.Response, T]


def run_sync(flow: Generator[E, Any, T], handle: Callable[[E], Any]) -> T:
    """Run ``flow``, answering each yielded effect with ``handle(effect)``. An exception from
    ``handle`` is thrown into the flow, so the flow's own ``except`` clauses see it."""
    try:
        effect = next(flow)
        while True:
            try:
                result = handle(effect)
            except Exception as exc:  # handed to the flow, which re-raises it
                effect = flow.throw(exc)
            else:
                effect = flow.send(result)
    except StopIteration as stop:
        return cast(T, stop.value)


async def run_async(flow: Generator[E, Any, T], handle: Callable[[E], Awaitable[Any]]) -> T:
    """``run_sync`` with an async ``handle``."""
    try:
        effect = next(flow)
        while True:
            try:
                result = await handle(effect)
            except Exception as exc:  # handed to the flow, which re-raises it
                effect = flow.throw(exc)
            else:
                effect = flow.send(result)
    except StopIteration as stop:
        return cast(T, stop.value)


def transport_error(request: httpx.Request, exc: httpx.HTTPError) -> ProviderError:
    error = ProviderError(f"{request.method} {request.url} failed: {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error
