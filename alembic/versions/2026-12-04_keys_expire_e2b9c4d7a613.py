"""keys expire

Revision ID: e2b9c4d7a613
Revises: a7e4c2d9b813
Create Date: 2026-12-04 01:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e2b9c4d7a613"
down_revision: str | None = "a7e4c2d9b813"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A key lent to a partner desk for a story's first days stops working by itself.
    op.add_column("api_keys", sa.Column("expires_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("api_keys", "expires_at")
