"""Experiment, not product: list pages served from fact documents built once per load.

Every fact's JSON (citations and actors embedded), as service.queries builds it per
request, is built once into a side table of the bench database; a page is then 51 index
rows concatenated into the answer without decoding. `python -m bench --documents` measures
how fast the cold list pages could be if the loader kept such a document per fact.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

import msgspec
import psycopg
from litestar import Litestar, Response, get
from litestar.datastructures import State
from psycopg_pool import AsyncConnectionPool

from bench import datasets, drivers, run, servers
from service.database import libpq_url

TABLE = "bench_fact_documents"


def build(url: str) -> float:
    """(Re)build the documents table from the facts; seconds taken."""
    every = "SELECT document FROM fact_documents"  # the product's own per-fact JSON
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.execute(
            f"CREATE TABLE {TABLE} AS SELECT doc::json->>'kind' AS kind, doc::json->>'id' AS id, "
            f"doc AS document FROM ({every}) t(doc)"
        )
        conn.execute(f"ALTER TABLE {TABLE} ADD PRIMARY KEY (kind, id)")
        conn.execute(f"GRANT SELECT ON {TABLE} TO PUBLIC")
    seconds = time.perf_counter() - started
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"VACUUM ANALYZE {TABLE}")
    return seconds


def cursor_of(fact_id: str) -> str:
    return base64.urlsafe_b64encode(fact_id.encode()).decode().rstrip("=")


def after_of(cursor: str) -> str:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()


@get("/v1/casualties")
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


class Experiment(msgspec.Struct, kw_only=True):
    size: str
    date: str
    command: str
    build_s: float
    ceiling: drivers.Measure
    first: drivers.Measure
    cold: drivers.Measure
    product_cold: drivers.Measure | None


def main(
    server: str, size: str, config: run.Config, output: Path, command: str, pages: int
) -> None:
    dataset, _ = datasets.prepare(server, size, False)
    print(f"[{size}] building {TABLE}")
    seconds = build(dataset.url)
    print(f"[{size}] built in {seconds:.1f} s")
    run.wait_quiet(0.15, 300, print)
    ceiling = run.ceiling(config, print)
    base = f"http://127.0.0.1:{config.port}"
    env = {
        "DATABASE_URL": dataset.url,
        "PORT": str(config.port),
        "WORKERS": str(config.workers),
        "POOL_MAX_SIZE": str(config.pool_max_size),
    }
    with servers.running(
        servers.target_command("bench.documents:create_app"),
        env,
        f"{base}{datasets.LIST}",
        run.LOGS / f"documents-{size}.log",
    ):
        cold = datasets.walk(base, datasets.LIST, pages)
        measured = run.measure_all(base, {"first": [datasets.LIST], "cold": cold}, config, print)
    previous = output.parent / f"{size}.json"
    product = None
    if previous.is_file():
        shipped = msgspec.json.decode(previous.read_bytes(), type=run.SizeResult)
        product = shipped.scenarios.get("cold")
    result = Experiment(
        size=size,
        date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        command=command,
        build_s=round(seconds, 1),
        ceiling=ceiling,
        first=measured["first"],
        cold=measured["cold"],
        product_cold=product,
    )
    output.write_bytes(msgspec.json.format(msgspec.json.encode(result)))
