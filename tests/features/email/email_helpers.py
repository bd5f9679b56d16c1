"""Helpers for the email tests: an in-process driver (``EmailDriver``, a ``FlowHelper`` from
tests/features/flow that also asks for codes and links and reads the outbox), a real SMTP server
that records messages (``SmtpSink``), and readers for the codes and links in an email's text.
"""

from __future__ import annotations

import dataclasses
import re
import socket
import threading
from collections.abc import Awaitable, Callable
from email import message_from_bytes, policy
from email.message import EmailMessage as MimeMessage
from typing import Any
from urllib.parse import urlsplit

import httpx
from aiosmtpd.controller import Controller
from flow_helpers import Attempt, FlowHelper, Form, RegisteredApp

from ostiary.domain.email import EmailMessage

__all__ = [
    "CodeForm",
    "EmailDriver",
    "MakeDriver",
    "SmtpSink",
    "code_in",
    "free_port",
    "hidden",
    "link_in",
]

CODE_RE = re.compile(r"code: (\d{6})")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found is not None, f"no hidden input {name!r} in the page:\n{html[:3000]}"
    return found.group(1)


def code_in(text: str) -> str:
    """The 6-digit sign-in code in an email's text."""
    found = CODE_RE.search(text)
    assert found is not None, f"no sign-in code in:\n{text}"
    return found.group(1)


def link_in(text: str, path: str) -> str:
    """The absolute link to ``path`` (e.g. ``/ui/login/link``) in an email's text."""
    found = re.search(rf"(https?://\S+{re.escape(path)}\?token=\S+)", text)
    assert found is not None, f"no {path} link in:\n{text}"
    return found.group(1)


def path_of(url: str) -> str:
    """Path and query of an absolute URL (what the in-process client requests)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


@dataclasses.dataclass(frozen=True)
class CodeForm:
    """The "Check your email" page: its response and hidden fields."""

    response: httpx.Response
    txn: str
    challenge: str
    csrf_token: str


class EmailDriver(FlowHelper):
    """``FlowHelper`` plus the email pages: ask for a code or link, type it, forgot/reset."""

    async def login_form(self, app: RegisteredApp, **start: Any) -> tuple[Attempt, Form]:
        """GET /oauth/authorize without a session and open the hosted login page."""
        attempt = await self.start(app, **start)
        return attempt, await self.open_form(attempt.response)

    async def ask_for_email(
        self, form: Form, email: str, *, csrf_token: str | None = None
    ) -> httpx.Response:
        """Press "Email me a sign-in code…" on the login page."""
        data = {
            "txn": form.txn,
            "csrf_token": form.csrf_token if csrf_token is None else csrf_token,
            "email": email,
            "method": "email",
        }
        return await self.client.post("/ui/login", data=data)

    async def code_form(self, response: httpx.Response) -> CodeForm:
        """Follow the 303 to /ui/login/code and read its hidden fields."""
        assert 303 == response.status_code, response.text
        location = response.headers["location"]
        assert "/ui/login/code" == urlsplit(location).path, location
        page = await self.client.get(location)
        assert 200 == page.status_code, page.text
        return CodeForm(
            page, hidden(page.text, "txn"), hidden(page.text, "challenge"),
            hidden(page.text, "csrf_token"),
        )  # fmt: skip

    async def request_code(self, form: Form, email: str) -> CodeForm:
        return await self.code_form(await self.ask_for_email(form, email))

    async def submit_code(
        self, form: CodeForm, code: str, *, csrf_token: str | None = None
    ) -> httpx.Response:
        data = {
            "txn": form.txn,
            "challenge": form.challenge,
            "csrf_token": form.csrf_token if csrf_token is None else csrf_token,
            "code": code,
        }
        return await self.client.post("/ui/login/code", data=data)

    # -- the outbox ----------------------------------------------------------------------------

    async def outbox(self, to: str | None = None) -> list[EmailMessage]:
        """Messages, newest first."""
        return await self.services.email.recent(100, to)

    async def latest(self, to: str, kind: str) -> EmailMessage:
        for message in await self.outbox(to):
            if message.kind == kind:
                return message
        raise AssertionError(f"no {kind} email to {to} in the outbox")

    async def latest_code(self, to: str) -> str:
        return code_in((await self.latest(to, "sign_in")).text_body or "")

    async def latest_link(self, to: str, kind: str, path: str) -> str:
        """Path and query of the link in the newest ``kind`` email to ``to``."""
        return path_of(link_in((await self.latest(to, kind)).text_body or "", path))

    # -- password reset ------------------------------------------------------------------------

    async def forgot(self, email: str, *, txn: str = "") -> httpx.Response:
        """Open /ui/password/forgot and send the form for ``email``."""
        page = await self.client.get("/ui/password/forgot", params={"txn": txn} if txn else None)
        assert 200 == page.status_code, page.text
        data = {"txn": txn, "csrf_token": hidden(page.text, "csrf_token"), "email": email}
        return await self.client.post("/ui/password/forgot", data=data)

    async def submit_reset(
        self, link: str, password: str, *, csrf_token: str | None = None
    ) -> httpx.Response:
        """Open the reset link and send the new password."""
        page = await self.client.get(link)
        assert 200 == page.status_code, page.text
        data = {
            "token": hidden(page.text, "token"),
            "csrf_token": hidden(page.text, "csrf_token") if csrf_token is None else csrf_token,
            "password": password,
        }
        return await self.client.post("/ui/password/reset", data=data)


MakeDriver = Callable[..., Awaitable[EmailDriver]]


# -- a real SMTP server ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Received:
    """One message as the SMTP server got it."""

    mail_from: str
    rcpt_tos: list[str]
    message: MimeMessage

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part in:\n{self.message}"
        return str(body.get_content())


class _Recorder:
    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, MimeMessage)
        with self._sink.lock:
            self._sink.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), parsed)
            )
        return "250 Message accepted for delivery"


class SmtpSink:
    """aiosmtpd on 127.0.0.1: ``start()``/``stop()``; ``received`` lists what arrived."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(_Recorder(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if address in r.rcpt_tos]
