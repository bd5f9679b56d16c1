"""The loopback redirect of native apps (RFC 8252 §7.3): a one-shot HTTP server on 127.0.0.1
with a port the OS picks, waiting in a thread for the browser to come back with the code."""

from __future__ import annotations

import html
import queue
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from ostiary_client.errors import LoginTimeout

__all__ = ["LoopbackServer"]

# The page the browser shows after the redirect: self-contained (no external resources; the
# Content-Security-Policy below allows nothing else), light and dark, readable at 320 px.
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{title}</title>
<style>
:root {{ color-scheme: light dark; --bg: #f3f4f8; --card: #fff; --text: #111827;
  --muted: #555d6b; --border: #e2e5eb; --ok: #067647; --ok-bg: #ecfdf3; --bad: #b42318;
  --bad-bg: #fef3f2; }}
@media (prefers-color-scheme: dark) {{ :root {{ --bg: #0c0e13; --card: #151922;
  --text: #eef0f5; --muted: #a3abba; --border: #2a3140; --ok: #47cd89; --ok-bg: #0b2a1c;
  --bad: #f97066; --bad-bg: #2a1414; }} }}
* {{ box-sizing: border-box; }}
body {{ margin: 0; min-height: 100vh; display: grid; place-items: center; padding: 24px 16px;
  font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--text); background: var(--bg); }}
main {{ width: 100%; max-width: 28rem; padding: 32px 28px; text-align: center;
  background: var(--card); border: 1px solid var(--border); border-radius: 16px;
  box-shadow: 0 8px 24px -4px rgba(16, 24, 40, 0.08); }}
.icon {{ display: inline-grid; place-items: center; width: 48px; height: 48px;
  margin-bottom: 12px; border-radius: 50%; color: var(--ok); background: var(--ok-bg); }}
.icon--bad {{ color: var(--bad); background: var(--bad-bg); }}
h1 {{ margin: 0 0 8px; font-size: 1.375rem; line-height: 1.3; }}
p {{ margin: 0; color: var(--muted); overflow-wrap: anywhere; }}
</style>
</head>
<body>
<main>
<span class="icon{icon_class}" aria-hidden="true"><svg width="24" height="24" viewBox="0 0 24 24"
 fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"
 stroke-linejoin="round">{icon}</svg></span>
<h1>{title}</h1>
<p>{message}</p>
</main>
</body>
</html>"""
CHECK = '<path d="M5 12.5l4.25 4.25L19 7"/>'
ALERT = '<circle cx="12" cy="12" r="9"/><path d="M12 7.5v5.25"/><path d="M12 16.25h.01"/>'
SIGNED_IN = "You are signed in"
CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


class LoopbackServer:
    """``with LoopbackServer() as server``: ``server.redirect_uri`` is
    ``http://127.0.0.1:<port>/callback``; ``server.wait(timeout, state=…)`` returns the query
    parameters of the first request to that path carrying ``state``. Other requests (a
    favicon, a stale tab, a local process guessing) get an error page and are ignored."""

    def __init__(self, *, path: str = "/callback", app_name: str = "the app") -> None:
        if not path.startswith("/"):
            raise ValueError("path must start with '/'")
        self.path = path
        self.app_name = app_name
        self._state: str | None = None
        self._results: queue.Queue[dict[str, str]] = queue.Queue()
        self._server: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def redirect_uri(self) -> str:
        if self._server is None:
            raise RuntimeError("the loopback server is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.path}"

    def expect(self, state: str) -> None:
        """Only a callback with this ``state`` ends the wait."""
        self._state = state

    def __enter__(self) -> Self:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # the http.server API
                owner._answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                return  # keep the user's terminal quiet

        self._server = HTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def wait(self, timeout: float) -> dict[str, str]:
        try:
            return self._results.get(timeout=timeout)
        except queue.Empty:
            seconds = round(timeout)
            raise LoginTimeout(
                f"Nobody came back to {self.redirect_uri} within {seconds} "
                f"second{'' if seconds == 1 else 's'}."
            ) from None

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if parts.path != self.path:
            self._page(handler, 404, "Not found", "There is nothing here.")
            return
        if self._state is None or params.get("state") != self._state:
            self._page(
                handler,
                400,
                "This sign-in is not the current one",
                f"Go back to {self.app_name} and start signing in again.",
            )
            return
        if "error" in params:
            reason = params.get("error_description") or params["error"]
            self._page(
                handler,
                200,
                "Sign-in did not complete",
                f"{reason} You can close this tab and return to {self.app_name}.",
            )
        else:
            self._page(
                handler,
                200,
                SIGNED_IN,
                f"You can close this tab and return to {self.app_name}.",
            )
        self._results.put(params)

    @staticmethod
    def _page(handler: BaseHTTPRequestHandler, status: int, title: str, message: str) -> None:
        ok = status == 200 and title == SIGNED_IN
        body = PAGE.format(
            title=html.escape(title),
            message=html.escape(message),
            icon=CHECK if ok else ALERT,
            icon_class="" if ok else " icon--bad",
        ).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Security-Policy", CSP)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Cache-Control", "no-store")
        handler.send_header("Referrer-Policy", "no-referrer")
        handler.end_headers()
        handler.wfile.write(body)
