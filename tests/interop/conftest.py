"""Interop fixtures: ``live_server`` (a real ``ostiary serve`` on a free local port, one per test
module) and ``node_rp`` (openid-client on Node as a strict relying party). See
``interop_harness.py`` for the helpers' methods.

A test module that needs a differently configured server overrides the module-scoped fixture
``live_server_env`` (extra ``OSTIARY_*`` variables) in that module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import NoReturn

import pytest
from interop_harness import INTEROP_DIR, LiveServer, NodeRP, start_live_server, stop_live_server

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="module")
def live_server_env() -> dict[str, str]:
    """Extra ``OSTIARY_*`` variables for this module's server; override in a module to change."""
    return {}


@pytest.fixture(scope="module")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, live_server_env: dict[str, str]
) -> Iterator[LiveServer]:
    """A real ``ostiary serve`` (one worker) on a free port, shared by the tests of a module."""
    server = start_live_server(tmp_path_factory.mktemp("live-server"), live_server_env)
    try:
        yield server
    finally:
        stop_live_server(server)


def _missing_tool(message: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


def _npm_installed() -> bool:
    """node_modules matches the lockfile as of the last `npm ci` (npm writes this marker)."""
    marker = INTEROP_DIR / "node_modules" / ".package-lock.json"
    lock = INTEROP_DIR / "package-lock.json"
    return marker.exists() and marker.stat().st_mtime >= lock.stat().st_mtime


@pytest.fixture(scope="session")
def node_executable() -> str:
    """``node`` with ``npm ci`` done in tests/interop (skipped without Node; fails with CI=true)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _missing_tool("the interop tests need Node.js and npm on PATH (node 20+)")
    if not _npm_installed():
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=INTEROP_DIR,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            pytest.fail(
                f"`npm ci` in {INTEROP_DIR} failed ({done.returncode})\n"
                f"--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}",
                pytrace=False,
            )
    return node


@pytest.fixture(scope="session")
def node_rp(node_executable: str) -> NodeRP:
    """The openid-client relying party: ``node_rp(step, **params) -> dict``."""
    return NodeRP(node_executable)
