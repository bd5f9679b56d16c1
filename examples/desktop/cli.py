"""A desktop command that signs in with Ostiary through the system browser (RFC 8252).

    python -m examples.desktop login      # silent refresh, else the browser (loopback redirect)
    python -m examples.desktop whoami     # who is signed in (checks the session at start-up)
    python -m examples.desktop call-api   # GET the API's /api/hello and /api/reports
    python -m examples.desktop logout     # forget the tokens, sign out in the browser

Register it in Ostiary as a ``native`` app with the loopback redirect URI
``http://127.0.0.1/callback`` (Ostiary accepts it on any port, so the command can use one the
OS picks). Settings come from ``OSTIARY_ISSUER``, ``OSTIARY_CLIENT_ID`` and ``API_URL``, or,
when those are not set, from the state file ``ostiary demo`` writes
(``$OSTIARY_DATA_DIR/demo.json``, default ``.ostiary-demo/demo.json``).

Tokens between runs go to the OS keyring (or the SDK's 0600 file where there is none); set
``OSTIARY_TOKEN_FILE`` to keep them in a file of your choice, as the demo does. Set
``OSTIARY_DESKTOP_BROWSER=print`` to print the sign-in address instead of opening a browser,
or to a command such as ``firefox %s``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import webbrowser
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from ostiary_client import LoginRequired, LoginTimeout, OstiaryError, ProviderError, User
from ostiary_client.desktop import DesktopApp, FileTokenStorage, TokenStorage

__all__ = ["DesktopSettings", "main"]

PROG = "python -m examples.desktop"
APP_NAME = "ostiary-demo-desktop"
DEFAULT_DEMO_DIR = Path(".ostiary-demo")


@dataclass(frozen=True)
class DesktopSettings:
    issuer: str
    client_id: str
    api_url: str
    token_file: Path | None  # None: the OS keyring (or the SDK's file fallback)
    browser: str | None  # None: the system browser; "print": print the address

    @classmethod
    def load(cls, env: Mapping[str, str] = os.environ) -> DesktopSettings:
        token_file = Path(env["OSTIARY_TOKEN_FILE"]) if env.get("OSTIARY_TOKEN_FILE") else None
        browser = env.get("OSTIARY_DESKTOP_BROWSER") or None
        if env.get("OSTIARY_ISSUER") and env.get("OSTIARY_CLIENT_ID"):
            return cls(
                issuer=env["OSTIARY_ISSUER"],
                client_id=env["OSTIARY_CLIENT_ID"],
                api_url=env.get("API_URL", "http://127.0.0.1:8003").rstrip("/"),
                token_file=token_file,
                browser=browser,
            )
        state_file = Path(env.get("OSTIARY_DATA_DIR") or DEFAULT_DEMO_DIR) / "demo.json"
        try:
            state: dict[str, Any] = json.loads(state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise SystemExit(
                f"{PROG}: set OSTIARY_ISSUER and OSTIARY_CLIENT_ID, or start `ostiary demo` "
                f"first ({state_file}: {err})"
            ) from None
        desktop = state["desktop"]
        return cls(
            issuer=state["issuer"],
            client_id=desktop["client_id"],
            api_url=state["urls"]["api"],
            token_file=token_file or Path(desktop["token_file"]),
            browser=browser,
        )


def opener(choice: str | None) -> Callable[[str], bool]:
    """How to open the sign-in and sign-out pages."""
    if choice is None:
        return webbrowser.open
    if choice == "print":

        def show(url: str) -> bool:
            print(f"Open this address in your browser:\n{url}", flush=True)
            return True

        return show
    return webbrowser.get(choice).open


def build_app(settings: DesktopSettings) -> DesktopApp:
    storage: TokenStorage | None = None
    if settings.token_file is not None:
        storage = FileTokenStorage(settings.token_file)  # mode 0600, folder 0700
    return DesktopApp(
        settings.issuer,
        settings.client_id,
        app_name=APP_NAME,
        browser=opener(settings.browser),
        storage=storage,  # None: the OS keyring, or a 0600 file with a warning
    )


def describe(user: User) -> str:
    who = user.name or user.email or user.sub
    return "\n".join(
        [
            f"Signed in as {who} <{user.email}>",
            f"  user          {user.sub}",
            f"  session (sid) {user.sid}",
            f"  organization  {user.organization_id or 'none'}",
        ]
    )


def current_user(app: DesktopApp) -> User | None:
    """The user of the last run after a silent refresh; says why when there is none."""
    had_tokens = bool(app.storage.load())
    user = app.session_at_startup()
    if user is None:
        if had_tokens:
            print(
                "You are signed out: Ostiary refused to refresh the session (you signed out "
                f"in another app, or it expired). Run `{PROG} login` to sign in again."
            )
        else:
            print(f"You are signed out. Run `{PROG} login` to sign in.")
    return user


def login(app: DesktopApp, _settings: DesktopSettings) -> int:
    user = app.session_at_startup()
    if user is not None:
        print("Still signed in (silent refresh at start-up).")
    else:
        print("Signing in through your browser…", flush=True)
        user = app.login()
    print(describe(user))
    return 0


def whoami(app: DesktopApp, _settings: DesktopSettings) -> int:
    user = current_user(app)
    if user is None:
        return 1
    print(describe(user))
    return 0


def call_api(app: DesktopApp, settings: DesktopSettings) -> int:
    user = current_user(app)
    if user is None:
        return 1
    headers = {"authorization": f"Bearer {app.access_token()}"}  # refreshed when needed
    with httpx.Client(timeout=10) as http:
        for path in ("/api/hello", "/api/reports"):
            response = http.get(settings.api_url + path, headers=headers)
            print(f"GET {settings.api_url}{path} -> {response.status_code}")
            try:
                print(json.dumps(response.json(), indent=2))
            except ValueError:
                print(response.text)
    return 0


def logout(app: DesktopApp, _settings: DesktopSettings) -> int:
    app.logout()
    print("Signed out here. Ostiary's sign-out page, in your browser, ends the shared session.")
    return 0


COMMANDS = {"login": login, "whoami": whoami, "call-api": call_api, "logout": logout}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description="The Ostiary demo's desktop app.")
    parser.add_argument("command", choices=list(COMMANDS))
    args = parser.parse_args(argv)
    settings = DesktopSettings.load()
    with build_app(settings) as app:
        try:
            return COMMANDS[args.command](app, settings)
        except LoginRequired:
            print(f"You are signed out. Run `{PROG} login` to sign in again.")
            return 1
        except LoginTimeout as err:
            print(f"{PROG}: {err}", file=sys.stderr)
            return 1
        except (ProviderError, httpx.HTTPError) as err:
            print(f"{PROG}: cannot reach Ostiary or the API: {err}", file=sys.stderr)
            return 2
        except OstiaryError as err:
            print(f"{PROG}: sign-in failed: {err}", file=sys.stderr)
            return 1
