"""dispute answers

Revision ID: 7c2d9e4b1f60
Revises: 5a1f0c9e7b22
Create Date: 2026-11-30 10:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c2d9e4b1f60"
down_revision: str | None = "5a1f0c9e7b22"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The disputes as the loader builds them when this revision was written, frozen here so
# that later changes to the loader do not change what this migration does.
DISPUTES = """INSERT INTO disputed_quantities (crisis_id, quantity_key, kind, document)
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
),
bounded AS (
    -- The values each figure admits: 'more than 4,000' is [4001, inf),
    -- 'about N' is N give or take a tenth.
    SELECT g.*,
           CASE g.hedge WHEN 'more_than' THEN g.count + 1 WHEN 'about' THEN g.count * 0.9
                        WHEN 'up_to' THEN 0 ELSE g.count END::numeric AS lowest,
           CASE g.hedge WHEN 'at_least' THEN 'Infinity' WHEN 'more_than' THEN 'Infinity'
                        WHEN 'about' THEN g.count * 1.1
                        WHEN 'range' THEN coalesce(g.count_max, g.count)
                        ELSE g.count END::numeric AS highest
    FROM figures g
)
SELECT d.crisis_id, d.quantity_key, d.kind, json_build_object(
    'key', d.quantity_key, 'crisis_id', d.crisis_id, 'kind', d.kind,
    'values', json_agg(json_build_object(
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
    ) ORDER BY g.count, g.id),
    'low', min(g.count),
    -- No upper bound when the highest figure is open-ended ('more than N') and is the lowest.
    'high', CASE WHEN bool_or(g.hedge IN ('at_least', 'more_than'))
                      AND max(coalesce(g.count_max, g.count)) = min(g.count) THEN NULL
                 ELSE max(coalesce(g.count_max, g.count)) END,
    -- Conflicting when no single number satisfies every source's figure.
    'conflicting', max(g.lowest) > min(g.highest)
)::text
FROM disputed d
JOIN bounded g ON g.crisis_id = d.crisis_id AND g.quantity_key = d.quantity_key
JOIN citations c ON c.fact_id = g.id AND c.position = 0
LEFT JOIN actors a ON a.id = g.claimant_id
GROUP BY d.crisis_id, d.quantity_key, d.kind
"""


def upgrade() -> None:
    # Each disputed key carries its whole answer, bounds decided, instead of its figures
    # alone: a page of disputes is then sent as stored. Data already loaded gets them now.
    op.add_column("disputed_quantities", sa.Column("document", sa.Text(), nullable=True))
    op.execute("DELETE FROM disputed_quantities")
    op.drop_column("disputed_quantities", "figures")
    op.execute(DISPUTES)
    op.alter_column("disputed_quantities", "document", nullable=False)


def downgrade() -> None:
    op.add_column("disputed_quantities", sa.Column("figures", sa.Text(), nullable=True))
    op.execute("UPDATE disputed_quantities SET figures = (document::json -> 'values')::text")
    op.alter_column("disputed_quantities", "figures", nullable=False)
    op.drop_column("disputed_quantities", "document")
