"""python -m bench.inprocess [--size 100k] [--scenario cold] [--requests 4000] [--instructions]
python -m bench.inprocess --size 100k --against-bare [--rounds 9]

One worker's cost per request with no server and no load generator: the app called through
ASGI on uvloop, one request at a time, against a bench database (built as `make bench`
builds it, or reused), with the answer cache off.

wrk's figures move by 20-40% with the machine within an hour; this isolates what a change
to the request path costs the worker, the share of a cold page that is Python. It prints
CPU microseconds per request; with `--instructions` it runs itself under valgrind's
callgrind instead, instrumenting only the N measured requests (switched on after the
warm-up; less what switching costs, counted in a run of no request), and prints
instructions per request: they repeat within about 3% (how often a read finds PostgreSQL's
answer already there varies), where CPU time moves by 10-20% with the host (and by 2-3x
on a host shared with other work).

`--scenario bare` is bench.bare's route on the same cold pages; `--against-bare` serves the
product's cold pages and the bare route's in one process, blocks of requests alternating,
and prints each round's ratio (bare CPU over product CPU: the product's share of the bare
route's pages per second when CPU is what bounds them).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from typing import Any

import msgspec
import uvloop
from litestar import Litestar

from bench import bare, datasets
from service.app import create_app
from service.database import start_embedded, with_database
from service.settings import Settings

SCENARIOS = ("cold", "list", "health", "bare")
"""cold: `--pages` pages of the casualties list followed by next_cursor (bench's `cold`);
list: its first page again and again; health: `/health`, the framework and middleware alone;
bare: the same cold pages from bench.bare's route."""

NEVER = 10**9
"""`--rate-limit` per minute no measurement reaches: the limiter runs, as in production, and
never refuses (the load is one client address)."""

WARMUP = 300


class _Page(msgspec.Struct):
    next_cursor: str | None = None


def scope_of(route: str, query: bytes, headers: tuple[tuple[bytes, bytes], ...] = ()) -> Any:
    """The ASGI scope of a GET from loopback, as a server would hand it to the app."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": route,
        "raw_path": route.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def _get(app: Litestar, path: str) -> bytes:
    route, _, query = path.partition("?")
    scope = scope_of(route, query.encode())
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
    if scenario == "bare":
        paths = [bare.PATH]
        while len(paths) < pages:
            after = bare.next_after(await _get(app, paths[-1]))
            if after is None:
                break
            paths.append(f"{bare.PATH}?after={after}")
        return paths
    paths = [datasets.LIST]
    while len(paths) < pages:
        cursor = msgspec.json.decode(await _get(app, paths[-1]), type=_Page).next_cursor
        if cursor is None:
            break
        paths.append(f"{datasets.LIST}&cursor={cursor}")
    return paths


def _app(settings: Settings, scenario: str) -> Litestar:
    return bare.create_app(settings) if scenario == "bare" else create_app(settings)


async def _measure(settings: Settings, scenario: str, pages: int, requests: int) -> float:
    """CPU seconds of this process per request, after a warm-up."""
    app = _app(settings, scenario)
    async with app.lifespan():
        paths = await _paths(app, scenario, pages)
        for i in range(WARMUP):
            await _get(app, paths[i % len(paths)])
        return await _block(app, paths, requests)


async def _block(app: Litestar, paths: list[str], requests: int) -> float:
    start = time.process_time()
    for i in range(requests):
        await _get(app, paths[i % len(paths)])
    return (time.process_time() - start) / max(1, requests)


async def _against_bare(settings: Settings, pages: int, requests: int, rounds: int) -> None:
    """The product's cold pages and the bare route's, blocks alternating in one process."""
    apps = {"product": create_app(settings), "bare": bare.create_app(settings)}
    async with apps["product"].lifespan(), apps["bare"].lifespan():
        paths = {
            "product": await _paths(apps["product"], "cold", pages),
            "bare": await _paths(apps["bare"], "bare", pages),
        }
        for name, app in apps.items():
            await _block(app, paths[name], WARMUP)
        ratios = []
        for i in range(rounds):
            order = ("product", "bare") if i % 2 == 0 else ("bare", "product")
            cpu = {name: await _block(apps[name], paths[name], requests) for name in order}
            ratios.append(cpu["bare"] / cpu["product"])
            print(
                f"  product {cpu['product'] * 1e6:5.0f} µs  bare {cpu['bare'] * 1e6:5.0f} µs"
                f"  ratio {ratios[-1]:.3f}"
            )
    print(f"bare/product CPU a page: median {statistics.median(ratios):.3f} of {rounds} rounds")


def _instructions(argv: list[str]) -> int:
    """Instructions callgrind counted in one run of this module: instrumentation starts off
    (the start-up runs several times faster) and is on only around the measured block,
    switched with callgrind_control."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "bench.inprocess",
        *argv,
        "--under-callgrind",
    ]
    run = subprocess.run(command, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", run.stderr)
    if found is None:
        raise SystemExit(f"callgrind printed no count:\n{run.stderr[-2000:]}")
    return int(found.group(1))


def _instrument(on: bool) -> None:
    state = "on" if on else "off"
    command = ["callgrind_control", f"--instr={state}", str(os.getpid())]
    subprocess.run(command, check=True, capture_output=True)


async def _counted(settings: Settings, scenario: str, pages: int, requests: int) -> None:
    """Under callgrind: warm up, then instrument `requests` requests only."""
    app = _app(settings, scenario)
    async with app.lifespan():
        paths = await _paths(app, scenario, pages)
        await _block(app, paths, WARMUP)
        _instrument(True)
        await _block(app, paths, requests)
        _instrument(False)


def main(argv: list[str] | None = None) -> int:
    top = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__)
    top.add_argument("--size", default="100k", choices=list(datasets.SIZES))
    top.add_argument("--scenario", default="cold", choices=SCENARIOS)
    top.add_argument("--pages", type=int, default=200, help="distinct pages of cold")
    top.add_argument("--requests", type=int, default=4000)
    top.add_argument("--instructions", action="store_true", help="count them with callgrind")
    top.add_argument("--against-bare", action="store_true", help="alternate cold and bare")
    top.add_argument("--rounds", type=int, default=9, help="of --against-bare")
    top.add_argument(
        "--rate-limit", type=int, default=0, help=f"per minute (0: off; {NEVER}: on, never met)"
    )
    top.add_argument("--under-callgrind", action="store_true", help=argparse.SUPPRESS)
    args = top.parse_args(argv)
    if args.instructions:
        kept = ["--size", args.size, "--scenario", args.scenario, "--pages", str(args.pages)]
        kept += ["--rate-limit", str(args.rate_limit), "--requests", str(args.requests)]
        # A run of no request counts what switching instrumentation on and off costs.
        each = (_instructions(kept) - _instructions([*kept, "--requests", "0"])) / args.requests
        print(f"{args.size} {args.scenario}: {each:,.0f} instructions a request")
        return 0
    server = os.environ.get("DATABASE_URL") or start_embedded(Settings.from_env().data_dir)
    dataset, _ = datasets.prepare(with_database(server, "postgres"), args.size, False)
    settings = Settings.from_env().replace(
        database_url=dataset.url, rate_limit_per_minute=args.rate_limit, answer_cache_entries=0
    )
    if args.under_callgrind:
        uvloop.run(_counted(settings, args.scenario, args.pages, args.requests))
        return 0
    if args.against_bare:
        uvloop.run(_against_bare(settings, args.pages, args.requests // 4, args.rounds))
        return 0
    seconds = uvloop.run(_measure(settings, args.scenario, args.pages, args.requests))
    print(f"{args.size} {args.scenario}: {seconds * 1e6:.0f} µs of CPU a request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
