"""python -m bench.inprocess [--size 100k] [--scenario cold] [--requests 4000] [--instructions]

One worker's cost per request with no server and no load generator: the app called through
ASGI on uvloop, one request at a time, against a bench database (built as `make bench`
builds it, or reused), with the answer cache off.

wrk's figures move by 20-40% with the machine within an hour; this isolates what a change
to the request path costs the worker, the share of a cold page that is Python. It prints
CPU microseconds per request; with `--instructions` it runs itself twice under valgrind's
callgrind instead (N and N + 500 requests, the same start-up) and prints the difference
over 500, instructions per request: they repeat within about 3% (how often a read finds
PostgreSQL's answer already there varies), where CPU time moves by 10-20% with the host.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from typing import Any

import msgspec
import uvloop
from litestar import Litestar

from bench import datasets
from service.app import create_app
from service.database import start_embedded, with_database
from service.settings import Settings

SCENARIOS = ("cold", "list", "health")
"""cold: `--pages` pages of the casualties list followed by next_cursor (bench's `cold`);
list: its first page again and again; health: `/health`, the framework and middleware alone."""

WARMUP = 300
EXTRA = 500
"""Requests the second callgrind run makes beyond the first."""


class _Page(msgspec.Struct):
    next_cursor: str | None = None


async def _get(app: Litestar, path: str) -> bytes:
    route, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": route,
        "raw_path": route.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)  # type: ignore[arg-type]  # plain dicts for ASGI's TypedDicts
    if sent[0]["status"] != 200:
        raise SystemExit(f"{path}: {sent[0]['status']} {sent[-1].get('body', b'')[:200]!r}")
    return b"".join(m.get("body", b"") for m in sent[1:])


async def _paths(app: Litestar, scenario: str, pages: int) -> list[str]:
    if scenario == "health":
        return ["/health"]
    if scenario == "list":
        return [datasets.LIST]
    paths = [datasets.LIST]
    while len(paths) < pages:
        cursor = msgspec.json.decode(await _get(app, paths[-1]), type=_Page).next_cursor
        if cursor is None:
            break
        paths.append(f"{datasets.LIST}&cursor={cursor}")
    return paths


async def _measure(settings: Settings, scenario: str, pages: int, requests: int) -> float:
    """CPU seconds of this process per request, after a warm-up."""
    app = create_app(settings)
    async with app.lifespan():
        paths = await _paths(app, scenario, pages)
        for i in range(WARMUP):
            await _get(app, paths[i % len(paths)])
        start = time.process_time()
        for i in range(requests):
            await _get(app, paths[i % len(paths)])
        return (time.process_time() - start) / requests


def _instructions(argv: list[str], requests: int) -> int:
    """Instructions callgrind counted for a whole run of this module with `requests`."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "bench.inprocess",
        *argv,
        "--requests",
        str(requests),
    ]
    run = subprocess.run(command, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", run.stderr)
    if found is None:
        raise SystemExit(f"callgrind printed no count:\n{run.stderr[-2000:]}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    top = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__)
    top.add_argument("--size", default="100k", choices=list(datasets.SIZES))
    top.add_argument("--scenario", default="cold", choices=SCENARIOS)
    top.add_argument("--pages", type=int, default=200, help="distinct pages of cold")
    top.add_argument("--requests", type=int, default=4000)
    top.add_argument("--instructions", action="store_true", help="count them with callgrind")
    args = top.parse_args(argv)
    if args.instructions:
        kept = ["--size", args.size, "--scenario", args.scenario, "--pages", str(args.pages)]
        first = _instructions(kept, args.requests)
        second = _instructions(kept, args.requests + EXTRA)
        each = (second - first) / EXTRA
        print(f"{args.size} {args.scenario}: {each:,.0f} instructions a request")
        return 0
    server = os.environ.get("DATABASE_URL") or start_embedded(Settings.from_env().data_dir)
    dataset, _ = datasets.prepare(with_database(server, "postgres"), args.size, False)
    settings = Settings.from_env().replace(
        database_url=dataset.url, rate_limit_per_minute=0, answer_cache_entries=0
    )
    seconds = uvloop.run(_measure(settings, args.scenario, args.pages, args.requests))
    print(f"{args.size} {args.scenario}: {seconds * 1e6:.0f} µs of CPU a request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
