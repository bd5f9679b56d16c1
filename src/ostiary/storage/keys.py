"""Signing keys (private parts arrive here already encrypted)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ostiary.domain.keys import SigningKey
from ostiary.storage.db import Database
from ostiary.storage.tables import signing_keys

__all__ = ["KeyStore"]


def _key(row: sa.Row[Any]) -> SigningKey:
    m = row._mapping
    return SigningKey(
        id=m["id"],
        algorithm=m["algorithm"],
        public_jwk=dict(m["public_jwk"]),
        encrypted_private_key=bytes(m["encrypted_private_key"]),
        created_at=m["created_at"],
        activates_at=m["activates_at"],
    )


class KeyStore:
    def __init__(self, engine: Database) -> None:
        self._engine = engine

    async def insert(self, key: SigningKey) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                signing_keys.insert().values(
                    id=key.id,
                    algorithm=key.algorithm,
                    public_jwk=key.public_jwk,
                    encrypted_private_key=key.encrypted_private_key,
                    created_at=key.created_at,
                    activates_at=key.activates_at,
                )
            )

    async def all(self) -> list[SigningKey]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                sa.select(signing_keys).order_by(signing_keys.c.activates_at, signing_keys.c.id)
            )
        return [_key(row) for row in rows]

    async def delete(self, key_ids: list[str]) -> None:
        if not key_ids:
            return
        async with self._engine.begin() as conn:
            await conn.execute(signing_keys.delete().where(signing_keys.c.id.in_(key_ids)))
