"""answers say when their record changed

Revision ID: c4e7a1d95b20
Revises: 5b7e2c9d4a18
Create Date: 2026-12-03 21:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c4e7a1d95b20"
down_revision: str | None = "5b7e2c9d4a18"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A time as msgspec writes it into an answer: UTC, microseconds only when there are some
# (`\\:` is a colon that SQLAlchemy's text() does not take for a bound parameter).
_AT = (
    "to_char({t} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24\\:MI\\:SS') || "
    "CASE WHEN extract(microseconds FROM {t})::bigint % 1000000 = 0 THEN '' "
    "ELSE to_char({t} AT TIME ZONE 'UTC', '.US') END || 'Z'"
)
_WHEN = "coalesce(v.made_at, (SELECT loaded_at FROM dataset_version), now())"
_DIGEST = "substr(sha256(convert_to(document, 'UTF8')), 1, 16)"


def _changed(revision: str) -> str:
    """The `changed` member closing a stored answer: its revision, and that revision's time."""
    at = _AT.format(t=_WHEN)
    return f"""',"changed":{{"revision":' || {revision} || ',"at":"' || {at} || '"}}}}'"""


def upgrade() -> None:
    # Every answer now says when its record last changed (schemas.Changed). The stored
    # answers of facts and disputes get it here; the write path writes it from now on.
    op.execute(
        f"UPDATE fact_documents d SET document = left(d.document, -1) || {_changed('d.revision')} "
        "FROM fact_documents d0 LEFT JOIN revisions v ON v.revision = d0.revision "
        "WHERE d0.fact_id = d.fact_id"
    )
    op.execute(f"UPDATE fact_documents SET digest = {_DIGEST}")
    # A dispute changed with the latest change of its facts (the write path stamps a dispute
    # with the change that alters it, which may also be a fact leaving it: not known here).
    op.execute(
        f"UPDATE disputed_quantities q SET document = left(q.document, -1) || {_changed('l.rev')} "
        "FROM (SELECT f.crisis_id, f.quantity_key, max(d.revision) AS rev FROM facts f "
        "      JOIN fact_documents d ON d.fact_id = f.id "
        "      WHERE f.quantity_key IS NOT NULL GROUP BY f.crisis_id, f.quantity_key) l "
        "LEFT JOIN revisions v ON v.revision = l.rev "
        "WHERE l.crisis_id = q.crisis_id AND l.quantity_key = q.quantity_key"
    )


def downgrade() -> None:
    for table in ("fact_documents", "disputed_quantities"):
        op.execute(
            f"UPDATE {table} SET document = "
            """regexp_replace(document, ',"changed":\\{[^}]*\\}', '')"""
        )
    op.execute(f"UPDATE fact_documents SET digest = {_DIGEST}")
