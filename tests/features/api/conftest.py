"""Fixtures for the management API tests (helpers in ``api_helpers.py``)."""

from __future__ import annotations

import httpx
import pytest
from api_helpers import Api

from ostiary.services.container import Services


@pytest.fixture
def api(client: httpx.AsyncClient, services: Services) -> Api:
    """``/api/v1`` with a full-access management token (obtained on first use)."""
    return Api(client, services)
