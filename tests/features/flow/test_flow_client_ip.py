"""The client's address: X-Forwarded-For counts only from OSTIARY_TRUSTED_PROXIES (rightmost
untrusted hop), for the sign-in throttle, the request log and the auth log; ``ostiary serve``
does not let uvicorn trust it from 127.0.0.1 on its own."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from flow_helpers import EMAIL, FlowHelper

from ostiary.bootstrap import build_services, prepare
from ostiary.config import Settings
from ostiary.services.clock import Clock
from ostiary.web.app import create_web_app

WRONG = "not the password"
CHAIN = "198.51.100.1, 203.0.113.9, 10.1.2.3"  # the client wrote the first, proxies the rest


@pytest.fixture
async def proxied(
    make_settings: Callable[..., Settings], clock: Clock
) -> AsyncIterator[FlowHelper]:
    """A driver whose requests come from 127.0.0.1, with 127.0.0.1 and 10.0.0.0/8 trusted."""
    settings = make_settings(TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/8")
    services = build_services(settings, clock=clock)
    await prepare(services)
    transport = httpx.ASGITransport(app=create_web_app(services), client=("127.0.0.1", 50000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url=settings.issuer) as client:
            yield FlowHelper(client, services)
    finally:
        await services.engine.dispose()


async def _wrong_passwords(flow: FlowHelper, forwarded: list[str]) -> list[int]:
    """One wrong password for ada@ per X-Forwarded-For value; the statuses."""
    app = await flow.web()
    await flow.user()
    form = await flow.open_form((await flow.start(app)).response)
    data = {"txn": form.txn, "csrf_token": form.csrf_token, "email": EMAIL, "password": WRONG}
    statuses = []
    for value in forwarded:
        response = await flow.client.post(
            "/ui/login", data=data, headers={"x-forwarded-for": value}
        )
        statuses.append(response.status_code)
    return statuses


def _ips(flow_records: list[logging.LogRecord], logger: str) -> list[str]:
    return [getattr(r, "ip", None) for r in flow_records if r.name == logger]


async def test_forwarded_for_is_ignored_without_trusted_proxies(
    flow: FlowHelper, caplog: pytest.LogCaptureFixture
) -> None:
    """Without the setting, a caller on 127.0.0.1 cannot rotate its address with the header:
    the throttle, the request log and the auth log all see 127.0.0.1."""
    caplog.set_level(logging.INFO)
    statuses = await _wrong_passwords(flow, [f"203.0.113.{n}" for n in range(1, 7)])
    events = await flow.services.events.recent(type_="login_failed")
    assert [401] * 5 + [429] == statuses
    assert {"127.0.0.1"} == {e["ip"] for e in events}
    assert {"127.0.0.1"} == set(_ips(caplog.records, "ostiary.access"))


async def test_client_address_is_the_rightmost_untrusted_hop(
    proxied: FlowHelper, caplog: pytest.LogCaptureFixture
) -> None:
    """Behind trusted proxies, the address before the trusted hops is the client's, in the
    request log and the auth log."""
    caplog.set_level(logging.INFO)
    await _wrong_passwords(proxied, [CHAIN])
    events = await proxied.services.events.recent(type_="login_failed")
    assert ["203.0.113.9"] == [e["ip"] for e in events]
    assert "203.0.113.9" == _ips(caplog.records, "ostiary.access")[-1]
    assert ["203.0.113.9"] == _ips(caplog.records, "ostiary.auth")


async def test_clients_behind_a_trusted_proxy_have_their_own_throttle(proxied: FlowHelper) -> None:
    """Six addresses behind the proxy each get their own per-address allowance for ada@."""
    statuses = await _wrong_passwords(proxied, [f"203.0.113.{n}, 10.0.0.2" for n in range(1, 7)])
    assert [401] * 6 == statuses


async def test_a_caller_that_is_not_a_trusted_proxy_cannot_name_a_client(
    proxied: FlowHelper,
) -> None:
    """Only the connection's own peer decides whether the header counts: from an untrusted
    peer it is ignored."""
    app = create_web_app(proxied.services)
    transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=proxied.issuer) as client:
        outsider = FlowHelper(client, proxied.services)
        statuses = await _wrong_passwords(outsider, [f"203.0.113.{n}" for n in range(1, 7)])
    events = await proxied.services.events.recent(type_="login_failed")
    assert [401] * 5 + [429] == statuses
    assert {"192.0.2.7"} == {e["ip"] for e in events}


# -- a real ``ostiary serve`` --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _served_ip(tmp_path: Path, **env: str) -> str | None:
    """Start ``ostiary serve``, send /healthz with X-Forwarded-For from 127.0.0.1, and return
    the ``ip`` of its request log line."""
    port = _free_port()
    log_path = tmp_path / "serve.log"
    environment = {
        **os.environ,
        "OSTIARY_DATA_DIR": str(tmp_path / "served"),
        "OSTIARY_ISSUER": f"http://127.0.0.1:{port}",
        "OSTIARY_LOG_FORMAT": "text",
        **env,
    }
    ostiary = str(Path(sys.executable).parent / "ostiary")
    command = [ostiary, "serve", "--port", str(port), "--workers", "1"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, env=environment, stdout=log, stderr=log)
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/healthz", headers={"X-Forwarded-For": "203.0.113.9"}
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + 60
        while True:
            try:
                opener.open(request, timeout=5).read()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError(log_path.read_text()) from None
                time.sleep(0.2)
        time.sleep(0.3)
    finally:
        process.terminate()
        process.wait(timeout=30)
    for line in log_path.read_text().splitlines():
        if "GET /healthz 200" in line:
            return line.split(" ip=", 1)[1].split()[0]
    return None


def test_served_requests_ignore_forwarded_for_from_loopback_by_default(tmp_path: Path) -> None:
    """``ostiary serve`` logs the connection's address, not the header's, without the setting."""
    assert "127.0.0.1" == _served_ip(tmp_path)


def test_served_requests_use_forwarded_for_from_a_trusted_proxy(tmp_path: Path) -> None:
    """With OSTIARY_TRUSTED_PROXIES=127.0.0.1, the served request log shows the header's."""
    assert "203.0.113.9" == _served_ip(tmp_path, OSTIARY_TRUSTED_PROXIES="127.0.0.1")
