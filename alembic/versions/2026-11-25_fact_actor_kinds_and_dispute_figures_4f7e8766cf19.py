"""fact actor kinds and dispute figures

Revision ID: 4f7e8766cf19
Revises: 1dde7b88281a
Create Date: 2026-11-25 02:50:51.335855
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.queries import disputes_sql

revision: str = "4f7e8766cf19"
down_revision: str | None = "1dde7b88281a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # fact_actors.kind repeats the fact's kind, kept equal by a foreign key onto
    # facts (id, kind) as the kind tables are: an actor's facts of one kind are then one
    # index range in id order, which is how the `actor` filter pages.
    op.add_column("fact_actors", sa.Column("kind", sa.Text(), nullable=True))
    op.execute("UPDATE fact_actors fa SET kind = f.kind FROM facts f WHERE f.id = fa.fact_id")
    op.alter_column("fact_actors", "kind", nullable=False)
    op.drop_constraint(op.f("fk_fact_actors_fact_id_facts"), "fact_actors", type_="foreignkey")
    op.create_foreign_key(
        op.f("fk_fact_actors_fact_id_kind_facts"),
        "fact_actors",
        "facts",
        ["fact_id", "kind"],
        ["id", "kind"],
        ondelete="CASCADE",
    )
    op.drop_index(op.f("ix_fact_actors_actor_id_fact_id"), table_name="fact_actors")
    op.create_index(
        op.f("ix_fact_actors_actor_id_kind_fact_id"),
        "fact_actors",
        ["actor_id", "kind", "fact_id"],
        unique=False,
    )
    # Each disputed key carries its figures as served; data already loaded gets them now.
    op.add_column("disputed_quantities", sa.Column("figures", sa.Text(), nullable=True))
    op.execute("DELETE FROM disputed_quantities")
    op.execute(disputes_sql("true"))
    op.alter_column("disputed_quantities", "figures", nullable=False)


def downgrade() -> None:
    op.drop_column("disputed_quantities", "figures")
    op.drop_index(op.f("ix_fact_actors_actor_id_kind_fact_id"), table_name="fact_actors")
    op.create_index(
        op.f("ix_fact_actors_actor_id_fact_id"),
        "fact_actors",
        ["actor_id", "fact_id"],
        unique=False,
    )
    op.drop_constraint(op.f("fk_fact_actors_fact_id_kind_facts"), "fact_actors", type_="foreignkey")
    op.create_foreign_key(
        op.f("fk_fact_actors_fact_id_facts"),
        "fact_actors",
        "facts",
        ["fact_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.drop_column("fact_actors", "kind")
