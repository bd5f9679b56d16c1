"""organization domains

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 00:50:00

The email domains of an organization, each with the token of its DNS TXT challenge and, once
proven, when and how it was verified. A partial unique index lets several organizations claim
a name but only one have it verified.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organization_domains",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("verification_token", sa.String(length=64), nullable=False),
        sa.Column("verified_at", sa.DateTime(), nullable=True),
        sa.Column("verified_by", sa.String(length=10), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_organization_domains_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization_domains")),
        sa.UniqueConstraint("organization_id", "name", name="uq_organization_domains_org_name"),
    )
    op.create_index(
        "ux_organization_domains_verified_name",
        "organization_domains",
        ["name"],
        unique=True,
        sqlite_where=sa.text("verified_at IS NOT NULL"),
        postgresql_where=sa.text("verified_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ux_organization_domains_verified_name", table_name="organization_domains")
    op.drop_table("organization_domains")
