"""correction notices and translations

Revision ID: a7e4c2d9b813
Revises: c4e7a1d95b20
Create Date: 2026-12-03 21:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a7e4c2d9b813"
down_revision: str | None = "c4e7a1d95b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("crises", "corrections"),
    ("actors", "corrections"),
    ("sources", "translations"),
    ("facts", "translations"),
    ("facts", "corrections"),
)


def upgrade() -> None:
    # Public correction notices and curators' translations, each a JSON list in its
    # answer's shape (service.schemas.Correction, Translation), kept with its record.
    for table, column in COLUMNS:
        op.add_column(
            table, sa.Column(column, sa.Text(), server_default="[]", nullable=False)
        )


def downgrade() -> None:
    for table, column in reversed(COLUMNS):
        op.drop_column(table, column)
