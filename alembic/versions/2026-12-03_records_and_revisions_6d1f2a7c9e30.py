"""records and revisions

Revision ID: 6d1f2a7c9e30
Revises: b545f28bbca8
Create Date: 2026-12-03 18:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6d1f2a7c9e30"
down_revision: str | None = "b545f28bbca8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = "'crisis', 'source', 'actor', 'place', 'statement', 'casualty', 'deployment', 'arrest'"


def upgrade() -> None:
    # Every change is now a revision in one change log, and a load writes only what differs
    # from `records`, each record's current state.
    op.create_table(
        "records",
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("crisis_id", sa.Text(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=True),
        sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f("ck_records_kind_allowed")),
        sa.CheckConstraint("length(state) = 16", name=op.f("ck_records_state_length")),
        sa.PrimaryKeyConstraint("kind", "id", name=op.f("pk_records")),
    )
    op.create_index(op.f("ix_records_crisis_id_kind"), "records", ["crisis_id", "kind"])
    op.create_table(
        "revisions",
        sa.Column("revision", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("record_id", sa.Text(), nullable=False),
        sa.Column("crisis_id", sa.Text(), nullable=False),
        sa.Column("operation", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column(
            "made_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f("ck_revisions_kind_allowed")),
        sa.CheckConstraint(
            "operation IN ('created', 'updated', 'deleted')",
            name=op.f("ck_revisions_operation_allowed"),
        ),
        sa.CheckConstraint(
            "(answer IS NULL) = (operation = 'deleted')",
            name=op.f("ck_revisions_answer_unless_deleted"),
        ),
        sa.PrimaryKeyConstraint("revision", name=op.f("pk_revisions")),
    )
    op.create_index(
        op.f("ix_revisions_kind_record_id_revision"),
        "revisions",
        ["kind", "record_id", "revision"],
    )
    # Records stored before this revision have no known state: the next load finds each of
    # them changed and rewrites it, with its first revision.
    op.execute(
        "INSERT INTO records (kind, id, crisis_id, revision, state) "
        "SELECT 'crisis', id, id, 0, '\\x00000000000000000000000000000000'::bytea FROM crises "
        "UNION ALL SELECT 'source', id, crisis_id, 0, "
        "'\\x00000000000000000000000000000000'::bytea FROM sources "
        "UNION ALL SELECT 'actor', id, crisis_id, 0, "
        "'\\x00000000000000000000000000000000'::bytea FROM actors "
        "UNION ALL SELECT 'place', id, crisis_id, 0, "
        "'\\x00000000000000000000000000000000'::bytea FROM places "
        "UNION ALL SELECT kind, id, crisis_id, 0, "
        "'\\x00000000000000000000000000000000'::bytea FROM facts"
    )
    op.add_column(
        "fact_documents",
        sa.Column("revision", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.alter_column("fact_documents", "revision", server_default=None)


def downgrade() -> None:
    op.drop_column("fact_documents", "revision")
    op.drop_index(op.f("ix_revisions_kind_record_id_revision"), table_name="revisions")
    op.drop_table("revisions")
    op.drop_index(op.f("ix_records_crisis_id_kind"), table_name="records")
    op.drop_table("records")
