"""The services of one running Ostiary, wired together by ``ostiary.bootstrap``."""

from __future__ import annotations

import dataclasses

from ostiary.config import Settings
from ostiary.protocol.digests import Digester
from ostiary.runtime.worker import BackgroundWorker
from ostiary.services.apps import AppService
from ostiary.services.authorize import AuthorizeService
from ostiary.services.backchannel import BackchannelService
from ostiary.services.bearer import BearerVerifier
from ostiary.services.clock import Clock
from ostiary.services.domains import DomainService
from ostiary.services.email import EmailService
from ostiary.services.email_flows import EmailFlows
from ostiary.services.events import AuthLog
from ostiary.services.keys import KeyService
from ostiary.services.login import LoginService
from ostiary.services.logout import LogoutService
from ostiary.services.organizations import OrganizationService, RoleService
from ostiary.services.passwords import PasswordService
from ostiary.services.sessions import SessionService
from ostiary.services.tokens import TokenIntrospection, TokenService
from ostiary.services.users import UserService
from ostiary.storage.db import Database

__all__ = ["Services"]


@dataclasses.dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    engine: Database
    clock: Clock
    digester: Digester
    apps: AppService
    users: UserService
    keys: KeyService
    passwords: PasswordService
    sessions: SessionService
    login: LoginService
    authorize: AuthorizeService
    tokens: TokenService
    introspection: TokenIntrospection
    bearer: BearerVerifier
    backchannel: BackchannelService
    logout: LogoutService
    organizations: OrganizationService
    domains: DomainService
    roles: RoleService
    events: AuthLog
    email: EmailService
    email_flows: EmailFlows
    worker: BackgroundWorker
