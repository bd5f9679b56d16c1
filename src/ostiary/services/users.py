"""Users: create, look up, delete."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from ostiary.domain.ids import new_id
from ostiary.domain.users import User
from ostiary.services.clock import Clock
from ostiary.services.errors import Conflict, InvalidInput, NotFound
from ostiary.services.passwords import MAX_PASSWORD_LENGTH, PasswordService
from ostiary.storage.pages import Page
from ostiary.storage.users import DuplicateUserError, UserStore

__all__ = ["UserService"]

# Deliberately loose: one @, no spaces, a dot in the domain. Deliverability is proven by the
# verification email, not by a regular expression.
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")
# What ``update`` may change; the password has its own method, roles theirs.
PROFILE_FIELDS = frozenset(
    {"email", "email_verified", "name", "given_name", "family_name", "picture", "locale",
     "metadata", "external_id"}
)  # fmt: skip


class UserService:
    def __init__(
        self, store: UserStore, passwords: PasswordService, clock: Clock, *, min_password: int
    ) -> None:
        self._store = store
        self._passwords = passwords
        self._clock = clock
        self._min_password = min_password

    def check_password_rules(self, password: str) -> None:
        if len(password) < self._min_password:
            raise InvalidInput(
                "password",
                f"The password is too short: use at least {self._min_password} characters.",
                rule="password_too_short",
            )
        if len(password) > MAX_PASSWORD_LENGTH:
            raise InvalidInput(
                "password",
                f"The password is too long: use at most {MAX_PASSWORD_LENGTH} characters.",
                rule="password_too_long",
            )

    async def create(
        self,
        email: str,
        *,
        password: str | None = None,
        name: str | None = None,
        email_verified: bool = False,
        roles: tuple[str, ...] = (),
        metadata: dict[str, Any] | None = None,
    ) -> User:
        email = email.strip()
        if len(email) > 320 or not EMAIL_RE.fullmatch(email):
            raise InvalidInput("email", f"{email!r} is not a valid email address.")
        if password is not None:
            self.check_password_rules(password)
        now = self._clock.now()
        user = User(
            id=new_id("usr"),
            email=email,
            email_verified=email_verified,
            name=(name or "").strip() or None,
            given_name=None,
            family_name=None,
            picture=None,
            locale=None,
            metadata=metadata or {},
            external_id=None,
            created_at=now,
            updated_at=now,
            last_login_at=None,
            roles=roles,
        )
        password_hash = await self._passwords.hash(password) if password is not None else None
        try:
            await self._store.insert(user, password_hash)
        except DuplicateUserError:
            raise Conflict(f"A user with the email {email} already exists.") from None
        return user

    async def get(self, ref: str) -> User:
        """A user by id (``usr_…``) or email."""
        user = await (
            self._store.get(ref) if ref.startswith("usr_") else self._store.get_by_email(ref)
        )
        if user is None:
            raise NotFound(f"No user {ref!r}.")
        return user

    async def all(self) -> list[User]:
        return await self._store.all()

    async def set_password(self, user_id: str, password: str) -> None:
        self.check_password_rules(password)
        await self._store.set_password_hash(user_id, await self._passwords.hash(password))

    async def record_login(self, user_id: str) -> None:
        await self._store.record_login(user_id, self._clock.now())

    async def grant_role(self, ref: str, role: str) -> User:
        user = await self.get(ref)
        if role not in user.roles:
            await self._store.set_roles(user.id, (*user.roles, role))
        return await self.get(user.id)

    async def page(self, *, after: str | None, limit: int, email: str | None = None) -> Page[User]:
        return await self._store.page(after=after, limit=limit, email=email)

    async def update(self, ref: str, **changes: Any) -> User:
        """Change profile fields. A new email must be valid and free; unless ``email_verified``
        is given too, it is unverified."""
        user = await self.get(ref)
        unknown = set(changes) - PROFILE_FIELDS
        if unknown:
            raise InvalidInput(
                sorted(unknown)[0], f"Unknown field(s): {', '.join(sorted(unknown))}."
            )
        if "email" in changes:
            email = str(changes["email"]).strip()
            if len(email) > 320 or not EMAIL_RE.fullmatch(email):
                raise InvalidInput("email", f"{email!r} is not a valid email address.")
            changes["email"] = email
            if email.lower() != user.email.lower():
                changes.setdefault("email_verified", False)
        updated = dataclasses.replace(user, **changes, updated_at=self._clock.now())
        try:
            await self._store.update_profile(updated)
        except DuplicateUserError:
            raise Conflict(
                f"Another user already has the email {updated.email} or that external_id."
            ) from None
        return updated
