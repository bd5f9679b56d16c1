"""Organization domains (``organization_domains``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ostiary.domain.domains import Domain, VerificationMethod
from ostiary.storage.db import Database
from ostiary.storage.tables import organization_domains as t

__all__ = ["DomainStore", "DomainTaken"]


class DomainTaken(Exception):
    """The organization already claims this name, or another one has it verified."""


def _domain(row: sa.Row[Any]) -> Domain:
    m = row._mapping
    return Domain(
        id=m["id"],
        organization_id=m["organization_id"],
        name=m["name"],
        verification_token=m["verification_token"],
        verified_at=m["verified_at"],
        verified_by=VerificationMethod(m["verified_by"]) if m["verified_by"] else None,
        created_at=m["created_at"],
    )


class DomainStore:
    def __init__(self, engine: Database) -> None:
        self._engine = engine

    async def insert(self, domain: Domain) -> None:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    t.insert().values(
                        id=domain.id,
                        organization_id=domain.organization_id,
                        name=domain.name,
                        verification_token=domain.verification_token,
                        verified_at=domain.verified_at,
                        verified_by=domain.verified_by.value if domain.verified_by else None,
                        created_at=domain.created_at,
                    )
                )
        except IntegrityError:
            raise DomainTaken(domain.name) from None

    async def of_organization(self, org_id: str) -> list[Domain]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                sa.select(t).where(t.c.organization_id == org_id).order_by(t.c.name)
            )
            return [_domain(row) for row in rows]

    async def get(self, org_id: str, ref: str) -> Domain | None:
        """One domain of the organization, by id (``dom_…``) or name."""
        column = t.c.id if ref.startswith("dom_") else t.c.name
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(t).where(t.c.organization_id == org_id).where(column == ref)
                )
            ).first()
            return _domain(row) if row is not None else None

    async def verified_owner(self, name: str) -> Domain | None:
        """The verified claim on ``name``, whichever organization holds it."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(t).where(t.c.name == name).where(t.c.verified_at.is_not(None))
                )
            ).first()
            return _domain(row) if row is not None else None

    async def mark_verified(
        self, domain_id: str, *, at: datetime, method: VerificationMethod
    ) -> None:
        """Raises DomainTaken when another organization verified the name first."""
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    t.update()
                    .where(t.c.id == domain_id)
                    .where(t.c.verified_at.is_(None))
                    .values(verified_at=at, verified_by=method.value)
                )
        except IntegrityError:
            raise DomainTaken(domain_id) from None

    async def delete(self, domain_id: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(t.delete().where(t.c.id == domain_id))
            return bool(result.rowcount)
