"""Sending email: messages are rendered from templates a deployer can override, written to a
durable outbox, and sent by the background worker over SMTP with retries. Without SMTP settings
the outbox only keeps them (development): `ostiary outbox` and the dashboard show them."""

from __future__ import annotations

import logging
from datetime import timedelta
from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiosmtplib
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from ostiary.config import Settings
from ostiary.domain.email import EmailMessage, MessageStatus
from ostiary.domain.ids import new_id
from ostiary.services.clock import Clock
from ostiary.storage.email import OutboxStore

if TYPE_CHECKING:
    from ostiary.runtime.worker import Wakeup

__all__ = ["EmailService"]


def _mime(message: EmailMessage, sender: str) -> MimeMessage:
    mime = MimeMessage()
    mime["From"] = sender
    mime["To"] = message.to_address
    mime["Subject"] = message.subject
    mime["Message-ID"] = make_msgid(domain="ostiary")
    mime.set_content(message.text_body or "")
    if message.html_body:
        mime.add_alternative(message.html_body, subtype="html")
    return mime


log = logging.getLogger("ostiary.email")
TEMPLATES = Path(__file__).parent / "email_templates"
RETRY_DELAYS = (30, 120, 600, 1800, 3600)
LEASE = timedelta(seconds=60)
SMTP_TIMEOUT = 15.0
SUBJECTS = {
    "verify_email": "Verify your email address",
    "password_reset": "Reset your password",
    "sign_in": "Your sign-in code",
    "account_exists": "You already have an account",
}


class EmailService:
    def __init__(
        self, store: OutboxStore, clock: Clock, settings: Settings, wakeup: Wakeup | None = None
    ) -> None:
        self._wakeup = wakeup
        self._store = store
        self._clock = clock
        self._settings = settings
        loaders: list[FileSystemLoader] = [FileSystemLoader(TEMPLATES)]
        if settings.email_templates_dir is not None:
            loaders.insert(0, FileSystemLoader(settings.email_templates_dir))
        # Plain-text bodies: escaping HTML there would corrupt them; they are never HTML.
        self._text = Environment(
            loader=ChoiceLoader(loaders),
            autoescape=False,  # noqa: S701
            undefined=StrictUndefined,
        )
        self._html = Environment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
        )

    async def send(self, kind: str, to: str, context: dict[str, Any]) -> EmailMessage:
        """Render and queue a message; it never blocks on the mail server."""
        now = self._clock.now()
        full = {
            "brand_name": self._settings.brand_name,
            "logo_url": self._settings.brand_logo_url,
            "issuer": self._settings.issuer,
            **context,
        }
        message = EmailMessage(
            id=new_id("eml"),
            kind=kind,
            to_address=to,
            subject=f"{SUBJECTS.get(kind, kind)} · {self._settings.brand_name}",
            text_body=self._text.get_template(f"{kind}.txt").render(full),
            html_body=self._html.get_template(f"{kind}.html").render(full),
            status=MessageStatus.PENDING if self._settings.smtp_configured else MessageStatus.KEPT,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        await self._store.insert(message)
        if self._wakeup is not None and self._settings.smtp_configured:
            self._wakeup.set()
        return message

    async def recent(self, limit: int = 20, to: str | None = None) -> list[EmailMessage]:
        return await self._store.recent(limit, to)

    async def deliver_due(self) -> int:
        if not self._settings.smtp_configured:
            return 0
        sent = 0
        for message in await self._store.claim_due(self._clock.now(), lease=LEASE):
            sent += await self._deliver(message)
        return sent

    async def _deliver(self, message: EmailMessage) -> bool:
        settings = self._settings
        try:
            mime = _mime(message, settings.email_from)
        except ValueError as exc:  # e.g. a header that cannot be encoded: never retry, never
            # let one bad message stop the others
            await self._store.failed(message.id, f"unsendable: {exc}"[:300], None)
            log.warning("email not sendable", extra={"email_id": message.id})
            return False
        try:
            await aiosmtplib.send(
                mime,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username,
                password=settings.smtp_password,
                use_tls=settings.smtp_security == "tls",
                start_tls=settings.smtp_security == "starttls",
                timeout=SMTP_TIMEOUT,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            attempt = message.attempts
            retry = attempt < len(RETRY_DELAYS)
            next_at = (
                self._clock.now() + timedelta(seconds=RETRY_DELAYS[attempt]) if retry else None
            )
            error = f"{type(exc).__name__}: {exc}"[:300]
            await self._store.failed(message.id, error, next_at)
            log.warning(
                "email not sent", extra={"email_id": message.id, "error": error, "retry": retry}
            )
            return False
        await self._store.sent(message.id, self._clock.now(), keep_body=not settings.production)
        log.info("email sent", extra={"email_id": message.id, "kind": message.kind})
        return True
