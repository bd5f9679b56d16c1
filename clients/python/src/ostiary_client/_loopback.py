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

PAGE = """<!doctype html><html lang="en"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto">
<h1>{title}</h1><p>{message}</p></body></html>"""


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
                "You are signed in",
                f"You can close this tab and return to {self.app_name}.",
            )
        self._results.put(params)

    @staticmethod
    def _page(handler: BaseHTTPRequestHandler, status: int, title: str, message: str) -> None:
        body = PAGE.format(title=html.escape(title), message=html.escape(message)).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Cache-Control", "no-store")
        handler.send_header("Referrer-Policy", "no-referrer")
        handler.end_headers()
        handler.wfile.write(body)
