"""Fixtures for the logout tests (helpers in ``logout_helpers.py``).

``make_settings`` is overridden here so that each test (and tests/conftest.py's ``services``)
starts from a copy of the prepared data folder (migrated schema, signing key, console app)
instead of migrating and generating an RSA key per test: same settings and FakeClock as
tests/conftest.py, a fraction of the set-up time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from logout_helpers import Harness, Receiver

from ostiary.config import Settings
from ostiary.services.clock import Clock
from ostiary.services.container import Services
from ostiary.web.app import create_web_app


@pytest.fixture
def make_settings(
    data_dir: Path, make_settings: Callable[..., Settings]
) -> Callable[..., Settings]:
    """tests/conftest.py's ``make_settings`` whose data folder starts as the prepared copy."""
    return make_settings


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real back-channel endpoint on 127.0.0.1, up (answering 200) unless a test stops it."""
    receiver = Receiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture
async def harness(services: Services, clock: Clock, receiver: Receiver) -> AsyncIterator[Harness]:
    """Browsers and an app developer on the default (development) services and FakeClock."""
    harness = Harness(services, create_web_app(services), clock, receiver)
    try:
        yield harness
    finally:
        await harness.aclose()
        await services.backchannel.close()
