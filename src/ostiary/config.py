"""Settings: one frozen object, built once at start-up from ``OSTIARY_*`` environment variables.

An optional TOML file (``OSTIARY_CONFIG_FILE``) may hold the same settings under their names
without the prefix, in lower case (``issuer = "https://auth.example.com"``); the environment wins.

A wrong value stops start-up with a :class:`ConfigError` whose message is one line naming the
variable. Production (``OSTIARY_ENVIRONMENT=production``) refuses development defaults.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import os
import secrets
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

__all__ = ["ConfigError", "Environment", "Settings", "load_settings"]

PREFIX = "OSTIARY_"
MIN_SECRET_KEY_LENGTH = 32


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the variable and fits on one line."""


class Environment(enum.StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """Every knob of one Ostiary deployment. Build it with :func:`load_settings`."""

    issuer: str
    environment: Environment
    data_dir: Path
    database_url: str
    secret_key: str = dataclasses.field(repr=False)
    # Signing keys
    signing_algorithm: str = "RS256"
    key_activation_delay: int = 900
    # Token lifetimes (seconds)
    access_token_ttl: int = 300
    id_token_ttl: int = 1800
    client_credentials_ttl: int = 3600
    code_ttl: int = 600
    # Sessions (seconds; idle 0 = no idle timeout)
    session_idle_timeout: int = 7 * 24 * 3600
    session_absolute_timeout: int = 30 * 24 * 3600
    # Passwords (argon2id)
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    password_min_length: int = 8
    # Hosted pages
    signup_enabled: bool = True
    # Serving
    log_format: str = "text"
    db_pool_size: int = 10
    workers: int | None = None  # serve's default worker count (None: the number of CPUs)
    # Child processes per serving worker that sign JWTs (0: threads in the worker; None: its
    # share of the CPUs when serving, threads otherwise)
    signing_processes: int | None = None
    # Email
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_security: str = "starttls"  # starttls | tls | none
    smtp_username: str | None = None
    smtp_password: str | None = dataclasses.field(default=None, repr=False)
    email_from: str = "Ostiary <no-reply@localhost>"
    brand_name: str = "Ostiary"
    brand_logo_url: str | None = None
    email_templates_dir: Path | None = None
    # Sign-in methods (hosted login page) and email-based flows
    login_methods: tuple[str, ...] = ("password",)
    require_email_verification: bool = False
    email_code_ttl: int = 300
    magic_link_same_browser: bool = False
    new_code_invalidates_old: bool = True
    # Monitoring: /metrics needs this bearer token when set (in production, /metrics is off
    # without it)
    metrics_token: str | None = dataclasses.field(default=None, repr=False)
    # DNS servers for domain verification, (address, port); None: the system's resolver
    dns_nameservers: tuple[tuple[str, int], ...] | None = None

    @property
    def smtp_configured(self) -> bool:
        return self.smtp_host is not None

    @property
    def production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def longest_token_ttl(self) -> int:
        """The longest lifetime of any JWT signed with environment defaults."""
        return max(self.access_token_ttl, self.id_token_ttl, self.client_credentials_ttl)

    @property
    def longest_signed_ttl(self) -> int:
        """An upper bound on the lifetime of any token signed now or earlier: the defaults, and
        the largest access-token lifetime an app may have (below the idle timeout, or a day when
        there is none). A bound, not today's largest app setting, so that lowering an app's
        lifetime never unpublishes a key whose longer-lived tokens are still valid."""
        app_bound = self.session_idle_timeout or 86400
        return max(self.longest_token_ttl, app_bound)


T = TypeVar("T")


def load_settings(
    environ: Mapping[str, str] | None = None, *, create_dirs: bool = True
) -> Settings:
    """Build the settings from ``environ`` (default: the process environment)."""
    env = _merge_file(dict(os.environ if environ is None else environ))
    reader = _Reader(env)

    environment = reader.get("ENVIRONMENT", Environment.DEVELOPMENT, _parse_environment)
    production = environment is Environment.PRODUCTION
    issuer = reader.get("ISSUER", "http://127.0.0.1:8000", _parse_issuer)
    data_dir = reader.get("DATA_DIR", Path(".ostiary"), lambda v: Path(v).expanduser())
    data_dir = data_dir.resolve()
    default_db = f"sqlite:///{data_dir / 'ostiary.db'}"
    database_url = reader.get("DATABASE_URL", default_db, _parse_database_url)

    if production:
        if not issuer.startswith("https://"):
            raise ConfigError(
                f"OSTIARY_ISSUER: production needs an https:// issuer, got {issuer!r}"
            )
        if not env.get(PREFIX + "SECRET_KEY", "").strip():
            raise ConfigError(
                "OSTIARY_SECRET_KEY: production needs a secret key of at least "
                f"{MIN_SECRET_KEY_LENGTH} characters (e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'`)"
            )
    secret_key = reader.get("SECRET_KEY", "", _parse_secret_key)
    if not secret_key:
        if create_dirs:
            secret_key = _development_secret_key(data_dir)
        else:
            raise ConfigError("OSTIARY_SECRET_KEY: not set and the data folder is not prepared")

    settings = Settings(
        issuer=issuer,
        environment=environment,
        data_dir=data_dir,
        database_url=database_url,
        secret_key=secret_key,
        signing_algorithm=reader.get("SIGNING_ALGORITHM", "RS256", _choice("RS256", "ES256")),
        key_activation_delay=reader.get("KEY_ACTIVATION_DELAY", 900, _int_range(0, 30 * 86400)),
        access_token_ttl=reader.get("ACCESS_TOKEN_TTL", 300, _int_range(30, 86400)),
        id_token_ttl=reader.get("ID_TOKEN_TTL", 1800, _int_range(60, 86400)),
        client_credentials_ttl=reader.get("CLIENT_CREDENTIALS_TTL", 3600, _int_range(30, 86400)),
        code_ttl=reader.get("CODE_TTL", 600, _int_range(10, 600)),
        session_idle_timeout=reader.get(
            "SESSION_IDLE_TIMEOUT", 7 * 86400, _int_range(0, 365 * 86400)
        ),
        session_absolute_timeout=reader.get(
            "SESSION_ABSOLUTE_TIMEOUT", 30 * 86400, _int_range(300, 365 * 86400)
        ),
        argon2_time_cost=reader.get("ARGON2_TIME_COST", 3, _int_range(1, 20)),
        argon2_memory_kib=reader.get("ARGON2_MEMORY_KIB", 65536, _int_range(8192, 4194304)),
        argon2_parallelism=reader.get("ARGON2_PARALLELISM", 4, _int_range(1, 64)),
        password_min_length=reader.get("PASSWORD_MIN_LENGTH", 8, _int_range(8, 128)),
        signup_enabled=reader.get("SIGNUP_ENABLED", True, _parse_bool),
        log_format=reader.get(
            "LOG_FORMAT", "json" if production else "text", _choice("json", "text")
        ),
        db_pool_size=reader.get("DB_POOL_SIZE", 10, _int_range(1, 200)),
        workers=reader.get("WORKERS", None, _int_range(1, 512)),
        signing_processes=reader.get("SIGNING_PROCESSES", None, _int_range(0, 64)),
        smtp_host=reader.get("SMTP_HOST", None, str),
        smtp_port=reader.get("SMTP_PORT", 587, _int_range(1, 65535)),
        smtp_security=reader.get("SMTP_SECURITY", "starttls", _choice("starttls", "tls", "none")),
        smtp_username=reader.get("SMTP_USERNAME", None, str),
        smtp_password=reader.get("SMTP_PASSWORD", None, str),
        email_from=reader.get("EMAIL_FROM", "Ostiary <no-reply@localhost>", _parse_from),
        brand_name=reader.get("BRAND_NAME", "Ostiary", _parse_brand),
        brand_logo_url=reader.get("BRAND_LOGO_URL", None, _parse_https_or_http_url),
        email_templates_dir=reader.get("EMAIL_TEMPLATES_DIR", None, _parse_dir),
        login_methods=reader.get("LOGIN_METHODS", ("password",), _parse_login_methods),
        require_email_verification=reader.get("REQUIRE_EMAIL_VERIFICATION", False, _parse_bool),
        email_code_ttl=reader.get("EMAIL_CODE_TTL", 300, _int_range(60, 3600)),
        magic_link_same_browser=reader.get("MAGIC_LINK_SAME_BROWSER", False, _parse_bool),
        new_code_invalidates_old=reader.get("NEW_CODE_INVALIDATES_OLD", True, _parse_bool),
        metrics_token=reader.get("METRICS_TOKEN", None, _parse_metrics_token),
        dns_nameservers=reader.get("DNS_NAMESERVERS", None, _parse_nameservers),
    )
    _check_consistency(settings)
    if create_dirs:
        data_dir.mkdir(parents=True, exist_ok=True)
    return settings


def _check_consistency(settings: Settings) -> None:
    idle = settings.session_idle_timeout
    if idle and settings.access_token_ttl >= idle:
        raise ConfigError(
            "OSTIARY_ACCESS_TOKEN_TTL: must be shorter than OSTIARY_SESSION_IDLE_TIMEOUT "
            f"({settings.access_token_ttl} >= {idle})"
        )
    if idle and idle > settings.session_absolute_timeout:
        raise ConfigError(
            "OSTIARY_SESSION_IDLE_TIMEOUT: must not exceed OSTIARY_SESSION_ABSOLUTE_TIMEOUT "
            f"({idle} > {settings.session_absolute_timeout})"
        )


class _Reader:
    """Reads one variable, parses it, and turns a parse failure into a one-line ConfigError."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def get(self, name: str, default: T, parse: Callable[[str], T]) -> T:
        raw = self._env.get(PREFIX + name)
        if raw is None or raw.strip() == "":
            return default
        try:
            return parse(raw.strip())
        except ValueError as exc:
            raise ConfigError(f"{PREFIX}{name}: {exc}") from None


def _merge_file(env: dict[str, str]) -> dict[str, str]:
    path = env.get(PREFIX + "CONFIG_FILE")
    if not path:
        return env
    try:
        with open(path, "rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"OSTIARY_CONFIG_FILE: cannot read {path}: {exc}") from None
    merged = {PREFIX + key.upper(): _toml_value(value) for key, value in data.items()}
    merged.update(env)
    return merged


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _parse_environment(raw: str) -> Environment:
    try:
        return Environment(raw.lower())
    except ValueError:
        raise ValueError(f"must be 'development' or 'production', got {raw!r}") from None


def _parse_issuer(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http(s) URL such as https://auth.example.com, got {raw!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"must not have a query or fragment, got {raw!r}")
    return raw.rstrip("/")


def _parse_database_url(raw: str) -> str:
    """``sqlite:///PATH`` (``sqlite+aiosqlite:///PATH``, the form of earlier versions, still
    works: SQLite runs on the standard library's sqlite3 either way) or PostgreSQL, which is
    always reached through asyncpg."""
    if raw.startswith("postgresql://") or raw.startswith("postgres://"):
        raw = "postgresql+asyncpg://" + raw.split("://", 1)[1]
    if raw.startswith("sqlite+aiosqlite://"):
        raw = "sqlite://" + raw.split("://", 1)[1]
    if not (raw.startswith("sqlite://") or raw.startswith("postgresql+asyncpg://")):
        raise ValueError(
            "must be sqlite:///PATH or postgresql://USER@HOST/DB, "
            f"got scheme {raw.split(':', 1)[0]!r}"
        )
    if raw.startswith("sqlite") and raw.split("://", 1)[1].lstrip("/") in ("", ":memory:"):
        # Each pooled connection would open a database of its own, empty, in memory.
        raise ValueError("a SQLite URL needs a file path: sqlite:///PATH")
    return raw


def _parse_secret_key(raw: str) -> str:
    if len(raw) < MIN_SECRET_KEY_LENGTH:
        raise ValueError(f"must be at least {MIN_SECRET_KEY_LENGTH} characters long")
    return raw


MIN_METRICS_TOKEN_LENGTH = 16


def _parse_metrics_token(raw: str) -> str:
    if len(raw) < MIN_METRICS_TOKEN_LENGTH or not raw.isascii() or not raw.isprintable():
        raise ValueError(
            f"must be at least {MIN_METRICS_TOKEN_LENGTH} printable ASCII characters long"
        )
    return raw


def _parse_nameservers(raw: str) -> tuple[tuple[str, int], ...]:
    """``10.0.0.2``, ``127.0.0.1:5353``, ``[::1]:53``, comma-separated."""
    servers: list[tuple[str, int]] = []
    for item in (part.strip() for part in raw.split(",")):
        host, port = item, "53"
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port = rest.removeprefix(":") or "53"
        elif item.count(":") == 1:
            host, port = item.split(":")
        try:
            address = str(ipaddress.ip_address(host))
        except ValueError:
            raise ValueError(
                f"{item!r} is not an IP address with an optional port, such as 127.0.0.1:5353"
            ) from None
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"{item!r} has no valid port (1-65535)")
        servers.append((address, int(port)))
    return tuple(servers)


def _parse_bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"must be true or false, got {raw!r}")


LOGIN_METHODS = ("password", "email_code", "magic_link")


def _parse_login_methods(raw: str) -> tuple[str, ...]:
    """``password``, ``email_code``, ``magic_link``, ``code_and_link`` (= both email ways), or
    a comma-separated combination."""
    methods: list[str] = []
    for item in (part.strip() for part in raw.split(",")):
        expanded = ["email_code", "magic_link"] if item == "code_and_link" else [item]
        for method in expanded:
            if method not in LOGIN_METHODS:
                raise ValueError(
                    f"unknown sign-in method {method!r}; use password, email_code, magic_link, "
                    "code_and_link or a comma-separated combination"
                )
            if method not in methods:
                methods.append(method)
    if not methods:
        raise ValueError("name at least one sign-in method")
    return tuple(methods)


def _parse_from(raw: str) -> str:
    if "@" not in raw or "\n" in raw or "\r" in raw:
        raise ValueError(f"must be an address such as 'Acme <no-reply@acme.com>', got {raw!r}")
    return raw


def _parse_brand(raw: str) -> str:
    if len(raw) > 60:
        raise ValueError("must be at most 60 characters")
    return raw


def _parse_https_or_http_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http(s) URL, got {raw!r}")
    return raw


def _parse_dir(raw: str) -> Path:
    path = Path(raw).expanduser()
    if not path.is_dir():
        raise ValueError(f"{raw!r} is not a folder")
    return path


def _int_range(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"must be a whole number, got {raw!r}") from None
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}, got {value}")
        return value

    return parse


def _choice(*options: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in options:
            raise ValueError(f"must be one of {', '.join(options)}, got {raw!r}")
        return raw

    return parse


def _development_secret_key(data_dir: Path) -> str:
    """Development only: generate the secret key once and keep it (mode 0600) in the data dir."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    # Write a private temp file, then link it into place: atomic, and the first process wins.
    tmp = path.with_name(f".secret_key.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(48) + "\n")
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()
