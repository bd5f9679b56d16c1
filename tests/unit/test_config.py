"""Settings: defaults, production refusals, one-line errors that name the variable, the
development secret key, URL normalization, consistency checks and the optional TOML file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ostiary.config import ConfigError, Environment, load_settings

GOOD_SECRET = "s" * 48


def production_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    env = {
        "OSTIARY_ENVIRONMENT": "production",
        "OSTIARY_ISSUER": "https://auth.example.com",
        "OSTIARY_SECRET_KEY": GOOD_SECRET,
        "OSTIARY_DATA_DIR": str(data_dir),
    }
    env.update(overrides)
    return env


def config_error(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    return str(info.value)


def test_defaults_are_a_local_development_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no variables: development, issuer http://127.0.0.1:8000, ./.ostiary, SQLite in it."""
    monkeypatch.chdir(tmp_path)
    settings = load_settings({})
    data_dir = (tmp_path / ".ostiary").resolve()
    assert (Environment.DEVELOPMENT, False) == (settings.environment, settings.production)
    assert "http://127.0.0.1:8000" == settings.issuer
    assert data_dir == settings.data_dir
    assert f"sqlite:///{data_dir / 'ostiary.db'}" == settings.database_url
    assert data_dir.is_dir()


def test_default_database_follows_the_data_dir(tmp_path: Path) -> None:
    """OSTIARY_DATA_DIR moves the default SQLite database with it."""
    settings = load_settings({"OSTIARY_DATA_DIR": str(tmp_path / "elsewhere")})
    expected = f"sqlite:///{(tmp_path / 'elsewhere').resolve() / 'ostiary.db'}"
    assert expected == settings.database_url


def test_production_with_secure_values_loads(tmp_path: Path) -> None:
    """Production accepts an https issuer and a long secret key, and logs JSON by default."""
    settings = load_settings(production_env(tmp_path))
    assert (True, "https://auth.example.com", "json") == (
        settings.production,
        settings.issuer,
        settings.log_format,
    )


def test_production_refuses_an_http_issuer(tmp_path: Path) -> None:
    """Production stops on an http:// issuer with a one-line message naming OSTIARY_ISSUER."""
    message = config_error(production_env(tmp_path, OSTIARY_ISSUER="http://auth.example.com"))
    assert message.startswith("OSTIARY_ISSUER")
    assert "https" in message
    assert 1 == len(message.splitlines())


def test_production_refuses_the_default_issuer(tmp_path: Path) -> None:
    """Production with no OSTIARY_ISSUER does not fall back to the http development default."""
    env = production_env(tmp_path)
    del env["OSTIARY_ISSUER"]
    message = config_error(env)
    assert "OSTIARY_ISSUER" == message.split(":", 1)[0]
    assert "http://127.0.0.1:8000" in message


@pytest.mark.parametrize("value", [None, "", "   "])
def test_production_refuses_a_missing_secret_key(tmp_path: Path, value: str | None) -> None:
    """Production without OSTIARY_SECRET_KEY (absent or blank) stops with a message naming it."""
    env = production_env(tmp_path)
    if value is None:
        del env["OSTIARY_SECRET_KEY"]
    else:
        env["OSTIARY_SECRET_KEY"] = value
    message = config_error(env)
    assert message.startswith("OSTIARY_SECRET_KEY")
    assert 1 == len(message.splitlines())
    assert not (tmp_path / "secret_key").exists()


def test_production_refuses_a_short_secret_key(tmp_path: Path) -> None:
    """A 31-character secret key is refused with a message naming the variable and the minimum."""
    message = config_error(production_env(tmp_path, OSTIARY_SECRET_KEY="k" * 31))
    assert message.startswith("OSTIARY_SECRET_KEY")
    assert "32" in message
    assert 1 == len(message.splitlines())


def test_a_secret_key_of_exactly_the_minimum_length_is_accepted(tmp_path: Path) -> None:
    """The minimum secret key length (32 characters) is itself allowed."""
    settings = load_settings(production_env(tmp_path, OSTIARY_SECRET_KEY="k" * 32))
    assert "k" * 32 == settings.secret_key


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OSTIARY_ACCESS_TOKEN_TTL", "five"),
        ("OSTIARY_ACCESS_TOKEN_TTL", "10"),  # below the 30 s minimum
        ("OSTIARY_DB_POOL_SIZE", "1.5"),
        ("OSTIARY_ARGON2_TIME_COST", "0"),
        ("OSTIARY_SIGNUP_ENABLED", "maybe"),
        ("OSTIARY_ENVIRONMENT", "staging"),
        ("OSTIARY_SIGNING_ALGORITHM", "HS256"),
        ("OSTIARY_LOG_FORMAT", "xml"),
        ("OSTIARY_ISSUER", "auth.example.com"),
        ("OSTIARY_ISSUER", "https://auth.example.com/?tenant=a"),
        ("OSTIARY_DATABASE_URL", "mysql://root@localhost/ostiary"),
        ("OSTIARY_DATABASE_URL", "sqlite+aiosqlite://"),
        ("OSTIARY_DATABASE_URL", "sqlite:///:memory:"),
        ("OSTIARY_METRICS_TOKEN", "short"),
        ("OSTIARY_METRICS_TOKEN", "sixteen chars é!"),
        ("OSTIARY_DNS_NAMESERVERS", "dns.example.com"),
        ("OSTIARY_DNS_NAMESERVERS", "127.0.0.1:99999"),
    ],
)
def test_a_bad_value_names_its_variable_in_one_line(
    tmp_path: Path, variable: str, value: str
) -> None:
    """Each unparsable or out-of-range value raises a one-line ConfigError naming the variable."""
    message = config_error({"OSTIARY_DATA_DIR": str(tmp_path), variable: value})
    assert variable == message.split(":", 1)[0]
    assert 1 == len(message.splitlines())


@pytest.mark.parametrize(("raw", "expected"), [("yes", True), ("OFF", False), ("1", True)])
def test_booleans_accept_the_usual_spellings(tmp_path: Path, raw: str, expected: bool) -> None:
    """Boolean settings understand yes/no, on/off, 1/0, true/false in any case."""
    settings = load_settings({"OSTIARY_DATA_DIR": str(tmp_path), "OSTIARY_SIGNUP_ENABLED": raw})
    assert expected == settings.signup_enabled


def test_development_generates_the_secret_key_once_and_keeps_it_private(tmp_path: Path) -> None:
    """Development writes a random secret key to data_dir/secret_key (0600) and reuses it."""
    env = {"OSTIARY_DATA_DIR": str(tmp_path / "data")}
    first = load_settings(env)
    key_file = tmp_path / "data" / "secret_key"
    second = load_settings(env)
    assert 0o600 == stat.S_IMODE(key_file.stat().st_mode)
    assert first.secret_key == key_file.read_text().strip()
    assert first.secret_key == second.secret_key
    assert len(first.secret_key) >= 32
    assert ["secret_key"] == sorted(p.name for p in key_file.parent.iterdir())


def test_separate_data_dirs_get_different_development_keys(tmp_path: Path) -> None:
    """The development secret key is random, not a fixed default shared by every install."""
    one = load_settings({"OSTIARY_DATA_DIR": str(tmp_path / "one")})
    two = load_settings({"OSTIARY_DATA_DIR": str(tmp_path / "two")})
    assert one.secret_key != two.secret_key


def test_an_explicit_secret_key_writes_no_key_file(tmp_path: Path) -> None:
    """When OSTIARY_SECRET_KEY is set it is used and no key file is generated."""
    settings = load_settings({"OSTIARY_DATA_DIR": str(tmp_path), "OSTIARY_SECRET_KEY": GOOD_SECRET})
    assert GOOD_SECRET == settings.secret_key
    assert not (tmp_path / "secret_key").exists()


def test_secret_key_is_not_shown_in_the_settings_repr(tmp_path: Path) -> None:
    """repr(settings) (e.g. in a log line) never contains the secret key."""
    settings = load_settings({"OSTIARY_DATA_DIR": str(tmp_path), "OSTIARY_SECRET_KEY": GOOD_SECRET})
    assert GOOD_SECRET not in repr(settings)


def test_metrics_token_is_not_shown_in_the_settings_repr(tmp_path: Path) -> None:
    """repr(settings) never contains OSTIARY_METRICS_TOKEN."""
    token = "scrape-me-with-this-token"
    settings = load_settings({"OSTIARY_DATA_DIR": str(tmp_path), "OSTIARY_METRICS_TOKEN": token})
    assert token == settings.metrics_token
    assert token not in repr(settings)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("postgres://u:p@db:5432/ostiary", "postgresql+asyncpg://u:p@db:5432/ostiary"),
        ("postgresql://u@db/ostiary", "postgresql+asyncpg://u@db/ostiary"),
        ("postgresql+asyncpg://u@db/ostiary", "postgresql+asyncpg://u@db/ostiary"),
        ("sqlite:////var/lib/ostiary.db", "sqlite:////var/lib/ostiary.db"),
        ("sqlite+aiosqlite:////var/lib/ostiary.db", "sqlite:////var/lib/ostiary.db"),
    ],
)
def test_database_urls_are_normalized(tmp_path: Path, raw: str, expected: str) -> None:
    """postgres:// and postgresql:// become postgresql+asyncpg://; the sqlite+aiosqlite:// of
    earlier versions becomes sqlite:// (aiosqlite is not used)."""
    settings = load_settings({"OSTIARY_DATA_DIR": str(tmp_path), "OSTIARY_DATABASE_URL": raw})
    assert expected == settings.database_url


@pytest.mark.parametrize("ttl", ["600", "700"])
def test_access_token_ttl_must_be_shorter_than_the_idle_timeout(tmp_path: Path, ttl: str) -> None:
    """An access-token lifetime equal to or above the session idle timeout is refused."""
    message = config_error(
        {
            "OSTIARY_DATA_DIR": str(tmp_path),
            "OSTIARY_SESSION_IDLE_TIMEOUT": "600",
            "OSTIARY_ACCESS_TOKEN_TTL": ttl,
        }
    )
    assert "OSTIARY_ACCESS_TOKEN_TTL" == message.split(":", 1)[0]
    assert "OSTIARY_SESSION_IDLE_TIMEOUT" in message


def test_no_idle_timeout_lifts_the_access_token_limit(tmp_path: Path) -> None:
    """An idle timeout of 0 (none) allows any valid access-token lifetime."""
    settings = load_settings(
        {
            "OSTIARY_DATA_DIR": str(tmp_path),
            "OSTIARY_SESSION_IDLE_TIMEOUT": "0",
            "OSTIARY_ACCESS_TOKEN_TTL": "86400",
        }
    )
    assert (0, 86400) == (settings.session_idle_timeout, settings.access_token_ttl)


def test_idle_timeout_may_not_exceed_the_absolute_timeout(tmp_path: Path) -> None:
    """An idle timeout longer than the absolute session lifetime is refused, naming the idle one."""
    message = config_error(
        {
            "OSTIARY_DATA_DIR": str(tmp_path),
            "OSTIARY_SESSION_IDLE_TIMEOUT": "7200",
            "OSTIARY_SESSION_ABSOLUTE_TIMEOUT": "3600",
        }
    )
    assert "OSTIARY_SESSION_IDLE_TIMEOUT" == message.split(":", 1)[0]


def test_longest_token_ttl_is_the_longest_jwt_lifetime(tmp_path: Path) -> None:
    """longest_token_ttl is the largest of the access, ID and client-credentials lifetimes."""
    settings = load_settings({"OSTIARY_DATA_DIR": str(tmp_path), "OSTIARY_ID_TOKEN_TTL": "7200"})
    assert 7200 == settings.longest_token_ttl


def test_config_file_is_read_and_the_environment_overrides_it(tmp_path: Path) -> None:
    """Values come from the OSTIARY_CONFIG_FILE TOML; an OSTIARY_* variable beats the file."""
    config_file = tmp_path / "ostiary.toml"
    config_file.write_text(
        'issuer = "https://from-file.example.com"\n'
        "access_token_ttl = 120\n"
        "signup_enabled = false\n"
        f'data_dir = "{tmp_path / "data"}"\n'
    )
    settings = load_settings(
        {
            "OSTIARY_CONFIG_FILE": str(config_file),
            "OSTIARY_ISSUER": "https://from-env.example.com",
        }
    )
    assert "https://from-env.example.com" == settings.issuer
    assert 120 == settings.access_token_ttl
    assert False is settings.signup_enabled
    assert (tmp_path / "data").resolve() == settings.data_dir


def test_a_bad_value_in_the_config_file_names_its_variable(tmp_path: Path) -> None:
    """A wrong value in the TOML file is reported under its OSTIARY_* name."""
    config_file = tmp_path / "ostiary.toml"
    config_file.write_text('access_token_ttl = "soon"\n')
    message = config_error(
        {"OSTIARY_CONFIG_FILE": str(config_file), "OSTIARY_DATA_DIR": str(tmp_path)}
    )
    assert "OSTIARY_ACCESS_TOKEN_TTL" == message.split(":", 1)[0]


@pytest.mark.parametrize("content", [None, "issuer = \n"])
def test_an_unreadable_config_file_is_a_one_line_error(tmp_path: Path, content: str | None) -> None:
    """A missing or malformed OSTIARY_CONFIG_FILE stops with a message naming the variable."""
    config_file = tmp_path / "ostiary.toml"
    if content is not None:
        config_file.write_text(content)
    message = config_error(
        {"OSTIARY_CONFIG_FILE": str(config_file), "OSTIARY_DATA_DIR": str(tmp_path)}
    )
    assert "OSTIARY_CONFIG_FILE" == message.split(":", 1)[0]
    assert 1 == len(message.splitlines())


def test_issuer_trailing_slash_is_removed(tmp_path: Path) -> None:
    """An issuer written with a trailing slash is stored without it (so iss matches exactly)."""
    settings = load_settings(
        {"OSTIARY_DATA_DIR": str(tmp_path), "OSTIARY_ISSUER": "http://localhost:8000/"}
    )
    assert "http://localhost:8000" == settings.issuer


def test_settings_are_frozen(tmp_path: Path) -> None:
    """Settings cannot be changed after start-up."""
    settings = load_settings({"OSTIARY_DATA_DIR": str(tmp_path)})
    with pytest.raises(AttributeError):
        settings.issuer = "https://other.example.com"  # type: ignore[misc]


def test_dns_nameservers_take_addresses_with_optional_ports(tmp_path: Path) -> None:
    """OSTIARY_DNS_NAMESERVERS: IPv4 and bracketed IPv6, port 53 unless given."""
    settings = load_settings(
        {
            "OSTIARY_DATA_DIR": str(tmp_path),
            "OSTIARY_DNS_NAMESERVERS": "10.0.0.2, 127.0.0.1:5353,[::1]:53,::2",
        }
    )
    expected = (("10.0.0.2", 53), ("127.0.0.1", 5353), ("::1", 53), ("::2", 53))
    assert expected == settings.dns_nameservers
