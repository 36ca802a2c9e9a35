"""python -m bench [--sizes curated,100k,1m] [--seconds 5] [--runs 3] [--connections 32] [--sweep]

Builds (or reuses) one database per size on DATABASE_URL's server, serves it with
`crisis-facts serve`, drives it with wrk, measures the framework ceiling, the database
ceiling and the typical alternative in the same run, writes bench/results/<size>.json and
rewrites bench/RESULTS.md from every results file there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import msgspec

from bench import datasets, drivers, report, run
from service.database import start_embedded, with_database
from service.settings import Settings

RESULTS = Path(__file__).parent / "results"
QUIET = 0.15
"""Measure only once other processes use less than this share of the CPUs (or patience ran out)."""


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        ram = f"{int(memory) / 1024 / 1024:.0f} GB"
    except OSError:
        ram = "unknown"
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return {
        "cpu": f"{os.cpu_count()} × {cpu}",
        "ram": ram,
        "os": platform.platform(),
        "python": platform.python_version(),
        "wrk": (wrk.stdout or wrk.stderr).splitlines()[0] if (wrk.stdout or wrk.stderr) else "",
    }


def server_version(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0] if row else '?'}"


def parse(argv: list[str] | None) -> argparse.Namespace:
    defaults = Settings.from_env()
    top = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[1])
    top.add_argument(
        "--sizes",
        default="curated,100k,1m",
        help="comma-separated: curated, 100k, 1m (default all three)",
    )
    top.add_argument("--seconds", type=float, default=5, help="per wrk run (default 5)")
    top.add_argument(
        "--runs", type=int, default=3, help="wrk runs per scenario, reported as medians"
    )
    top.add_argument("--warmup", type=float, default=2, help="per server, before measuring")
    top.add_argument("--connections", type=int, default=32, help="wrk and pgbench clients")
    top.add_argument("--pages", type=int, default=200, help="distinct pages of the cold scenario")
    top.add_argument(
        "--workers", type=int, default=int(os.environ.get("WORKERS", "2")), help="WORKERS"
    )
    top.add_argument("--pool-min", type=int, default=defaults.pool_min_size)
    top.add_argument("--pool-max", type=int, default=defaults.pool_max_size)
    top.add_argument("--port", type=int, default=18431, help="where the servers under test listen")
    top.add_argument("--reload", action="store_true", help="rebuild the databases")
    top.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a PostgreSQL setting for the benchmark databases during this run only "
        "(ALTER DATABASE ... SET, reset afterwards); results go to "
        "results/<size>+<name>-<value>.json",
    )
    top.add_argument(
        "--patience",
        type=float,
        default=300,
        help="seconds to wait for other work on the machine to stop before measuring",
    )
    top.add_argument(
        "--sweep",
        action="store_true",
        help="instead, try WORKERS x POOL_MAX_SIZE on the first of --sizes",
    )
    return top.parse_args(argv)


def bench_size(
    dataset: datasets.Dataset,
    config: run.Config,
    pages: int,
    patience: float,
) -> run.SizeResult:
    """The framework ceiling, every scenario against one dataset, the alternative and the
    database ceiling: the ratios compare figures taken minutes apart, never hours."""
    size = dataset.size
    before = run.wait_quiet(QUIET, patience, print)
    print(
        f"[{size}] framework ceiling: Litestar fixed JSON on granian (the machine was "
        f"{before:.0%} busy)"
    )
    ceiling = run.ceiling(config, print)
    print(f"[{size}] product, answer cache off")

    def uncached(base: str) -> tuple[datasets.Plan, dict[str, drivers.Measure], run.Pairs]:
        plan = datasets.plan(dataset.url, base, pages)
        scenarios = {k: v for k, v in plan.paths.items() if k not in run.CACHED}
        measured = run.measure_all(base, scenarios, config, print)
        print(f"[{size}] cold pages and the framework ceiling, both served, alternating")
        return plan, measured, run.against_ceiling(base, plan.paths["cold"], config, print)

    plan, measured, pairs = run.product(dataset, config, False, uncached)
    print(f"[{size}] product, answer cache on (production)")
    cached = {k: plan.paths[k] for k in run.CACHED}
    hot = run.product(
        dataset, config, True, lambda base: run.measure_all(base, cached, config, print)
    )
    print(f"[{size}] typical alternative: FastAPI + pydantic + SQLAlchemy ORM")
    alternative = run.alternative(dataset, config, pages, print)
    print(f"[{size}] database ceiling: the list SQL through pgbench")
    database = run.database(dataset, config, print)
    return run.SizeResult(
        size=size,
        date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        command="",
        machine={},
        config=config,
        crisis=plan.crisis,
        crisis_facts=plan.facts,
        total_facts=plan.total_facts,
        scenarios={name: (hot | measured)[name] for name in plan.paths},
        notes=plan.notes,
        examples={name: paths[0] for name, paths in plan.paths.items()},
        ceiling=ceiling,
        cold_and_ceiling=pairs,
        database=database,
        alternative=alternative,
        busy_before=before,
    )


def main(argv: list[str] | None = None) -> int:
    # SIGTERM unwinds like Ctrl-C, so the servers under test are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args = parse(argv)
    drivers.require("wrk")
    drivers.require("pgbench")
    # Like `make run` and `make test`: DATABASE_URL's server, else the embedded one.
    server = os.environ.get("DATABASE_URL") or start_embedded(Settings.from_env().data_dir)
    server = with_database(server, "postgres")
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in datasets.SIZES]
    if unknown:
        raise SystemExit(f"unknown size(s) {unknown}; known: {', '.join(datasets.SIZES)}")
    config = run.Config(
        workers=args.workers,
        pool_min_size=args.pool_min,
        pool_max_size=args.pool_max,
        connections=args.connections,
        seconds=args.seconds,
        warmup=args.warmup,
        runs=args.runs,
        port=args.port,
    )
    command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    host = {**machine(), "database": server_version(server)}
    RESULTS.mkdir(exist_ok=True)
    if args.sweep:
        from bench import sweep

        sweep.main(server, sizes[0], config, RESULTS / "sweep.json", command, host, args.reload)
        report.write(RESULTS, Path(__file__).parent / "RESULTS.md")
        return 0

    previous = report.load(RESULTS)
    settings = dict(item.split("=", 1) for item in args.set)
    suffix = "".join(f"+{name}-{value}" for name, value in settings.items())
    # Every database is built before any is measured, so that a build's minutes of writing
    # gigabytes lie behind every measurement instead of between two sizes being compared.
    built = {size: datasets.prepare(server, size, args.reload) for size in sizes}
    for size, (dataset, loader) in built.items():
        run.wait_quiet(QUIET, args.patience, print)
        if loader is None and size in previous:
            loader = previous[size].loader  # the dataset was built by an earlier run
        with datasets.database_settings(server, dataset, settings):
            result = bench_size(dataset, config, args.pages, args.patience)
        result.command, result.machine, result.loader = command, host, loader
        result.settings = settings
        encoded = msgspec.json.format(msgspec.json.encode(result))
        (RESULTS / f"{size}{suffix}.json").write_bytes(encoded)
    if {"curated", "1m"} <= built.keys() and not settings:
        before = run.wait_quiet(QUIET, args.patience, print)
        print("[curated and 1m] side by side: both served at once, their wrk runs alternating")
        side = run.SideBySide(
            date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            command=command,
            small="curated",
            big="1m",
            config=config,
            runs=run.side_by_side(built["curated"][0], built["1m"][0], config, args.pages, print),
            busy_before=before,
        )
        (RESULTS / report.SIDE_BY_SIDE).write_bytes(msgspec.json.format(msgspec.json.encode(side)))
    report.write(RESULTS, Path(__file__).parent / "RESULTS.md")
    print("wrote bench/RESULTS.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
