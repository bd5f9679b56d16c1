"""Fixtures for the mobile (native app) tests.

The browser-plus-app driver lives in ``tests/features/flow/flow_helpers.py``; pytest fixtures do
not cross folders, so its folder is put on ``sys.path`` and ``flow`` is defined again here, on the
``services`` and ``client`` fixtures of ``tests/conftest.py`` (prepared development services on a
fresh SQLite database, an in-process HTTP client).
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

FLOW_DIR = Path(__file__).resolve().parents[1] / "flow"
if str(FLOW_DIR) not in sys.path:
    sys.path.insert(0, str(FLOW_DIR))

from flow_helpers import FlowHelper  # noqa: E402

from ostiary.services.container import Services  # noqa: E402


@pytest.fixture
def flow(client: httpx.AsyncClient, services: Services) -> FlowHelper:
    """A browser + app driver on the default (development) services."""
    return FlowHelper(client, services)
