"""``ostiary demo`` as a process: a second run on the same data folder reuses what the first
registered (and follows new ports), a lost state file means rotated secrets rather than
duplicate apps, and SIGINT or SIGTERM stops every child process it started."""

from __future__ import annotations

import base64
import json
import re
import shlex
import signal
import socket
import stat
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from demo_helpers import REPO_ROOT, RunningDemo, alive, descendants, start_demo, stop_demo

APP_NAMES = ("Demo Web", "Demo SPA", "Demo Desktop", "Demo API")
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def secret_works(demo: RunningDemo, client_id: str, secret: str) -> bool:
    """Whether Ostiary accepts this web app secret (at the introspection endpoint)."""
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    request = urllib.request.Request(
        demo.url("ostiary", "/oauth/introspect"),
        data=urllib.parse.urlencode({"token": "not-a-token"}).encode(),
        headers={"authorization": f"Basic {basic}"},
    )
    try:
        with _DIRECT.open(request, timeout=10) as response:
            return bool(200 == response.status)
    except urllib.error.HTTPError as err:
        assert 401 == err.code, err.read()
        return False


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return 0 == sock.connect_ex(("127.0.0.1", port))


def stop_and_check(demo: RunningDemo, sig: int) -> None:
    """Stop the demo with ``sig``: it exits 0, every child is gone, every port is free."""
    children = descendants(demo.process.pid)
    assert len(children) >= 4, children  # Ostiary and the three example servers
    assert 0 == stop_demo(demo, sig), demo.output
    assert "Stopped." in demo.output
    assert [] == [pid for pid in children if alive(pid)]
    assert [] == [name for name, port in demo.ports.items() if listening(port)]


def demo_apps(demo: RunningDemo) -> dict[str, dict[str, object]]:
    apps = demo.cli("apps", "list")
    found = [app for app in apps if app["name"] in APP_NAMES]
    assert len(APP_NAMES) == len(found), [app["name"] for app in apps]  # no duplicates
    return {str(app["name"]): app for app in found}


def test_a_second_run_reuses_the_apps_and_each_signal_stops_every_child(tmp_path: Path) -> None:
    """Two runs on one data folder: same apps, same web secret, same password, redirect URIs
    on the second run's ports; SIGINT ends the first run and SIGTERM the second, cleanly."""
    data = tmp_path / "demo-data"
    first = start_demo(data)
    try:
        state = first.state()
        assert 0o600 == stat.S_IMODE((data / "demo.json").stat().st_mode)
        assert secret_works(first, state["web"]["client_id"], state["web"]["client_secret"])
    finally:
        stop_and_check(first, signal.SIGINT)

    second = start_demo(data)  # new free ports
    try:
        again = second.state()
        for app in ("web", "spa", "desktop", "api"):
            assert state[app]["client_id"] == again[app]["client_id"]
        assert state["web"]["client_secret"] == again["web"]["client_secret"]
        assert first.password == second.password
        assert secret_works(second, again["web"]["client_id"], again["web"]["client_secret"])
        apps = demo_apps(second)
        assert [second.url("web", "/auth/callback")] == apps["Demo Web"]["redirect_uris"]
        assert [second.url("spa", "/callback")] == apps["Demo SPA"]["redirect_uris"]
    finally:
        stop_and_check(second, signal.SIGTERM)


def test_a_lost_state_file_rotates_the_secret_instead_of_duplicating_apps(
    tmp_path: Path,
) -> None:
    """Without demo.json the apps are found by name; the web app gets a new secret and the
    old one stops working."""
    data = tmp_path / "demo-data"
    first = start_demo(data)
    try:
        state = first.state()
    finally:
        stop_and_check(first, signal.SIGINT)
    (data / "demo.json").unlink()

    second = start_demo(data)
    try:
        again = second.state()
        assert state["web"]["client_id"] == again["web"]["client_id"]
        assert state["web"]["client_secret"] != again["web"]["client_secret"]
        assert secret_works(second, again["web"]["client_id"], again["web"]["client_secret"])
        assert not secret_works(second, state["web"]["client_id"], state["web"]["client_secret"])
        demo_apps(second)
    finally:
        stop_and_check(second, signal.SIGINT)


def test_the_banner_shows_a_cli_command_that_reaches_the_demo_database(tmp_path: Path) -> None:
    """The banner's "CLI" line is a command that, run as printed (from the same folder), lists
    the demo's own apps: not those of another database."""
    data = tmp_path / "demo-data"
    demo = start_demo(data)
    try:
        match = re.search(r"^\s+CLI\s+(.+?) apps list\s+\(this demo's database\)$",
                          demo.output, re.MULTILINE)  # fmt: skip
        assert match is not None, demo.output
        words = shlex.split(match.group(1))
        assignment, command = words[0], words[1:]
        name, _, folder = assignment.partition("=")
        assert "OSTIARY_DATA_DIR" == name
        env = {k: v for k, v in demo.env().items() if k != "OSTIARY_DATA_DIR"}
        done = subprocess.run(
            [*command, "apps", "list", "--json"], env={**env, name: folder}, cwd=REPO_ROOT,
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert 0 == done.returncode, done.stderr
        names = {app["name"] for app in json.loads(done.stdout)}
        assert set(APP_NAMES) <= names
    finally:
        stop_and_check(demo, signal.SIGTERM)
