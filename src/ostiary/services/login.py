"""Signing in with email and password, throttled per address, per (account, address) and per
account (``ostiary.services.throttle``).

The account-wide limit stops guessing spread over many addresses, but it would let anyone keep
an account's owner out. So a browser that signed in to the account before (``KnownDevices``: a
signed cookie bound to the account) is exempt from it, and only from it: the limits per address
and per (account, address) still apply, and the password is always checked."""

from __future__ import annotations

import hmac
from datetime import timedelta

from ostiary.domain.users import User, normalize_email
from ostiary.protocol.digests import Digester
from ostiary.services.clock import Clock
from ostiary.services.errors import ServiceError
from ostiary.services.passwords import PasswordService
from ostiary.services.throttle import Attempt, Limit, Throttle, wait_text
from ostiary.storage.users import UserStore

__all__ = [
    "ACCOUNT",
    "ACCOUNT_IP",
    "DEVICE_LIFETIME",
    "IP",
    "KnownDevices",
    "LoginFailed",
    "LoginService",
    "Throttled",
]

IP = Limit("ip", 20)  # every account from one address
ACCOUNT_IP = Limit("acct-ip", 5)  # one account from one address
ACCOUNT = Limit("acct", 10)  # one account from everywhere, except its known devices
DEVICE_LIFETIME = timedelta(days=180)
DEVICE_ACCOUNTS = 5  # accounts remembered per browser


class LoginFailed(ServiceError):
    code = "login_failed"


class Throttled(ServiceError):
    code = "throttled"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many failed sign-in attempts. {wait_text(retry_after)}, then try again."
        )
        self.retry_after = retry_after


class KnownDevices:
    """The device cookie: up to ``DEVICE_ACCOUNTS`` tags ``EXPIRES-MAC`` joined by ``.``, the
    MAC an HMAC (keyed from the secret key) of the user id and the expiry. A tag says only
    "this browser signed in to this account before": it is worth nothing for another account,
    and it never stands in for the password."""

    def __init__(self, digester: Digester, clock: Clock) -> None:
        self._digester = digester
        self._clock = clock

    def _mac(self, user_id: str, expires: int) -> str:
        return self._digester.digest("device", f"{user_id}|{expires}")

    def _tags(self, cookie: str | None) -> list[tuple[int, str]]:
        now = int(self._clock.now().timestamp())
        tags: list[tuple[int, str]] = []
        for tag in (cookie or "").split(".")[:DEVICE_ACCOUNTS]:
            expires, _, mac = tag.partition("-")
            if expires.isdigit() and len(expires) < 12 and int(expires) > now and mac:
                tags.append((int(expires), mac))
        return tags

    def knows(self, cookie: str | None, user_id: str) -> bool:
        return any(
            hmac.compare_digest(self._mac(user_id, expires).encode(), mac.encode("utf-8"))
            for expires, mac in self._tags(cookie)
        )

    def remember(self, cookie: str | None, user_id: str) -> str:
        """The cookie's new value: a fresh tag for ``user_id`` first, then the others."""
        expires = int((self._clock.now() + DEVICE_LIFETIME).timestamp())
        others = [
            f"{e}-{mac}"
            for e, mac in self._tags(cookie)
            if not hmac.compare_digest(self._mac(user_id, e).encode(), mac.encode("utf-8"))
        ]
        return ".".join([f"{expires}-{self._mac(user_id, expires)}", *others][:DEVICE_ACCOUNTS])


class LoginService:
    def __init__(
        self,
        users: UserStore,
        passwords: PasswordService,
        throttle: Throttle,
        digester: Digester,
        clock: Clock,
    ) -> None:
        self._users = users
        self._passwords = passwords
        self._throttle = throttle
        self._digester = digester
        self.devices = KnownDevices(digester, clock)

    async def sign_in(
        self, email: str, password: str, ip: str | None, *, device: str | None = None
    ) -> User:
        """The user whose password this is; raises LoginFailed or Throttled. The attempt is
        reserved before the password is checked (``ostiary.services.throttle``). Unknown emails
        cost one argon2 verification too, so timing does not tell which emails exist.
        ``device``: the browser's device cookie."""
        found = await self._users.credentials(email)
        user, password_hash = found if found is not None else (None, None)
        known = user is not None and self.devices.knows(device, user.id)
        attempt = await self._reserve(email, ip, known_device=known)
        ok = await self._passwords.verify(password_hash, password)
        if not ok or user is None:
            raise LoginFailed("The email or password is not right.")
        await self._throttle.refund(attempt, reset=(ACCOUNT_IP,))
        if password_hash and self._passwords.needs_rehash(password_hash):
            await self._users.set_password_hash(user.id, await self._passwords.hash(password))
        return user

    async def _reserve(self, email: str, ip: str | None, *, known_device: bool) -> Attempt:
        account = self._digester.digest("throttle", normalize_email(email))[:40]
        keys: list[tuple[Limit, str]] = []
        if ip:
            keys += [(IP, IP.key(ip)), (ACCOUNT_IP, ACCOUNT_IP.key(account, ip))]
        if not known_device or not ip:
            keys.append((ACCOUNT, ACCOUNT.key(account)))
        reserved = await self._throttle.reserve(keys)
        if isinstance(reserved, int):
            raise Throttled(reserved)
        return reserved
