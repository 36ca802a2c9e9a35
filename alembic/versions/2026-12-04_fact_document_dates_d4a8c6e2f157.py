"""fact documents keep their fact's date, indexed for the timeline's export

Revision ID: d4a8c6e2f157
Revises: b7d3e9a1c524
Create Date: 2026-12-04 07:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d4a8c6e2f157"
down_revision: str | None = "b7d3e9a1c524"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The timeline's export reads the answers in date order from this table's own index
    # instead of probing it once per fact found in the facts' date index (bench/RESULTS.md,
    # exports, fifth run). The write path repeats the date beside each answer it writes.
    op.add_column("fact_documents", sa.Column("occurred_on", sa.Date(), nullable=True))
    op.execute(
        "UPDATE fact_documents d SET occurred_on = f.occurred_on FROM facts f "
        "WHERE f.id = d.fact_id AND f.occurred_on IS NOT NULL"
    )
    op.create_index(
        "ix_fact_documents_occurred_on_fact_id",
        "fact_documents",
        ["occurred_on", "fact_id"],
        postgresql_where=sa.text("occurred_on IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_fact_documents_occurred_on_fact_id", table_name="fact_documents")
    op.drop_column("fact_documents", "occurred_on")
