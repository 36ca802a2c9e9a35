"""facts keep their CSV cells beside their answers

Revision ID: b7d3e9a1c524
Revises: e5c1a7d3b920
Create Date: 2026-12-04 05:30:00.000000
"""

from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "b7d3e9a1c524"
down_revision: str | None = "e5c1a7d3b920"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 20_000


def upgrade() -> None:
    # An export joins each fact's stored CSV cells instead of parsing its answer again
    # (bench/RESULTS.md, exports). The answers already stored get their cells here from the
    # same function the write path calls, so a migrated fact and a written one are alike.
    op.add_column("fact_documents", sa.Column("cells", postgresql.ARRAY(sa.Text()), nullable=True))
    # Answer and cells together pass the 2 kB past which PostgreSQL compresses a row's
    # largest value: kept whole, an export and a page read them without decompressing.
    op.execute("ALTER TABLE fact_documents SET (toast_tuple_target = 8160)")
    _fill(op.get_bind().connection.driver_connection)
    op.alter_column("fact_documents", "cells", nullable=False)


def _fill(conn: Any) -> None:
    """Each stored answer's cells, a batch at a time through a temporary table."""
    from service import schemas
    from service.export.cells import fact_cells

    decode = msgspec.json.Decoder(schemas.AnyFact).decode
    conn.execute("CREATE TEMP TABLE migrating_cells (fact_id text, cells text[])")
    with conn.cursor(name="migrating_answers") as answers, conn.cursor() as cells:
        answers.execute("SELECT fact_id, document FROM fact_documents")
        while rows := answers.fetchmany(BATCH):
            statement = "COPY migrating_cells (fact_id, cells) FROM STDIN (FORMAT BINARY)"
            with cells.copy(statement) as copy:
                copy.set_types(["text", "text[]"])
                for fact_id, document in rows:
                    copy.write_row((fact_id, fact_cells(decode(document))))
            cells.execute(
                "UPDATE fact_documents d SET cells = m.cells FROM migrating_cells m "
                "WHERE m.fact_id = d.fact_id"
            )
            cells.execute("TRUNCATE migrating_cells")
    conn.execute("DROP TABLE migrating_cells")


def downgrade() -> None:
    op.drop_column("fact_documents", "cells")
    op.execute("ALTER TABLE fact_documents RESET (toast_tuple_target)")
