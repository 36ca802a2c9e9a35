"""What /ready reads: the dataset version and the schema revision."""

from __future__ import annotations

from service.queries.base import Conn


async def dataset_version(conn: Conn) -> int | None:
    row = await (await conn.execute("SELECT version FROM dataset_version WHERE id = 1")).fetchone()
    return None if row is None else int(row[0])


async def schema_revision(conn: Conn) -> str | None:
    exists = await (await conn.execute("SELECT to_regclass('alembic_version')")).fetchone()
    if exists is None or exists[0] is None:
        return None
    row = await (await conn.execute("SELECT version_num FROM alembic_version")).fetchone()
    return None if row is None else str(row[0])
