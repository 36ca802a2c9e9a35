"""idempotent requests

Revision ID: 3f9b2d6c8e14
Revises: 8a4c1e5b7d92
Create Date: 2026-12-03 19:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3f9b2d6c8e14"
down_revision: str | None = "8a4c1e5b7d92"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A curator's client may retry a write safely: its answer is kept under its key.
    op.create_table(
        "idempotent_requests",
        sa.Column("key_name", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column(
            "made_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint(
            "key_name", "idempotency_key", name=op.f("pk_idempotent_requests")
        ),
    )
    op.create_index(op.f("ix_idempotent_requests_made_at"), "idempotent_requests", ["made_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_idempotent_requests_made_at"), table_name="idempotent_requests")
    op.drop_table("idempotent_requests")
