"""Fixtures for the demo tests: a running ``ostiary demo`` and headless Debian Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from demo_helpers import CHROMIUM, CHROMIUM_ARGS, IN_CI, RunningDemo, start_demo, stop_demo

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[RunningDemo]:
    """``ostiary demo`` on free ports with a fresh data folder; stopped with SIGINT after."""
    running = start_demo(tmp_path / "demo-data")
    try:
        yield running
    finally:
        stop_demo(running)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Headless Debian Chromium (skipped when missing; a failure with CI=true). Module-scoped:
    playwright's sync API keeps its event loop marked as running while it is open, and the
    async tests of later modules must not find it."""
    if not CHROMIUM.exists():
        message = f"the demo's browser test needs {CHROMIUM} (apt-get install chromium)"
        if IN_CI:
            pytest.fail(f"CI=true: {message}", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()
