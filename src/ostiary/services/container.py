"""The services of one running Ostiary, wired together by ``ostiary.bootstrap``."""

from __future__ import annotations

import dataclasses

from sqlalchemy.ext.asyncio import AsyncEngine

from ostiary.config import Settings
from ostiary.protocol.digests import Digester
from ostiary.services.apps import AppService
from ostiary.services.clock import Clock
from ostiary.services.keys import KeyService
from ostiary.services.passwords import PasswordService
from ostiary.services.users import UserService

__all__ = ["Services"]


@dataclasses.dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    engine: AsyncEngine
    clock: Clock
    digester: Digester
    apps: AppService
    users: UserService
    keys: KeyService
    passwords: PasswordService
