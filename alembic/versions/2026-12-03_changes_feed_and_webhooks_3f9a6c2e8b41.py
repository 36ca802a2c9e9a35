"""changes feed and webhooks

Revision ID: 3f9a6c2e8b41
Revises: 3f9b2d6c8e14
Create Date: 2026-12-03 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "3f9a6c2e8b41"
down_revision: str | None = "3f9b2d6c8e14"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # GET /v1/changes?crisis= and ?kind=: one index range each, in revision order.
    op.create_index(op.f("ix_revisions_crisis_id_revision"), "revisions", ["crisis_id", "revision"])
    op.create_index(op.f("ix_revisions_kind_revision"), "revisions", ["kind", "revision"])
    # Webhooks: the change log is the outbox; a subscription keeps how far it got.
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("kinds", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("crisis_id", sa.Text(), nullable=True),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("url ~ '^https?://'", name=op.f("ck_webhook_subscriptions_url_http")),
        sa.CheckConstraint(
            "cursor >= 0", name=op.f("ck_webhook_subscriptions_cursor_not_negative")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscriptions")),
    )
    op.create_index(
        op.f("ix_webhook_subscriptions_next_attempt_at"),
        "webhook_subscriptions",
        ["next_attempt_at"],
        postgresql_where=sa.text("disabled_at IS NULL"),
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("subscription_id", sa.Text(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column(
            "attempted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("excerpt", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscriptions.id"],
            name=op.f("fk_webhook_attempts_subscription_id_webhook_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    op.create_index(
        op.f("ix_webhook_attempts_subscription_id_id"),
        "webhook_attempts",
        ["subscription_id", "id"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_webhook_attempts_subscription_id_id"), table_name="webhook_attempts")
    op.drop_table("webhook_attempts")
    op.drop_index(
        op.f("ix_webhook_subscriptions_next_attempt_at"), table_name="webhook_subscriptions"
    )
    op.drop_table("webhook_subscriptions")
    op.drop_index(op.f("ix_revisions_kind_revision"), table_name="revisions")
    op.drop_index(op.f("ix_revisions_crisis_id_revision"), table_name="revisions")
