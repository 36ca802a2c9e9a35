"""Experiment, not product: list pages served from fact documents built once per load.

Every fact's JSON (citations and actors embedded), as service.queries builds it per
request, is built once into a side table of the bench database; a page is then 51 index
rows concatenated into the answer without decoding. `python -m bench --documents` measures
how fast the cold list pages could be if the loader kept such a document per fact.
"""

from __future__ import annotations

import base64
import os
import time
from typing import Any

import psycopg
from litestar import Litestar, Response, get
from litestar.datastructures import State
from psycopg_pool import AsyncConnectionPool

from service import queries
from service.database import libpq_url

TABLE = "bench_fact_documents"


def build(url: str) -> float:
    """(Re)build the documents table from the facts; seconds taken."""
    every = queries._fact_select(  # the product's own per-fact JSON, for every fact at once
        queries.ALL_KINDS,
        "SELECT f.id, row_number() OVER (ORDER BY f.id) AS ord FROM facts f",
    )
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.execute(
            f"CREATE TABLE {TABLE} AS SELECT doc::json->>'kind' AS kind, doc::json->>'id' AS id, "
            f"doc AS document FROM ({every}) t(doc)"
        )
        conn.execute(f"ALTER TABLE {TABLE} ADD PRIMARY KEY (kind, id)")
        conn.execute(f"GRANT SELECT ON {TABLE} TO PUBLIC")
        conn.execute(f"VACUUM ANALYZE {TABLE}")
    return time.perf_counter() - started


def cursor_of(fact_id: str) -> str:
    return base64.urlsafe_b64encode(fact_id.encode()).decode().rstrip("=")


def after_of(cursor: str) -> str:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()


@get("/v1/casualties", sync_to_thread=False)
async def list_casualties(
    state: State, limit: int = 50, cursor: str | None = None
) -> Response[bytes]:
    after = after_of(cursor) if cursor else ""
    async with state.pool.connection() as conn:
        rows = await (
            await conn.execute(
                f"SELECT id, document FROM {TABLE} WHERE kind = 'casualty' AND id > %s "
                "ORDER BY id LIMIT %s",
                [after, limit + 1],
            )
        ).fetchall()
    page = rows[:limit]
    following = f'"{cursor_of(page[-1][0])}"' if len(rows) > limit else "null"
    body = b'{"items":[' + ",".join(r[1] for r in page).encode() + b'],"next_cursor":'
    return Response(body + following.encode() + b"}", media_type="application/json")


def create_app() -> Litestar:
    async def open_pool(app: Litestar) -> None:
        size = int(os.environ.get("POOL_MAX_SIZE", "4"))
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            libpq_url(os.environ["DATABASE_URL"]),
            min_size=1,
            max_size=size,
            open=False,
            kwargs={"autocommit": True},
        )
        await pool.open(wait=False)
        app.state.pool = pool

    async def close_pool(app: Litestar) -> None:
        await app.state.pool.close()

    return Litestar(
        route_handlers=[list_casualties], on_startup=[open_pool], on_shutdown=[close_pool]
    )
