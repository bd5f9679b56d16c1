"""The real ``ostiary`` command, run as a subprocess: apps, secrets, users and keys with
``--json`` output, every broken rule refused with a clear message and nothing written, and
production's refusal to run on an unmigrated schema or with a bad setting."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from tests.support.cli import DATABASE_LINE, FAST_ARGON2, OSTIARY, SAFETY_TIMEOUT, cli, error_lines

PRODUCTION = {
    "OSTIARY_ENVIRONMENT": "production",
    "OSTIARY_ISSUER": "https://auth.example.com",
    "OSTIARY_SECRET_KEY": "q" * 48,
}
WEB_CB = "https://app.example.com/cb"


def cli_together(
    data_dir: Path, *calls: tuple[str, ...], env: dict[str, str] | None = None
) -> list[subprocess.CompletedProcess[str]]:
    """Run independent read-only-or-refused commands at the same time (they only read the
    database), to keep the suite fast; results come back in the order given."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda args: cli(data_dir, *args, env=env), calls))


def ok_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert 0 == result.returncode, result.stderr
    return json.loads(result.stdout)


def refused(result: subprocess.CompletedProcess[str]) -> str:
    """The one-line error of a command that must fail (after the line naming the database);
    it printed nothing on stdout."""
    assert 0 != result.returncode, result.stdout
    assert "" == result.stdout
    assert "Traceback" not in result.stderr
    return "\n".join(error_lines(result.stderr))


def row_counts(data_dir: Path) -> dict[str, int]:
    """Rows per table, read straight from the SQLite file."""
    with sqlite3.connect(data_dir / "ostiary.db") as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("apps", "client_secrets", "users", "signing_keys")
        }


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A development data folder holding one web app and one SPA created through the CLI."""
    data_dir = tmp_path_factory.mktemp("cli") / "data"
    web = ok_json(
        cli(data_dir, "apps", "create", "--name", "Web", "--type", "web",
            "--redirect-uri", WEB_CB, "--json")
    )  # fmt: skip
    spa = ok_json(
        cli(data_dir, "apps", "create", "--name", "SPA", "--type", "spa",
            "--redirect-uri", "http://localhost:3000/cb", "--json")
    )  # fmt: skip
    return {"dir": data_dir, "web": web, "spa": spa}


def test_creating_a_web_app_prints_its_client_id_and_secret_once(
    workspace: dict[str, Any],
) -> None:
    """`apps create --type web --json` prints client_id, type and the client_secret."""
    web = workspace["web"]
    assert ("Web", "web", [WEB_CB]) == (web["name"], web["type"], web["redirect_uris"])
    assert web["client_id"].startswith("web_")
    assert web["client_secret"].startswith("sec_")
    assert web["secret_id"].startswith("csec_")


def test_a_spa_gets_no_client_secret(workspace: dict[str, Any]) -> None:
    """`apps create --type spa --json` prints a client_id and no client_secret (PKCE instead)."""
    spa = workspace["spa"]
    assert ("spa", True) == (spa["type"], spa["enforce_pkce"])
    assert spa["client_id"].startswith("spa_")
    assert "client_secret" not in spa
    assert "secret_id" not in spa


def test_each_broken_rule_is_refused_and_writes_nothing(workspace: dict[str, Any]) -> None:
    """A third secret, a query string, a 300-character URI and a SPA secret each exit non-zero
    with a message naming the rule and leave the database as it was; secrets are never
    printed again by `apps list`."""
    data_dir, web, spa = workspace["dir"], workspace["web"], workspace["spa"]
    second = ok_json(cli(data_dir, "apps", "secrets", "create", web["client_id"], "--json"))
    assert second["client_secret"] not in (web["client_secret"], "")
    before = row_counts(data_dir)

    long_uri = "https://app.example.com/" + "a" * (300 - len("https://app.example.com/"))
    third, query, too_long, spa_secret = (
        refused(result)
        for result in cli_together(
            data_dir,
            ("apps", "secrets", "create", web["client_id"], "--json"),
            ("apps", "create", "--name", "Q", "--type", "web",
             "--redirect-uri", WEB_CB + "?next=/home", "--json"),
            ("apps", "create", "--name", "L", "--type", "web",
             "--redirect-uri", long_uri, "--json"),
            ("apps", "secrets", "create", spa["client_id"], "--json"),
        )
    )  # fmt: skip
    assert "2 active secrets" in third
    assert "Revoke one" in third
    assert "(query)" in query
    assert "query string" in query
    assert "(too_long)" in too_long
    assert "256" in too_long
    assert "web apps only" in spa_secret

    for message in (third, query, too_long, spa_secret):
        assert 1 == len(message.splitlines()), message
    listing = cli(data_dir, "apps", "list", "--json")
    listed = ok_json(listing)
    assert before["apps"] == len(listed)
    assert {"Ostiary Console", "Web", "SPA"} <= {app["name"] for app in listed}
    assert before == row_counts(data_dir)
    for shown_once in (web["client_secret"], second["client_secret"]):
        assert shown_once not in listing.stdout


def test_a_web_app_may_be_allowed_to_introspect_every_token(workspace: dict[str, Any]) -> None:
    """`apps update --introspect-all-tokens` turns it on for a web app, `--no-…` off again;
    a SPA is refused (introspection needs a client secret)."""
    data_dir, web, spa = workspace["dir"], workspace["web"], workspace["spa"]
    on = ok_json(
        cli(data_dir, "apps", "update", web["client_id"], "--introspect-all-tokens", "--json")
    )
    off = ok_json(
        cli(data_dir, "apps", "update", web["client_id"], "--no-introspect-all-tokens", "--json")
    )
    spa_refused = refused(
        cli(data_dir, "apps", "update", spa["client_id"], "--introspect-all-tokens", "--json")
    )
    assert (False, True, False) == (
        web["introspect_all_tokens"],
        on["introspect_all_tokens"],
        off["introspect_all_tokens"],
    )
    assert "Only web apps can introspect tokens" in spa_refused


def test_users_are_created_with_a_password_from_stdin_and_checked(
    workspace: dict[str, Any],
) -> None:
    """`users create --password-stdin --json` prints id and email; a same-email-other-case user
    and a 3-character password are refused with clear messages."""
    data_dir = workspace["dir"]
    created = cli(
        data_dir, "users", "create", "--email", "a@b.co", "--password-stdin", "--json",
        stdin="correct horse battery\n",
    )  # fmt: skip
    user = ok_json(created)
    assert user["id"].startswith("usr_")
    assert "a@b.co" == user["email"]
    assert "correct horse" not in created.stdout + created.stderr

    with ThreadPoolExecutor(max_workers=2) as pool:
        duplicate, short = pool.map(
            lambda call: refused(
                cli(data_dir, "users", "create", "--email", call[0], "--password-stdin",
                    "--json", stdin=call[1])
            ),
            [("A@B.CO", "another good password\n"), ("c@d.co", "abc\n")],
        )  # fmt: skip
    assert "already exists" in duplicate
    assert "at least 8 characters" in short
    assert 1 == row_counts(data_dir)["users"]


def test_keys_are_listed_and_rotated(tmp_path: Path) -> None:
    """`keys list --json` shows the active key; `keys rotate --delay 0` adds one that signs now."""
    data_dir = tmp_path / "data"
    [first] = ok_json(cli(data_dir, "keys", "list", "--json"))
    assert ("RS256", "active") == (first["algorithm"], first["status"])
    assert first["kid"].startswith("key_")

    rotated = ok_json(cli(data_dir, "keys", "rotate", "--delay", "0", "--json"))
    assert ("RS256", "active") == (rotated["algorithm"], rotated["status"])
    assert first["kid"] != rotated["kid"]
    assert rotated["created_at"] == rotated["activates_at"]
    assert 2 == row_counts(data_dir)["signing_keys"]


def test_an_emergency_rotation_supersedes_the_key_waiting_to_sign(tmp_path: Path) -> None:
    """`keys rotate --delay 600` then `keys rotate --delay 0`: the second command names the
    first key as superseded (in its JSON, and on stderr), and `keys list` shows it so."""
    data_dir = tmp_path / "data"
    pending = ok_json(cli(data_dir, "keys", "rotate", "--delay", "600", "--json"))
    result = cli(data_dir, "keys", "rotate", "--delay", "0", "--json")
    emergency = ok_json(result)
    listed = ok_json(cli(data_dir, "keys", "list", "--json"))
    assert [pending["kid"]] == [key["kid"] for key in emergency["superseded"]]
    assert f"ostiary: Key {pending['kid']} was waiting to sign" in result.stderr
    assert {pending["kid"]: "superseded", emergency["kid"]: "active"} == {
        key["kid"]: key["status"]
        for key in listed
        if key["kid"] in (pending["kid"], emergency["kid"])
    }


def test_production_needs_a_migration_then_enforces_its_rules(tmp_path: Path) -> None:
    """Production refuses to run on an unmigrated schema; after `ostiary migrate` it works (a
    native app may use the loopback IP) and refuses http://localhost and wildcard redirect URIs,
    writing nothing for them (only the console, its secret and the native app exist)."""
    data_dir = tmp_path / "data"
    before_migration = cli(data_dir, "apps", "list", "--json", env=PRODUCTION)
    unmigrated = refused(before_migration)
    assert 2 == before_migration.returncode
    assert "run `ostiary migrate`" in unmigrated
    assert 1 == len(unmigrated.splitlines())

    migrated = cli(data_dir, "migrate", env=PRODUCTION)
    assert 0 == migrated.returncode, migrated.stderr

    native = ok_json(
        cli(data_dir, "apps", "create", "--name", "Desktop", "--type", "native",
            "--redirect-uri", "http://127.0.0.1/cb", "--json", env=PRODUCTION)
    )  # fmt: skip
    assert ("native", ["http://127.0.0.1/cb"]) == (native["type"], native["redirect_uris"])
    assert "client_secret" not in native

    localhost, wildcard = (
        refused(result)
        for result in cli_together(
            data_dir,
            ("apps", "create", "--name", "Dev", "--type", "web",
             "--redirect-uri", "http://localhost:3000/cb", "--json"),
            ("apps", "create", "--name", "Wild", "--type", "spa",
             "--redirect-uri", "https://*.example.com/cb", "--json"),
            env=PRODUCTION,
        )
    )  # fmt: skip
    assert "(localhost_in_production)" in localhost
    assert "(wildcard_in_production)" in wildcard
    assert {"apps": 2, "client_secrets": 1} == {
        table: count
        for table, count in row_counts(data_dir).items()
        if table in ("apps", "client_secrets")
    }


def test_a_bad_setting_exits_2_with_one_line_naming_the_variable(tmp_path: Path) -> None:
    """An unparsable OSTIARY_* value stops the command with exit 2 and a one-line message."""
    result = cli(tmp_path / "data", "apps", "list", env={"OSTIARY_ACCESS_TOKEN_TTL": "soon"})
    message = refused(result)
    assert 2 == result.returncode
    assert 1 == len(message.splitlines())
    assert "OSTIARY_ACCESS_TOKEN_TTL" in message
    assert not (tmp_path / "data" / "ostiary.db").exists()


def test_a_bad_worker_count_exits_2_with_one_line_naming_the_variable(tmp_path: Path) -> None:
    """`serve` with OSTIARY_WORKERS=abc stops with exit 2 and a one-line message naming it."""
    result = cli(tmp_path / "data", "serve", "--port", "0", env={"OSTIARY_WORKERS": "abc"})
    message = result.stderr.strip()
    assert 2 == result.returncode
    assert 1 == len(message.splitlines())
    assert "OSTIARY_WORKERS" in message


def test_serve_refuses_a_worker_count_its_workers_could_not_read(tmp_path: Path) -> None:
    """`serve --workers` takes 1-512, the range of OSTIARY_WORKERS, through which the worker
    processes learn their count; 0 or 1000 stop at once with exit 2, before any start-up."""
    for bad in ("0", "1000", "two"):
        result = cli(tmp_path / "data", "serve", "--port", "0", "--workers", bad)
        assert 2 == result.returncode, bad
        assert "--workers" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "data" / "ostiary.db").exists()


def test_a_data_command_names_a_database_that_is_not_the_default(tmp_path: Path) -> None:
    """With OSTIARY_DATA_DIR set, a data command says on stderr which database it uses."""
    data_dir = tmp_path / "elsewhere"
    result = cli(data_dir, "apps", "list", "--json")
    assert 0 == result.returncode, result.stderr
    expected = f"{DATABASE_LINE}sqlite:///{data_dir.resolve() / 'ostiary.db'}"
    assert [expected] == result.stderr.splitlines()


def test_the_default_database_beside_a_demo_says_where_the_demo_is(tmp_path: Path) -> None:
    """Run beside a demo's data folder with no OSTIARY_DATA_DIR, the CLI says it uses
    ./.ostiary and how to reach the demo's database instead."""
    (tmp_path / ".ostiary-demo").mkdir()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OSTIARY_")}
    result = subprocess.run(
        [str(OSTIARY), "apps", "list", "--json"], env={**environ, **FAST_ARGON2}, cwd=tmp_path,
        capture_output=True, text=True, timeout=SAFETY_TIMEOUT, check=False,
    )  # fmt: skip
    assert 0 == result.returncode, result.stderr
    assert [
        "ostiary: using the database in .ostiary/; the demo's is in .ostiary-demo/ "
        "(set OSTIARY_DATA_DIR=.ostiary-demo to use it)"
    ] == result.stderr.splitlines()


def test_output_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`ostiary apps list | head` where head has left: no BrokenPipeError traceback, and the
    exit status of a tool ended by SIGPIPE (141)."""
    data_dir = tmp_path / "data"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OSTIARY_")}
    environ.update({"OSTIARY_DATA_DIR": str(data_dir), **FAST_ARGON2})
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first write
    try:
        result = subprocess.run(
            [str(OSTIARY), "apps", "list"], env=environ, stdout=write_end,
            stderr=subprocess.PIPE, text=True, timeout=SAFETY_TIMEOUT, check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert "Traceback" not in result.stderr
    assert "BrokenPipeError" not in result.stderr
    assert 141 == result.returncode


def test_users_create_without_a_password_choice_is_refused_off_a_terminal(
    tmp_path: Path,
) -> None:
    """`users create` with neither --password-stdin nor --no-password, not on a terminal, is
    refused with a message naming both flags, and creates nobody."""
    data_dir = tmp_path / "data"
    message = refused(cli(data_dir, "users", "create", "--email", "p@example.com"))
    assert "--password-stdin" in message
    assert "--no-password" in message
    assert 0 == row_counts(data_dir)["users"]


def test_users_create_no_password_says_what_that_means(tmp_path: Path) -> None:
    """`users create --no-password` creates the user and says on stderr how they sign in."""
    data_dir = tmp_path / "data"
    result = cli(data_dir, "users", "create", "--email", "p@example.com", "--no-password")
    assert 0 == result.returncode, result.stderr
    assert "p@example.com" in result.stdout
    assert "note: this user has no password" in result.stderr
    assert 1 == row_counts(data_dir)["users"]


@pytest.mark.parametrize(
    ("app_type", "client_credentials"), [("web", True), ("spa", False), ("native", False)]
)
def test_an_app_without_a_redirect_uri_is_told_what_it_cannot_do(
    tmp_path: Path, app_type: str, client_credentials: bool
) -> None:
    """`apps create` without --redirect-uri creates the app and says it cannot sign users in
    yet (a web app can already use client_credentials) and how to add one."""
    result = cli(
        tmp_path / "data", "apps", "create", "--name", "Bare", "--type", app_type, "--json"
    )
    app = ok_json(result)
    assert [] == app["redirect_uris"]
    assert "has no redirect URI, so it cannot sign users in yet" in result.stderr
    assert f"ostiary apps update {app['client_id']} --redirect-uri URI" in result.stderr
    assert client_credentials == ("client_credentials" in result.stderr)
