"""fact actor dates

Revision ID: 3e8b5d2a9c41
Revises: 7c2d9e4b1f60
Create Date: 2026-12-01 19:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3e8b5d2a9c41"
down_revision: str | None = "7c2d9e4b1f60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Each fact's date beside its actors, in the index an actor's page walks: the page of an
    # actor and a date range is then read from the index alone, without a probe per fact.
    op.add_column("fact_actors", sa.Column("occurred_on", sa.Date(), nullable=True))
    op.execute(
        "UPDATE fact_actors fa SET occurred_on = f.occurred_on FROM facts f "
        "WHERE f.id = fa.fact_id AND f.occurred_on IS NOT NULL"
    )
    op.drop_index(op.f("ix_fact_actors_actor_id_kind_fact_id"), table_name="fact_actors")
    op.create_index(
        op.f("ix_fact_actors_actor_id_kind_fact_id"),
        "fact_actors",
        ["actor_id", "kind", "fact_id"],
        postgresql_include=["occurred_on"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_fact_actors_actor_id_kind_fact_id"), table_name="fact_actors")
    op.create_index(
        op.f("ix_fact_actors_actor_id_kind_fact_id"),
        "fact_actors",
        ["actor_id", "kind", "fact_id"],
    )
    op.drop_column("fact_actors", "occurred_on")
