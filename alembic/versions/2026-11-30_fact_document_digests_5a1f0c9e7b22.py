"""fact document digests

Revision ID: 5a1f0c9e7b22
Revises: 9b3e1c2d4a57
Create Date: 2026-11-30 10:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5a1f0c9e7b22"
down_revision: str | None = "9b3e1c2d4a57"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Each stored answer's digest (SHA-256, first 16 bytes, of its UTF-8 text): a page's
    # ETag is built from its facts' digests rather than by hashing the page per request.
    op.add_column("fact_documents", sa.Column("digest", sa.LargeBinary(), nullable=True))
    op.execute(
        "UPDATE fact_documents SET digest = substr(sha256(convert_to(document, 'UTF8')), 1, 16)"
    )
    op.alter_column("fact_documents", "digest", nullable=False)
    op.create_check_constraint(
        op.f("ck_fact_documents_digest_length"), "fact_documents", "length(digest) = 16"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_fact_documents_digest_length"), "fact_documents", type_="check")
    op.drop_column("fact_documents", "digest")
