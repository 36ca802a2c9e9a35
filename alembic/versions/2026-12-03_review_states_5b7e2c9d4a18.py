"""review states: draft, published, retracted

Revision ID: 5b7e2c9d4a18
Revises: 3f9a6c2e8b41
Create Date: 2026-12-03 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b7e2c9d4a18"
down_revision: str | None = "3f9a6c2e8b41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPERATIONS_BEFORE = "'created', 'updated', 'deleted'"
OPERATIONS = "'created', 'updated', 'deleted', 'published', 'retracted'"


def upgrade() -> None:
    # Every stored fact was loaded from the fixtures, which publish what they hold.
    op.add_column(
        "facts", sa.Column("review_status", sa.Text(), server_default="published", nullable=False)
    )
    op.add_column("facts", sa.Column("review_reason", sa.Text(), nullable=True))
    op.add_column("facts", sa.Column("reviewed_by", sa.Text(), nullable=True))
    op.add_column("facts", sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(
        op.f("ck_facts_review_status_allowed"),
        "facts",
        "review_status IN ('draft', 'published', 'retracted')",
    )
    op.create_check_constraint(
        op.f("ck_facts_reason_when_retracted"),
        "facts",
        "(review_status = 'retracted') = (review_reason IS NOT NULL)",
    )
    op.add_column(
        "fact_documents",
        sa.Column("review_status", sa.Text(), server_default="published", nullable=False),
    )
    # A dispute is answered per reader: public, with retracted facts, with drafts, or both.
    op.add_column(
        "disputed_quantities",
        sa.Column("views", sa.SmallInteger(), server_default="15", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_disputed_quantities_views_allowed"),
        "disputed_quantities",
        "views BETWEEN 1 AND 15",
    )
    op.drop_constraint(op.f("pk_disputed_quantities"), "disputed_quantities", type_="primary")
    op.create_primary_key(
        op.f("pk_disputed_quantities"),
        "disputed_quantities",
        ["crisis_id", "quantity_key", "views"],
    )
    op.add_column(
        "revisions", sa.Column("public", sa.Boolean(), server_default="true", nullable=False)
    )
    op.drop_constraint(op.f("ck_revisions_operation_allowed"), "revisions", type_="check")
    op.create_check_constraint(
        op.f("ck_revisions_operation_allowed"), "revisions", f"operation IN ({OPERATIONS})"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_revisions_operation_allowed"), "revisions", type_="check")
    op.execute("DELETE FROM revisions WHERE operation IN ('published', 'retracted')")
    op.create_check_constraint(
        op.f("ck_revisions_operation_allowed"), "revisions", f"operation IN ({OPERATIONS_BEFORE})"
    )
    op.drop_column("revisions", "public")
    op.execute("DELETE FROM disputed_quantities WHERE views <> 15")
    op.drop_constraint(op.f("pk_disputed_quantities"), "disputed_quantities", type_="primary")
    op.create_primary_key(
        op.f("pk_disputed_quantities"), "disputed_quantities", ["crisis_id", "quantity_key"]
    )
    op.drop_constraint(
        op.f("ck_disputed_quantities_views_allowed"), "disputed_quantities", type_="check"
    )
    op.drop_column("disputed_quantities", "views")
    op.drop_column("fact_documents", "review_status")
    op.drop_constraint(op.f("ck_facts_reason_when_retracted"), "facts", type_="check")
    op.drop_constraint(op.f("ck_facts_review_status_allowed"), "facts", type_="check")
    for column in ("reviewed_at", "reviewed_by", "review_reason", "review_status"):
        op.drop_column("facts", column)
