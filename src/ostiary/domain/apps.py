"""Applications: the OAuth clients registered in an environment."""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime

__all__ = ["MAX_ACTIVE_SECRETS", "App", "AppType", "ClientSecret"]

MAX_ACTIVE_SECRETS = 2


class AppType(enum.StrEnum):
    WEB = "web"  # confidential: a server that keeps a client secret
    SPA = "spa"  # public: browser code, PKCE
    NATIVE = "native"  # public: desktop and mobile, PKCE

    @property
    def confidential(self) -> bool:
        return self is AppType.WEB


@dataclasses.dataclass(frozen=True, slots=True)
class App:
    id: str
    client_id: str
    name: str
    type: AppType
    enforce_pkce: bool
    management_api_access: bool
    introspect_all_tokens: bool  # a resource server: may introspect other clients' tokens
    third_party: bool
    access_token_ttl: int | None
    refresh_reuse_interval: int
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    initiate_login_uri: str | None
    backchannel_logout_uri: str | None
    is_console: bool
    created_at: datetime
    updated_at: datetime

    @property
    def requires_pkce(self) -> bool:
        return self.enforce_pkce or not self.type.confidential


@dataclasses.dataclass(frozen=True, slots=True)
class ClientSecret:
    id: str
    app_id: str
    hint: str  # last four characters, so a human can tell secrets apart
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None
