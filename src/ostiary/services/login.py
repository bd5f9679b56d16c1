"""Signing in with email and password, with throttling per account and per IP address."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from ostiary.domain.users import User, normalize_email
from ostiary.protocol.digests import Digester
from ostiary.services.clock import Clock
from ostiary.services.errors import ServiceError
from ostiary.services.passwords import PasswordService
from ostiary.storage.misc import ThrottleStore
from ostiary.storage.users import UserStore

__all__ = ["LoginFailed", "LoginService", "Throttled"]

ACCOUNT_FREE_FAILURES = 5
IP_FREE_FAILURES = 20
WINDOW_SECONDS = 15 * 60
MAX_BLOCK_SECONDS = 15 * 60


class LoginFailed(ServiceError):
    code = "login_failed"


class Throttled(ServiceError):
    code = "throttled"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many failed sign-in attempts. Wait {retry_after} seconds, then try again."
        )
        self.retry_after = retry_after


class LoginService:
    def __init__(
        self,
        users: UserStore,
        passwords: PasswordService,
        throttle: ThrottleStore,
        digester: Digester,
        clock: Clock,
    ) -> None:
        self._users = users
        self._passwords = passwords
        self._throttle = throttle
        self._digester = digester
        self._clock = clock

    def _keys(self, email: str, ip: str | None) -> tuple[str, str | None]:
        account = "acct:" + self._digester.digest("throttle", normalize_email(email))[:40]
        return account, (f"ip:{ip}" if ip else None)

    async def check_throttle(self, email: str, ip: str | None) -> None:
        account, ip_key = self._keys(email, ip)
        keys = [account] + ([ip_key] if ip_key else [])
        until = await self._throttle.blocked_until(keys)
        now = self._clock.now()
        if until is not None and until > now:
            raise Throttled(max(1, math.ceil((until - now).total_seconds())))

    async def sign_in(self, email: str, password: str, ip: str | None) -> User:
        """The user whose password this is; raises LoginFailed or Throttled. Unknown emails
        cost one argon2 verification too, so timing does not tell which emails exist."""
        await self.check_throttle(email, ip)
        found = await self._users.credentials(email)
        user, password_hash = found if found is not None else (None, None)
        ok = await self._passwords.verify(password_hash, password)
        account, ip_key = self._keys(email, ip)
        if not ok or user is None:
            now = self._clock.now()
            await self._count_failure(account, ACCOUNT_FREE_FAILURES, now)
            if ip_key:
                await self._count_failure(ip_key, IP_FREE_FAILURES, now)
            raise LoginFailed("The email or password is not right.")
        await self._throttle.reset(account)
        if password_hash and self._passwords.needs_rehash(password_hash):
            await self._users.set_password_hash(user.id, await self._passwords.hash(password))
        return user

    async def _count_failure(self, key: str, free: int, now: datetime) -> None:
        failures = await self._throttle.record_failure(key, now, window_seconds=WINDOW_SECONDS)
        if failures >= free:  # the next attempt after the free ones waits, longer each time
            delay = min(MAX_BLOCK_SECONDS, 2 ** min(failures - free + 1, 20))
            await self._throttle.block(key, now + timedelta(seconds=delay))
