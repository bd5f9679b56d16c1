"""The email outbox (a durable send queue) and email challenges (links and codes, as digests)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ostiary.domain.email import Challenge, ChallengePurpose, EmailMessage, MessageStatus
from ostiary.storage.db import Database
from ostiary.storage.queues import claim_due_rows
from ostiary.storage.tables import email_challenges, outbox

__all__ = ["ChallengeStore", "OutboxStore"]

C = email_challenges


def _message(row: sa.Row[Any]) -> EmailMessage:
    m = row._mapping
    return EmailMessage(
        id=m["id"],
        kind=m["kind"],
        to_address=m["to_address"],
        subject=m["subject"],
        text_body=m["text_body"],
        html_body=m["html_body"],
        status=MessageStatus(m["status"]),
        attempts=m["attempts"],
        next_attempt_at=m["next_attempt_at"],
        created_at=m["created_at"],
        sent_at=m["sent_at"],
        last_error=m["last_error"],
    )


def _challenge(row: sa.Row[Any]) -> Challenge:
    m = row._mapping
    return Challenge(
        id=m["id"],
        purpose=ChallengePurpose(m["purpose"]),
        email=m["email"],
        user_id=m["user_id"],
        attempts=m["attempts"],
        txn_id=m["txn_id"],
        browser_digest=m["browser_digest"],
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        consumed_at=m["consumed_at"],
        has_code=m["code_digest"] is not None,
        has_link=m["link_digest"] is not None,
    )


class OutboxStore:
    def __init__(self, engine: Database) -> None:
        self._engine = engine

    async def insert(self, message: EmailMessage) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                outbox.insert().values(
                    id=message.id,
                    kind=message.kind,
                    to_address=message.to_address,
                    subject=message.subject,
                    text_body=message.text_body,
                    html_body=message.html_body,
                    status=message.status.value,
                    attempts=0,
                    next_attempt_at=message.next_attempt_at,
                    created_at=message.created_at,
                    sent_at=None,
                    last_error=None,
                )
            )

    async def claim_due(
        self, now: datetime, *, lease: timedelta, limit: int = 20
    ) -> list[EmailMessage]:
        rows = await claim_due_rows(
            self._engine,
            outbox,
            pending=MessageStatus.PENDING.value,
            now=now,
            lease=lease,
            limit=limit,
        )
        return [_message(row) for row in rows]

    async def sent(self, message_id: str, now: datetime, *, keep_body: bool) -> None:
        """Mark sent. Unless ``keep_body``, the bodies (which hold links and codes) are wiped."""
        values: dict[str, Any] = {
            "status": MessageStatus.SENT.value,
            "sent_at": now,
            "attempts": outbox.c.attempts + 1,
            "last_error": None,
        }
        if not keep_body:
            values.update(text_body=None, html_body=None)
        async with self._engine.begin() as conn:
            await conn.execute(outbox.update().where(outbox.c.id == message_id).values(**values))

    async def failed(self, message_id: str, error: str, next_attempt_at: datetime | None) -> None:
        values: dict[str, Any] = {
            "attempts": outbox.c.attempts + 1,
            "last_error": error[:500],
        }
        if next_attempt_at is None:
            values.update(status=MessageStatus.FAILED.value, text_body=None, html_body=None)
        else:
            values["next_attempt_at"] = next_attempt_at
        async with self._engine.begin() as conn:
            await conn.execute(outbox.update().where(outbox.c.id == message_id).values(**values))

    async def recent(self, limit: int = 20, to_address: str | None = None) -> list[EmailMessage]:
        query = sa.select(outbox).order_by(outbox.c.id.desc()).limit(limit)
        if to_address is not None:
            query = query.where(sa.func.lower(outbox.c.to_address) == to_address.lower())
        async with self._engine.connect() as conn:
            rows = await conn.execute(query)
        return [_message(row) for row in rows]


class ChallengeStore:
    def __init__(self, engine: Database) -> None:
        self._engine = engine

    async def insert(
        self,
        challenge: Challenge,
        *,
        link_digest: str | None,
        code_digest: str | None,
        ip: str | None,
        invalidate_previous: bool,
    ) -> None:
        async with self._engine.begin() as conn:
            if invalidate_previous:
                await conn.execute(
                    C.update()
                    .where(C.c.email == challenge.email)
                    .where(C.c.purpose == challenge.purpose.value)
                    .where(C.c.consumed_at.is_(None))
                    .values(consumed_at=challenge.created_at)
                )
            await conn.execute(
                C.insert().values(
                    id=challenge.id,
                    purpose=challenge.purpose.value,
                    email=challenge.email,
                    user_id=challenge.user_id,
                    link_digest=link_digest,
                    code_digest=code_digest,
                    attempts=0,
                    txn_id=challenge.txn_id,
                    browser_digest=challenge.browser_digest,
                    ip=ip,
                    created_at=challenge.created_at,
                    expires_at=challenge.expires_at,
                    consumed_at=None,
                )
            )

    async def by_link(self, link_digest: str) -> Challenge | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(C).where(C.c.link_digest == link_digest))).first()
        return None if row is None else _challenge(row)

    async def get(self, challenge_id: str) -> tuple[Challenge, str | None] | None:
        """The challenge and its code digest."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(C).where(C.c.id == challenge_id))).first()
        return None if row is None else (_challenge(row), row._mapping["code_digest"])

    async def count_attempt(self, challenge_id: str) -> int:
        async with self._engine.begin() as conn:
            await conn.execute(
                C.update().where(C.c.id == challenge_id).values(attempts=C.c.attempts + 1)
            )
            value = await conn.scalar(sa.select(C.c.attempts).where(C.c.id == challenge_id))
        return int(value or 0)

    async def consume(self, challenge_id: str, now: datetime) -> bool:
        """Single use: True only for the call that consumed it."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                C.update()
                .where(C.c.id == challenge_id)
                .where(C.c.consumed_at.is_(None))
                .values(consumed_at=now)
            )
        return result.rowcount == 1

    async def sent_since(
        self, *, since: datetime, email: str | None = None, ip: str | None = None
    ) -> int:
        query = sa.select(sa.func.count()).select_from(C).where(C.c.created_at > since)
        if email is not None:
            query = query.where(C.c.email == email)
        if ip is not None:
            query = query.where(C.c.ip == ip)
        async with self._engine.connect() as conn:
            return int(await conn.scalar(query) or 0)

    async def oldest_since(
        self, *, since: datetime, email: str | None = None, ip: str | None = None
    ) -> datetime | None:
        query = (
            sa.select(C.c.created_at)
            .where(C.c.created_at > since)
            .order_by(C.c.created_at)
            .limit(1)
        )
        if email is not None:
            query = query.where(C.c.email == email)
        if ip is not None:
            query = query.where(C.c.ip == ip)
        async with self._engine.connect() as conn:
            first: datetime | None = await conn.scalar(query)
        return first
