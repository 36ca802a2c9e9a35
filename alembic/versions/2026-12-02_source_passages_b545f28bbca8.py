"""source passages

Revision ID: b545f28bbca8
Revises: 3e8b5d2a9c41
Create Date: 2026-12-02 01:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b545f28bbca8"
down_revision: str | None = "3e8b5d2a9c41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Articles cut into overlapping passages of 400 characters, one every 300: a search
    # places its snippet by reading a few of them instead of a whole article. The articles
    # already stored are cut here as service.loader.passages cuts the ones a load writes.
    op.create_table(
        "source_passages",
        sa.Column("source_id", sa.Text(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.CheckConstraint("n >= 0", name=op.f("ck_source_passages_n_not_negative")),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_source_passages_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source_id", "n", name=op.f("pk_source_passages")),
    )
    op.execute(
        "INSERT INTO source_passages (source_id, n, text) "
        "SELECT s.id, n, substr(t.text, n * 300 + 1, 400) "
        "FROM sources s, LATERAL (SELECT s.text || '' AS text OFFSET 0) t, "
        "generate_series(0, greatest(s.text_length - 101, 0) / 300) n"
    )


def downgrade() -> None:
    op.drop_table("source_passages")
