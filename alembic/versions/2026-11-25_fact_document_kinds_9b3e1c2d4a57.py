"""fact document kinds

Revision ID: 9b3e1c2d4a57
Revises: 4f7e8766cf19
Create Date: 2026-11-25 04:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9b3e1c2d4a57"
down_revision: str | None = "4f7e8766cf19"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # fact_documents.kind repeats the fact's kind, kept equal by a foreign key onto
    # facts (id, kind): an unfiltered page of one kind is then one range of
    # (kind, fact_id) instead of an index probe per fact.
    op.add_column("fact_documents", sa.Column("kind", sa.Text(), nullable=True))
    op.execute("UPDATE fact_documents d SET kind = f.kind FROM facts f WHERE f.id = d.fact_id")
    op.alter_column("fact_documents", "kind", nullable=False)
    op.drop_constraint(
        op.f("fk_fact_documents_fact_id_facts"), "fact_documents", type_="foreignkey"
    )
    op.create_foreign_key(
        op.f("fk_fact_documents_fact_id_kind_facts"),
        "fact_documents",
        "facts",
        ["fact_id", "kind"],
        ["id", "kind"],
        ondelete="CASCADE",
    )
    op.create_index(
        op.f("ix_fact_documents_kind_fact_id"), "fact_documents", ["kind", "fact_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_fact_documents_kind_fact_id"), table_name="fact_documents")
    op.drop_constraint(
        op.f("fk_fact_documents_fact_id_kind_facts"), "fact_documents", type_="foreignkey"
    )
    op.create_foreign_key(
        op.f("fk_fact_documents_fact_id_facts"),
        "fact_documents",
        "facts",
        ["fact_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.drop_column("fact_documents", "kind")
