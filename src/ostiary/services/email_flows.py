"""Email verification, password reset and passwordless sign-in (one-time code, magic link).

Links and codes are random, single use, short-lived and stored only as keyed digests. Requests
never reveal whether an email is registered, and sending is limited per email and per IP.
"""

from __future__ import annotations

import dataclasses
import math
import secrets
from datetime import datetime, timedelta

from ostiary.config import Settings
from ostiary.domain.email import Challenge, ChallengePurpose
from ostiary.domain.ids import new_id, new_token
from ostiary.domain.sessions import SessionStatus
from ostiary.domain.users import User, normalize_email
from ostiary.domain.wording import counted
from ostiary.protocol.compare import secrets_equal
from ostiary.protocol.digests import Digester
from ostiary.services.clock import Clock
from ostiary.services.email import EmailService
from ostiary.services.errors import InvalidInput, ServiceError
from ostiary.services.sessions import SessionService
from ostiary.services.users import EMAIL_RE, UserService
from ostiary.storage.email import ChallengeStore
from ostiary.storage.users import UserStore

__all__ = ["ChallengeFailed", "EmailFlows", "EmailRateLimited"]

MAX_CODE_ATTEMPTS = 5
LINK_TTL = {ChallengePurpose.VERIFY: 24 * 3600, ChallengePurpose.RESET: 30 * 60}
PER_EMAIL = (5, timedelta(minutes=15))
PER_IP = (30, timedelta(hours=1))


class EmailRateLimited(ServiceError):
    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many emails were requested. Wait {counted(retry_after, 'second')}, then try "
            "again."
        )
        self.retry_after = retry_after


class ChallengeFailed(ServiceError):
    """A link or code that cannot be used: ``reason`` is expired | used | wrong | locked |
    other_browser | unknown."""

    code = "challenge_failed"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclasses.dataclass(frozen=True, slots=True)
class SignInResult:
    user: User
    challenge: Challenge
    created: bool


class EmailFlows:
    def __init__(
        self,
        email: EmailService,
        challenges: ChallengeStore,
        user_store: UserStore,
        users: UserService,
        sessions: SessionService,
        digester: Digester,
        clock: Clock,
        settings: Settings,
    ) -> None:
        self._email = email
        self._challenges = challenges
        self._user_store = user_store
        self._users = users
        self._sessions = sessions
        self._digester = digester
        self._clock = clock
        self._settings = settings

    def browser_digest(self, browser_id: str | None) -> str | None:
        return self._digester.digest("browser", browser_id) if browser_id else None

    # -- limits ----------------------------------------------------------------------------

    async def _check_limits(self, email: str, ip: str | None) -> None:
        now = self._clock.now()
        checks: list[tuple[int, timedelta, dict[str, str]]] = [(*PER_EMAIL, {"email": email})]
        if ip:
            checks.append((*PER_IP, {"ip": ip}))
        for limit, window, where in checks:
            since = now - window
            if await self._challenges.sent_since(since=since, **where) >= limit:
                oldest = await self._challenges.oldest_since(since=since, **where)
                retry = (oldest + window - now).total_seconds() if oldest else window.seconds
                raise EmailRateLimited(max(1, math.ceil(retry)))

    async def _challenge(
        self,
        purpose: ChallengePurpose,
        email: str,
        user: User | None,
        *,
        ttl: int,
        ip: str | None,
        txn_id: str | None = None,
        with_code: bool = False,
        with_link: bool = True,
        browser_id: str | None = None,
        invalidate_previous: bool = False,
    ) -> tuple[Challenge, str | None, str | None]:
        """Store a challenge; returns it with the plain link token and code (to email once)."""
        now = self._clock.now()
        link = new_token(nbytes=32) if with_link else None
        code = f"{secrets.randbelow(10**6):06d}" if with_code else None
        challenge = Challenge(
            id=new_id("ech"),
            purpose=purpose,
            email=email,
            user_id=user.id if user else None,
            attempts=0,
            txn_id=txn_id,
            browser_digest=self.browser_digest(browser_id),
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
            consumed_at=None,
            has_code=code is not None,
            has_link=link is not None,
        )
        await self._challenges.insert(
            challenge,
            link_digest=self._digester.digest("email_link", link) if link else None,
            code_digest=self._digester.digest(f"email_code:{challenge.id}", code) if code else None,
            ip=ip,
            invalidate_previous=invalidate_previous,
        )
        return challenge, link, code

    async def _by_link(self, token: str, purpose: ChallengePurpose) -> Challenge:
        challenge = (
            await self._challenges.by_link(self._digester.digest("email_link", token))
            if token and len(token) < 200
            else None
        )
        if challenge is None or challenge.purpose is not purpose:
            raise ChallengeFailed("unknown", "This link is not valid. Ask for a new email.")
        self._check_usable(challenge)
        return challenge

    def _check_usable(self, challenge: Challenge) -> None:
        if challenge.consumed_at is not None:
            raise ChallengeFailed(
                "used", "This link or code was already used or replaced by a newer one."
            )
        if challenge.expires_at <= self._clock.now():
            raise ChallengeFailed("expired", "This link or code has expired. Ask for a new one.")

    async def _consume(self, challenge: Challenge) -> None:
        if not await self._challenges.consume(challenge.id, self._clock.now()):
            raise ChallengeFailed("used", "This link or code was already used.")

    # -- verification ----------------------------------------------------------------------

    async def send_verification(self, user: User, *, txn_id: str | None, ip: str | None) -> None:
        """Raises EmailRateLimited: anyone can sign up with someone else's address, so these
        links count against the same per-email and per-IP limits."""
        await self._check_limits(normalize_email(user.email), ip)
        ttl = LINK_TTL[ChallengePurpose.VERIFY]
        _, link, _ = await self._challenge(
            ChallengePurpose.VERIFY, normalize_email(user.email), user, ttl=ttl, ip=ip,
            txn_id=txn_id, invalidate_previous=True,
        )  # fmt: skip
        await self._email.send(
            "verify_email",
            user.email,
            {
                "email": user.email,
                "link": f"{self._settings.issuer}/ui/email/verify?token={link}",
                "minutes": ttl // 60,
            },
        )

    async def verify_email(self, token: str) -> tuple[User, Challenge]:
        challenge = await self._by_link(token, ChallengePurpose.VERIFY)
        await self._consume(challenge)
        user = await self._user_store.get(challenge.user_id or "")
        if user is None:
            raise ChallengeFailed("unknown", "The account for this link no longer exists.")
        await self._user_store.mark_email_verified(user.id, self._clock.now())
        return await self._users.get(user.id), challenge

    async def tell_account_exists(self, email: str, *, ip: str | None) -> None:
        """Someone signed up with an email that has an account: tell its owner (with a link to
        reset the password, in case they forgot it) instead of telling the person at the form.
        The link is not tied to that person's authorization request: whoever filled the form
        may not be the owner. Counts against the same limits as every other email; a limited
        request sends nothing and still answers like a new sign-up."""
        normalized = normalize_email(email)
        user = await self._user_store.get_by_email(normalized)
        if user is None:  # deleted in between: nothing to tell
            return
        try:
            await self._check_limits(normalized, ip)
        except EmailRateLimited:
            return
        ttl = LINK_TTL[ChallengePurpose.RESET]
        _, link, _ = await self._challenge(
            ChallengePurpose.RESET, normalized, user, ttl=ttl, ip=ip, txn_id=None,
            invalidate_previous=True,
        )  # fmt: skip
        await self._email.send(
            "account_exists",
            user.email,
            {
                "email": user.email,
                "link": f"{self._settings.issuer}/ui/password/reset?token={link}",
                "minutes": ttl // 60,
            },
        )

    # -- password reset --------------------------------------------------------------------

    async def request_password_reset(
        self, email: str, *, ip: str | None, txn_id: str | None
    ) -> None:
        """Email a reset link when the account exists. Same answer and the same writes either
        way (the challenge row is written for unknown emails too), so nothing is revealed."""
        if not EMAIL_RE.match(email.strip()):
            raise InvalidInput("email", "Enter a valid email address.")
        normalized = normalize_email(email)
        await self._check_limits(normalized, ip)
        user = await self._user_store.get_by_email(normalized)
        ttl = LINK_TTL[ChallengePurpose.RESET]
        _, link, _ = await self._challenge(
            ChallengePurpose.RESET, normalized, user, ttl=ttl, ip=ip, txn_id=txn_id,
            invalidate_previous=True,
        )  # fmt: skip
        if user is None:
            return
        await self._email.send(
            "password_reset",
            user.email,
            {
                "email": user.email,
                "link": f"{self._settings.issuer}/ui/password/reset?token={link}",
                "minutes": ttl // 60,
            },
        )

    async def check_reset_link(self, token: str) -> Challenge:
        challenge = await self._by_link(token, ChallengePurpose.RESET)
        if challenge.user_id is None:
            raise ChallengeFailed("unknown", "This link is not valid. Ask for a new email.")
        return challenge

    async def reset_password(self, token: str, password: str) -> tuple[User, Challenge]:
        """Set the new password and end every session of the user (with back-channel logout)."""
        challenge = await self.check_reset_link(token)
        self._users.check_password_rules(password)
        await self._consume(challenge)
        user = await self._users.get(challenge.user_id or "")
        await self._users.set_password(user.id, password)
        for session in await self._sessions.for_user(user.id):
            await self._sessions.end(session, SessionStatus.REVOKED)
        if not user.email_verified:  # they proved they read this inbox
            await self._user_store.mark_email_verified(user.id, self._clock.now())
        return user, challenge

    # -- passwordless sign-in --------------------------------------------------------------

    async def start_sign_in(
        self,
        email: str,
        *,
        ip: str | None,
        txn_id: str,
        browser_id: str | None,
        app_name: str,
    ) -> Challenge:
        if not EMAIL_RE.match(email.strip()):
            raise InvalidInput("email", "Enter a valid email address.")
        normalized = normalize_email(email)
        await self._check_limits(normalized, ip)
        methods = self._settings.login_methods
        same_browser = self._settings.magic_link_same_browser
        with_link = "magic_link" in methods
        # "Same browser only" sends a code too, so the user can type it in the right browser.
        with_code = "email_code" in methods or (with_link and same_browser)
        user = await self._user_store.get_by_email(normalized)
        challenge, link, code = await self._challenge(
            ChallengePurpose.SIGN_IN, normalized, user, ttl=self._settings.email_code_ttl,
            ip=ip, txn_id=txn_id, with_code=with_code, with_link=with_link,
            browser_id=browser_id, invalidate_previous=self._settings.new_code_invalidates_old,
        )  # fmt: skip
        if user is None and not self._settings.signup_enabled:
            return challenge  # nothing is sent, and the page says the same as always
        await self._email.send(
            "sign_in",
            user.email if user else email.strip(),
            {
                "app_name": app_name,
                "code": code,
                "link": f"{self._settings.issuer}/ui/login/link?token={link}" if link else None,
                "minutes": max(1, self._settings.email_code_ttl // 60),
            },
        )
        return challenge

    async def finish_with_code(self, challenge_id: str, code: str) -> SignInResult:
        found = await self._challenges.get(challenge_id)
        challenge, code_digest = found if found is not None else (None, None)
        if challenge is None or challenge.purpose is not ChallengePurpose.SIGN_IN:
            raise ChallengeFailed("unknown", "This sign-in code request is not valid.")
        if code_digest is None:
            raise ChallengeFailed("unknown", "This sign-in request has no code; use the link.")
        self._check_usable(challenge)
        if challenge.attempts >= MAX_CODE_ATTEMPTS:
            raise ChallengeFailed("locked", "Too many wrong codes. Ask for a new code.")
        attempts = await self._challenges.count_attempt(challenge.id)
        presented = code.strip().replace(" ", "")
        if not self._digester.matches(f"email_code:{challenge.id}", presented, code_digest):
            if attempts >= MAX_CODE_ATTEMPTS:
                raise ChallengeFailed("locked", "Too many wrong codes. Ask for a new code.")
            left = MAX_CODE_ATTEMPTS - attempts
            tries = "1 try" if left == 1 else f"{left} tries"
            raise ChallengeFailed("wrong", f"That code is not right. {tries} left.")
        await self._consume(challenge)
        return await self._signed_in(challenge)

    async def finish_with_link(self, token: str, browser_id: str | None) -> SignInResult:
        challenge = await self._by_link(token, ChallengePurpose.SIGN_IN)
        presented = self.browser_digest(browser_id)
        if self._settings.magic_link_same_browser and (
            challenge.browser_digest is None
            or presented is None
            or not secrets_equal(presented, challenge.browser_digest)
        ):
            raise ChallengeFailed(
                "other_browser",
                "This link only works in the browser where you asked for it. Type the code from "
                "the email there instead.",
            )
        await self._consume(challenge)
        return await self._signed_in(challenge)

    async def _signed_in(self, challenge: Challenge) -> SignInResult:
        """The user proved they read the inbox: their email is verified; a first sign-in of an
        unknown email creates the account when sign-up is allowed."""
        user = await self._user_store.get_by_email(challenge.email)
        created = False
        if user is None:
            if not self._settings.signup_enabled:
                raise ChallengeFailed("unknown", "There is no account for this email.")
            user = await self._users.create(challenge.email, email_verified=True)
            created = True
        elif not user.email_verified:
            await self._user_store.mark_email_verified(user.id, self._clock.now())
            user = await self._users.get(user.id)
        return SignInResult(user=user, challenge=challenge, created=created)

    async def pending_challenge(self, challenge_id: str) -> Challenge | None:
        found = await self._challenges.get(challenge_id)
        return found[0] if found else None

    def now(self) -> datetime:
        return self._clock.now()
