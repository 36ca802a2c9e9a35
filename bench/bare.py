"""The bare route: the cold list page's own SQL from the product's own pool, on Litestar with
nothing else, answering the stored answers joined. What the product's request path is
measured against (issue 26): everything a page costs beyond this is the product's own.

It takes `?after=<fact id>` (no cursor to decode, no filters, no ETag, no middleware) and
answers `{"items": [...], "next": "<id>" | null}`; its pages are the product's cold pages.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import os
import re
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar, Response, get
from litestar.datastructures import State

from bench import datasets, drivers, run, servers
from service import queries
from service.database import make_read_pool, server_url, start_embedded, with_database
from service.settings import Settings
from service.vocabulary import FactKind

RESULTS = Path(__file__).parent / "results"
LIMIT = 50
PATH = "/bare/casualties"


class _Recorder:
    """Stands in for a connection to capture the SQL `queries.list_facts` sends."""

    def __init__(self) -> None:
        self.sql: Any = None
        self.options: dict[str, Any] = {}

    async def execute(self, sql: Any, params: dict[str, Any], **options: Any) -> _Recorder:
        self.sql, self.options = sql, options
        return self

    async def fetchall(self) -> list[Any]:
        return []


@functools.cache
def page_sql(paged: bool) -> tuple[Any, dict[str, Any]]:
    """The statement and execute options of the product's unfiltered casualties page, first
    or after a cursor, as service.queries sends them."""
    recorder = _Recorder()
    cursor = None
    if paged:
        cursor = queries.encode_cursor(queries.FactFilter().scope(FactKind.CASUALTY.value), ["x"])
    filters = queries.FactFilter()
    recording = queries.list_facts(recorder, FactKind.CASUALTY, filters, LIMIT, cursor)  # type: ignore[arg-type]
    try:  # the recorder never waits: one step runs the coroutine to its end
        recording.send(None)
    except StopIteration:
        pass
    assert ("%(after)s" in str(recorder.sql)) == paged
    return recorder.sql, recorder.options


@get(PATH)
async def bare_page(state: State, after: str | None = None) -> Response[bytes]:
    pool = state.pool
    conn = await pool.getconn()
    try:
        query, options = page_sql(after is not None)
        params = {} if after is None else {"after": after}
        cursor = await conn.execute(query, params, **options)
        rows = await cursor.fetchall()
    finally:
        await pool.putconn(conn)
    following = b'"' + rows[LIMIT - 1][2].encode() + b'"' if len(rows) > LIMIT else b"null"
    body = b'{"items":[' + b",".join([r[0] for r in rows[:LIMIT]]) + b'],"next":' + following
    return Response(body + b"}", media_type="application/json")


def create_app(settings: Settings | None = None) -> Litestar:
    """Served by bench.servers with DATABASE_URL, POOL_MIN_SIZE, POOL_MAX_SIZE as the product."""
    settings = settings or Settings.from_env()
    page_sql(False), page_sql(True)

    async def open_pool(app: Litestar) -> None:
        app.state.pool = make_read_pool(settings, server_url(settings))
        await app.state.pool.open(wait=True)

    async def close_pool(app: Litestar) -> None:
        await app.state.pool.close()

    return Litestar(
        route_handlers=[bare_page], on_startup=[open_pool], on_shutdown=[close_pool], debug=False
    )


_NEXT = re.compile(rb'"next":(null|"([^"]*)")\}$')


def next_after(body: bytes) -> str | None:
    """The `after` of the page following this bare page."""
    found = _NEXT.search(body)
    assert found is not None, body[-200:]
    return None if found.group(2) is None else found.group(2).decode()


# ------------------------------------------------------------ side by side, under wrk

RATE_LIMIT = 10**9
"""RATE_LIMIT_PER_MINUTE of the product here: the limiter runs, as in production, and never
refuses (wrk is one client address)."""


def _walk_bare(base: str, pages: int) -> list[str]:
    paths = [PATH]
    while len(paths) < pages:
        with urllib.request.urlopen(base + paths[-1], timeout=30) as answer:
            after = next_after(answer.read())
        if after is None:
            break
        paths.append(f"{PATH}?after={after}")
    return paths


def side_by_side(
    dataset: datasets.Dataset, config: run.Config, pages: int, rate_limit: int
) -> run.Pairs:
    """The bare route and the product's cold pages served at once, their wrk runs
    alternating: (bare, product) pairs seconds apart."""
    env = {**run.product_env(dataset, config, False), "RATE_LIMIT_PER_MINUTE": str(rate_limit)}
    bare_port = config.port + 1
    product, bare = f"http://127.0.0.1:{config.port}", f"http://127.0.0.1:{bare_port}"
    with contextlib.ExitStack() as stack:
        stack.enter_context(
            servers.running(
                servers.product_command(), env, f"{product}/ready", run.LOGS / "product-bare.log"
            )
        )
        stack.enter_context(
            servers.running(
                servers.target_command("bench.bare:create_app"),
                {**env, "PORT": str(bare_port)},
                f"{bare}{PATH}",
                run.LOGS / "bare.log",
            )
        )
        cold = datasets.walk(product, datasets.LIST, pages)
        plain = _walk_bare(bare, pages)
        for base, paths in ((bare, plain), (product, cold)):
            drivers.wrk(base, paths, connections=config.connections, seconds=config.warmup)
        return run.alternating((bare, plain), (product, cold), config)


class BareResult(msgspec.Struct, kw_only=True):
    size: str
    date: str
    command: str
    commit: str
    config: run.Config
    rate_limit_per_minute: int
    pairs: run.Pairs
    """(bare route, product cold pages) runs, seconds apart."""
    ratio: float
    busy_before: float


def main(argv: list[str] | None = None) -> int:
    top = argparse.ArgumentParser(
        prog="python -m bench.bare",
        description="Cold pages of the product against the bare route, side by side (wrk).",
    )
    top.add_argument("--size", default="100k", choices=list(datasets.SIZES))
    top.add_argument("--seconds", type=float, default=5)
    top.add_argument("--warmup", type=float, default=2)
    top.add_argument("--connections", type=int, default=32)
    top.add_argument("--pages", type=int, default=200)
    top.add_argument("--workers", type=int, default=2)
    top.add_argument("--rate-limit", type=int, default=RATE_LIMIT, help="per minute; 0 off")
    args = top.parse_args(argv)
    drivers.require("wrk")
    defaults = Settings.from_env()
    config = run.Config(
        workers=args.workers,
        pool_min_size=defaults.pool_min_size,
        pool_max_size=defaults.pool_max_size,
        connections=args.connections,
        seconds=args.seconds,
        warmup=args.warmup,
        port=8600,
    )
    server = os.environ.get("DATABASE_URL") or start_embedded(defaults.data_dir)
    dataset, _ = datasets.prepare(with_database(server, "postgres"), args.size, False)
    busy = run.wait_quiet(0.15, 20, print)
    pairs = side_by_side(dataset, config, args.pages, args.rate_limit)
    ratio = run.rps_ratio(pairs)
    for bare_run, product_run in pairs:
        print(f"  bare {bare_run.rps:7.0f}/s  product {product_run.rps:7.0f}/s")
    print(f"{args.size}: product/bare pages per second, median of the pairs' {ratio:.3f}")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    result = BareResult(
        size=args.size,
        date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        command="python -m bench.bare " + shlex.join(argv if argv is not None else sys.argv[1:]),
        commit=commit,
        config=config,
        rate_limit_per_minute=args.rate_limit,
        pairs=pairs,
        ratio=ratio,
        busy_before=busy,
    )
    out = RESULTS / f"bare-{args.size}.json"
    out.write_bytes(msgspec.json.format(msgspec.json.encode(result)))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
