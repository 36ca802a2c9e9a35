"""shared rate counts

Revision ID: e5c1a7d3b920
Revises: e2b9c4d7a613
Create Date: 2026-12-04 01:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e5c1a7d3b920"
down_revision: str | None = "e2b9c4d7a613"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rate limits counted once for every worker and replica; UNLOGGED: no WAL per request.
    op.create_table(
        "rate_counts",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("ends", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_counts")),
        prefixes=["UNLOGGED"],
    )


def downgrade() -> None:
    op.drop_table("rate_counts")
