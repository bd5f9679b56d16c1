"""Email messages and the challenges (links and codes) they carry."""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime

__all__ = ["Challenge", "ChallengePurpose", "EmailMessage", "MessageStatus"]


class MessageStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for the SMTP server
    SENT = "sent"
    FAILED = "failed"  # retries used up
    KEPT = "kept"  # no SMTP configured: kept in the outbox only


class ChallengePurpose(enum.StrEnum):
    VERIFY = "verify"  # verify an email address
    RESET = "reset"  # reset a password
    SIGN_IN = "signin"  # passwordless sign-in (code and/or magic link)


@dataclasses.dataclass(frozen=True, slots=True)
class EmailMessage:
    id: str
    kind: str
    to_address: str
    subject: str
    text_body: str | None
    html_body: str | None
    status: MessageStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    sent_at: datetime | None = None
    last_error: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Challenge:
    id: str
    purpose: ChallengePurpose
    email: str  # normalized
    user_id: str | None
    attempts: int
    txn_id: str | None
    browser_digest: str | None
    created_at: datetime
    expires_at: datetime
    consumed_at: datetime | None
    has_code: bool
    has_link: bool

    def usable(self, now: datetime) -> bool:
        return self.consumed_at is None and now < self.expires_at
