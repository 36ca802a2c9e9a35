"""One benchmark run against one dataset: the product's scenarios, then its ceilings."""

from __future__ import annotations

import asyncio
import contextlib
import re
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from bench import datasets, drivers, servers
from bench.drivers import Measure
from service import queries
from service.database import libpq_url
from service.vocabulary import FactKind

LOGS = Path(__file__).parent / "logs"


def busy(seconds: float = 2.0) -> float:
    """Share of all CPUs in use over `seconds`, from /proc/stat (0 where unavailable)."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)

    try:
        used0, total0 = sample()
        time.sleep(seconds)
        used1, total1 = sample()
    except OSError:
        return 0.0
    return (used1 - used0) / max(1, total1 - total0)


def wait_quiet(limit: float, patience: float, log: Callable[[str], None]) -> float:
    """Wait (up to `patience` seconds) until other processes use under `limit` of the CPUs,
    so that a test suite running beside the benchmark does not become its result."""
    deadline = time.monotonic() + patience
    share = busy()
    while share > limit and time.monotonic() < deadline:
        log(f"  the machine is {share:.0%} busy with other work; waiting for it to calm down")
        time.sleep(10)
        share = busy()
    return share


CACHED = ("hot",)
"""Scenarios run with the answer cache on; every other one measures an uncached answer."""


Pairs = list[tuple[Measure, Measure]]
"""Runs of two servers measured in turn, seconds apart: (first, second) each time."""


class Config(msgspec.Struct, kw_only=True):
    workers: int
    pool_min_size: int
    pool_max_size: int
    connections: int
    seconds: float
    warmup: float
    port: int
    runs: int = 3
    """wrk runs per scenario; the figures are their medians."""


class SizeResult(msgspec.Struct, kw_only=True):
    size: str
    date: str
    command: str
    machine: dict[str, str]
    config: Config
    crisis: str
    crisis_facts: int
    total_facts: int
    scenarios: dict[str, Measure]
    notes: dict[str, str]
    examples: dict[str, str]
    ceiling: Measure
    database: Measure
    alternative: dict[str, Measure]
    loader: datasets.LoaderRun | None = None
    cold_and_ceiling: Pairs = []
    """(framework ceiling, cold pages) pairs, both servers up, their wrk runs alternating."""
    settings: dict[str, str] = {}
    """PostgreSQL settings set on the database for this run only (empty: as shipped)."""
    busy_before: float = 0.0
    """Share of the CPUs other processes used just before measuring (0 to 1)."""


FLAT = ("list", "cold", "filter", "detail")
"""Scenarios whose p99 at 1M may be at most 1.5 times their p99 at the curated size."""
SIDE_PAIRS = 9
"""Pairs of runs per scenario side by side: one pair's ratio moved between 0.73 and 2.02,
and over three runs of five pairs the cold pages' medians were 1.17, 1.17 and 1.50 while
the fifteen pairs' median was 1.19; nine pairs make a run's median steadier."""


class SideBySide(msgspec.Struct, kw_only=True):
    """The FLAT scenarios against two datasets served at once, their wrk runs alternating."""

    date: str
    command: str
    small: str
    big: str
    config: Config
    runs: dict[str, Pairs]
    """Per scenario, each run's (small, big) pair, measured seconds apart."""
    busy_before: float = 0.0


def rps_ratio(pairs: Pairs) -> float:
    """The median of the pairs' throughput ratios (second over first), for the same reason
    as `p99_medians`."""
    return statistics.median(b.rps / a.rps for a, b in pairs)


def rps_ratios(pairs: Pairs) -> str:
    """Each pair's throughput ratio (second over first), for the log and the report."""
    return ", ".join(f"{b.rps / a.rps:.3f}" for a, b in pairs)


def p99_medians(pairs: Pairs) -> tuple[float, float, float]:
    """Median p99 of each side, and the median of the pairs' ratios: each pair was measured
    seconds apart, so its ratio carries no drift between pairs, which a ratio of the two
    medians would."""
    return (
        statistics.median(a.p99_ms for a, _ in pairs),
        statistics.median(b.p99_ms for _, b in pairs),
        statistics.median(b.p99_ms / a.p99_ms for a, b in pairs),
    )


def product_env(dataset: datasets.Dataset, config: Config, cache: bool) -> dict[str, str]:
    """Production settings, but for the rate limit: the load generator is one client address."""
    return {
        "DATABASE_URL": dataset.url,
        "HOST": "127.0.0.1",
        "PORT": str(config.port),
        "WORKERS": str(config.workers),
        "POOL_MIN_SIZE": str(config.pool_min_size),
        "POOL_MAX_SIZE": str(config.pool_max_size),
        "RATE_LIMIT_PER_MINUTE": "0",
        **({} if cache else {"ANSWER_CACHE_ENTRIES": "0"}),
    }


def median_run(base: str, paths: list[str], config: Config) -> Measure:
    """Medians of `config.runs` wrk runs, each on new connections. granian's workers take
    the 32 connections unevenly, and differently each time (seen: 16/16, 13/19, 14/18 and
    32/0), and the busier worker sets the p99: one run's p99 moved by up to half."""
    runs = [
        drivers.wrk(base, paths, connections=config.connections, seconds=config.seconds)
        for _ in range(config.runs)
    ]
    return msgspec.structs.replace(
        runs[0],
        rps=statistics.median(r.rps for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        errors=sum(r.errors for r in runs),
        requests=sum(r.requests for r in runs),
        seconds=sum(r.seconds for r in runs),
    )


def measure_all(
    base: str, scenarios: dict[str, list[str]], config: Config, log: Callable[[str], None]
) -> dict[str, Measure]:
    results = {}
    first = next(iter(scenarios.values()))
    drivers.wrk(base, first, connections=config.connections, seconds=config.warmup)
    for name, paths in scenarios.items():
        result = median_run(base, paths, config)
        log(
            f"  {name:12s} {result.rps:9.0f} req/s  p50 {result.p50_ms:7.2f} ms  "
            f"p99 {result.p99_ms:7.2f} ms  errors {result.errors}"
        )
        results[name] = result
    return results


def product(
    dataset: datasets.Dataset,
    config: Config,
    cache: bool,
    work: Callable[[str], Any],
) -> Any:
    """Run `work(base_url)` against `crisis-facts serve` on this dataset."""
    base = f"http://127.0.0.1:{config.port}"
    with servers.running(
        servers.product_command(),
        product_env(dataset, config, cache),
        f"{base}/ready",
        LOGS / f"product-{dataset.size}.log",
    ):
        return work(base)


def side_by_side(
    small: datasets.Dataset,
    big: datasets.Dataset,
    config: Config,
    pages: int,
    log: Callable[[str], None],
) -> dict[str, Pairs]:
    """Serve both datasets at once and alternate their wrk runs, scenario by scenario, so
    that a change in the machine's speed lands on both sides of each ratio alike: measured
    one size after the other, minutes apart, the same code's ratios swung by half."""
    ports = {small.size: config.port, big.size: config.port + 1}
    with contextlib.ExitStack() as stack:
        bases: dict[str, str] = {}
        for dataset in (small, big):
            port = ports[dataset.size]
            bases[dataset.size] = base = f"http://127.0.0.1:{port}"
            stack.enter_context(
                servers.running(
                    servers.product_command(),
                    product_env(dataset, msgspec.structs.replace(config, port=port), False),
                    f"{base}/ready",
                    LOGS / f"product-{dataset.size}-side-by-side.log",
                )
            )
        paths = {d.size: datasets.plan(d.url, bases[d.size], pages).paths for d in (small, big)}
        for size, base in bases.items():
            drivers.wrk(
                base, paths[size]["list"], connections=config.connections, seconds=config.warmup
            )
        runs: dict[str, Pairs] = {}
        for name in FLAT:
            pairs = alternating(
                (bases[small.size], paths[small.size][name]),
                (bases[big.size], paths[big.size][name]),
                config,
            )
            runs[name] = pairs
            a, b, ratio = p99_medians(pairs)
            sides = f"{small.size} {a:7.2f} ms  {big.size} {b:7.2f} ms"
            log(f"  {name:12s} p99 {sides}  ratio {ratio:.2f} (median of the pairs')")
    return runs


@contextlib.contextmanager
def ceiling_server(config: Config) -> Iterator[str]:
    base = f"http://127.0.0.1:{config.port}"
    env = {"PORT": str(config.port), "WORKERS": str(config.workers)}
    with servers.running(
        servers.target_command("bench.ceiling:create_app"),
        env,
        f"{base}/ping",
        LOGS / f"ceiling-{config.port}.log",
    ):
        yield base


def ceiling(config: Config, log: Callable[[str], None]) -> Measure:
    with ceiling_server(config) as base:
        result = measure_all(base, {"fixed JSON": ["/ping"]}, config, log)
    return result["fixed JSON"]


def alternating(
    first: tuple[str, list[str]], second: tuple[str, list[str]], config: Config
) -> Pairs:
    """SIDE_PAIRS pairs of wrk runs against two (base URL, paths) servers in turn; which goes
    first alternates, so that a drift favours neither."""
    pairs = []
    for i in range(SIDE_PAIRS):
        order = (first, second) if i % 2 == 0 else (second, first)
        measured = {
            base: drivers.wrk(base, paths, connections=config.connections, seconds=config.seconds)
            for base, paths in order
        }
        pairs.append((measured[first[0]], measured[second[0]]))
    return pairs


def against_ceiling(
    base: str, paths: list[str], config: Config, log: Callable[[str], None]
) -> Pairs:
    """The framework ceiling served beside the product at `base`, their wrk runs
    alternating: (ceiling, product) pairs seconds apart. Measured minutes apart, the
    ceiling and the cold pages took this machine's drift into their ratio (the same code
    gave 0.107 and 0.154 at two sizes of one run)."""
    with ceiling_server(msgspec.structs.replace(config, port=config.port + 1)) as ceiling:
        drivers.wrk(ceiling, ["/ping"], connections=config.connections, seconds=config.warmup)
        pairs = alternating((ceiling, ["/ping"]), (base, paths), config)
    log(f"  cold/ceiling {rps_ratio(pairs):.3f} (median of the pairs': {rps_ratios(pairs)})")
    return pairs


def alternative(
    dataset: datasets.Dataset, config: Config, pages: int, log: Callable[[str], None]
) -> dict[str, Measure]:
    base = f"http://127.0.0.1:{config.port}"
    env = {
        "DATABASE_URL": dataset.url,
        "PORT": str(config.port),
        "WORKERS": str(config.workers),
        "POOL_MAX_SIZE": str(config.pool_max_size),
    }
    with servers.running(
        servers.target_command("bench.alternative:create_app"),
        env,
        f"{base}{datasets.LIST}",
        LOGS / f"alternative-{dataset.size}.log",
    ):
        cold = datasets.walk(base, datasets.LIST, pages)
        return measure_all(base, {"list": [datasets.LIST], "cold": cold}, config, log)


class _Recorder:
    """Stands in for a connection to capture the SQL a query function sends."""

    def __init__(self) -> None:
        self.sql = ""
        self.params: dict[str, Any] = {}

    async def execute(self, sql: str, params: dict[str, Any], **options: Any) -> _Recorder:
        self.sql, self.params = sql, params
        return self

    async def fetchall(self) -> list[Any]:
        return []


def list_sql() -> tuple[str, dict[str, str]]:
    """The SQL of the list page, as service.queries sends it, in pgbench's :variable form."""
    recorder = _Recorder()
    filters = queries.FactFilter(kind_filters={"category": None, "victim_group": None})
    asyncio.run(queries.list_facts(recorder, FactKind.CASUALTY, filters, 50, None))  # type: ignore[arg-type]
    sql = re.sub(r"%\((\w+)\)s", r":\1", recorder.sql)
    return sql, {name: str(value) for name, value in recorder.params.items()}


def database(dataset: datasets.Dataset, config: Config, log: Callable[[str], None]) -> Measure:
    sql, variables = list_sql()
    result = drivers.pgbench(
        libpq_url(dataset.url),
        sql,
        variables,
        connections=config.connections,
        seconds=config.seconds,
    )
    log(
        f"  {'pgbench':12s} {result.rps:9.0f} tx/s   p50 {result.p50_ms:7.2f} ms  "
        f"p99 {result.p99_ms:7.2f} ms  errors {result.errors}"
    )
    return result
