"""Reading an export: one REPEATABLE READ, READ ONLY transaction, so every row of it (and
every file of a snapshot) is the same dataset version even while a load commits, read
through a server-side cursor in batches, so memory does not grow with the rows; the next
batch is fetched while the last one is sent, so PostgreSQL and the network both keep busy."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql

BATCH_ROWS = 500
"""Rows per FETCH: each is one round trip, and statement_timeout applies to each alone.
500 streamed faster than 2,000 and held the worker's other requests up less (half a
megabyte a batch stays in the caches; bench/RESULTS.md, exports)."""

Conn = AsyncConnection[Any]


@dataclass(frozen=True, slots=True)
class Version:
    """What an export is a copy of: the dataset version and when its last change was made."""

    number: int | None
    made_at: dt.datetime | None


async def begin(conn: Conn) -> Version:
    """Open the export's transaction on `conn` (an autocommit connection) and read the
    version it sees."""
    await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    # Compiling an export's plain scan costs more than it saves (bench/RESULTS.md, exports);
    # the export pool's connections say so already, a snapshot's does not.
    await conn.execute("SET LOCAL jit = off")
    row = await (await conn.execute("SELECT version FROM dataset_version WHERE id = 1")).fetchone()
    made = await (
        await conn.execute("SELECT made_at FROM revisions ORDER BY revision DESC LIMIT 1")
    ).fetchone()
    return Version(None if row is None else int(row[0]), None if made is None else made[0])


async def end(conn: Conn) -> None:
    """Close the transaction; it wrote nothing."""
    await conn.execute("ROLLBACK")


async def batches(conn: Conn, query: sql.Composed, params: Any) -> AsyncIterator[list[bytes]]:
    """The rows of `query`, each one bytes value (a JSON document or a CSV line), a batch at
    a time; the next batch is on its way while the caller handles this one."""
    cursor = conn.cursor(name="export", binary=True)
    pending: asyncio.Future[list[Any]] | None = None
    try:
        await cursor.execute(query, params)
        pending = asyncio.ensure_future(cursor.fetchmany(BATCH_ROWS))
        while rows := await pending:
            pending = asyncio.ensure_future(cursor.fetchmany(BATCH_ROWS))
            yield [r[0] for r in rows]
    finally:
        if pending is not None and not pending.done():
            # one batch in flight: let it land (the connection is not usable mid-fetch)
            with contextlib.suppress(psycopg.Error):
                await pending
        await cursor.close()
