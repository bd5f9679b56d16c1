"""Secrets never rest in plain text: after full flows, no table holds a code, refresh token,
session cookie value, client secret or password as given to the browser or the app."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

import sqlalchemy as sa
from flow_helpers import EMAIL, PASSWORD, FlowHelper, Tokens
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine


async def _dump_every_table(engine: AsyncEngine) -> str:
    """Every row of every table in the database, as text (SELECT * on each table)."""

    def dump(conn: Connection) -> str:
        lines = []
        for name in sa.inspect(conn).get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{name}"')):
                lines.append(f"{name}: {tuple(row)!r}")
        return "\n".join(lines)

    async with engine.connect() as conn:
        return await conn.run_sync(dump)


async def test_database_holds_no_raw_secret_after_full_flows(flow: FlowHelper) -> None:
    """No table holds a raw code, refresh token, cookie, client secret or password."""
    web, spa = await flow.web(), await flow.spa()
    user = await flow.user()
    web_code = await flow.login(web)
    first = await flow.tokens(web_code)
    rotated = Tokens(await flow.refresh(web, first.refresh_token))
    spa_code = await flow.sso(spa)
    spa_tokens = await flow.tokens(spa_code)
    cookie = flow.session_cookie()
    assert cookie is not None and web.secret is not None
    secrets = {
        "web code": web_code.code,
        "spa code": spa_code.code,
        "first refresh token": first.refresh_token,
        "rotated refresh token": rotated.refresh_token,
        "spa refresh token": spa_tokens.refresh_token,
        "session cookie": cookie,
        "client secret": web.secret,
        "password": PASSWORD,
    }
    dump = await _dump_every_table(flow.services.engine)
    assert (True, True) == (EMAIL in dump, user.id in dump)  # the dump does see the data
    assert [] == [what for what, value in secrets.items() if value in dump]
