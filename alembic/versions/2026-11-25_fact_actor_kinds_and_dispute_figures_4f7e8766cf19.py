"""fact actor kinds and dispute figures

Revision ID: 4f7e8766cf19
Revises: 1dde7b88281a
Create Date: 2026-11-25 02:50:51.335855
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4f7e8766cf19"
down_revision: str | None = "1dde7b88281a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The disputes as the loader found them when this revision was written, frozen here so
# that later changes to the loader do not change what this migration does.
DISPUTES = """
INSERT INTO disputed_quantities (crisis_id, quantity_key, kind, figures)
WITH figures AS MATERIALIZED (
    SELECT f.id, f.crisis_id, f.kind, f.quantity_key, f.verification, f.occurred_on,
           f.date_precision, f.claimant_id,
           coalesce(ca.count, de.count, ar.count) AS count,
           coalesce(ca.count_max, de.count_max, ar.count_max) AS count_max,
           coalesce(ca.hedge, de.hedge, ar.hedge) AS hedge
    FROM facts f
    LEFT JOIN casualties ca ON ca.fact_id = f.id
    LEFT JOIN deployments de ON de.fact_id = f.id
    LEFT JOIN arrests ar ON ar.fact_id = f.id
    WHERE (true) AND f.quantity_key IS NOT NULL
      AND coalesce(ca.count, de.count, ar.count) IS NOT NULL
),
disputed AS (
    SELECT crisis_id, quantity_key, min(kind) AS kind FROM figures
    GROUP BY crisis_id, quantity_key
    HAVING count(DISTINCT (count, count_max, hedge)) > 1
)
SELECT d.crisis_id, d.quantity_key, d.kind, json_agg(json_build_object(
    'fact_id', g.id, 'kind', g.kind, 'source_id', c.source_id,
    'figure', json_build_object('count', g.count, 'count_max', g.count_max,
                                'hedge', g.hedge),
    'claimant', CASE WHEN a.id IS NULL THEN NULL
                      ELSE json_build_object('id', a.id, 'name', a.name) END,
    'date', CASE WHEN g.occurred_on IS NULL THEN NULL
                 ELSE json_build_object('value', g.occurred_on,
                                        'precision', g.date_precision) END,
    'verification', g.verification,
    'citation', json_build_object('source_id', c.source_id, 'quote', c.quote,
                                  'start', c.start_offset, 'end', c.end_offset)
) ORDER BY g.count, g.id)::text
FROM disputed d
JOIN figures g ON g.crisis_id = d.crisis_id AND g.quantity_key = d.quantity_key
JOIN citations c ON c.fact_id = g.id AND c.position = 0
LEFT JOIN actors a ON a.id = g.claimant_id
GROUP BY d.crisis_id, d.quantity_key, d.kind
"""


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
    op.execute(DISPUTES)
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
