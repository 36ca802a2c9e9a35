"""python -m bench --sweep: WORKERS x POOL_MAX_SIZE on the cold and hot list pages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import msgspec

from bench import datasets, report, run
from bench.drivers import Measure

WORKERS = (1, 2, 3)
POOL_MAX_SIZES = (2, 4, 8)


def _measure(
    dataset: datasets.Dataset, config: run.Config, cache: bool, name: str, paths: list[str]
) -> Measure:
    def work(base: str) -> Measure:
        return run.measure_all(base, {name: paths}, config, print)[name]

    result: Measure = run.product(dataset, config, cache, work)
    return result


def main(
    server: str,
    size: str,
    config: run.Config,
    output: Path,
    command: str,
    machine: dict[str, str],
    reload: bool,
) -> None:
    dataset, _ = datasets.prepare(server, size, reload)
    plan = run.product(dataset, config, False, lambda base: datasets.plan(dataset.url, base, 200))
    points = []
    for workers in WORKERS:
        for pool in POOL_MAX_SIZES:
            point = msgspec.structs.replace(
                config, workers=workers, pool_max_size=pool, pool_min_size=min(pool, 1)
            )
            print(f"WORKERS={workers} POOL_MAX_SIZE={pool}")
            cold = _measure(dataset, point, False, "cold", plan.paths["cold"])
            hot = _measure(dataset, point, True, "hot", plan.paths["hot"])
            points.append(
                report.SweepPoint(
                    workers=workers,
                    pool_max_size=pool,
                    cold_rps=cold.rps,
                    cold_p99_ms=cold.p99_ms,
                    hot_rps=hot.rps,
                    hot_p99_ms=hot.p99_ms,
                    errors=cold.errors + hot.errors,
                )
            )
    sweep = report.Sweep(
        date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        command=command,
        size=size,
        connections=config.connections,
        seconds=config.seconds,
        points=points,
    )
    output.write_bytes(msgspec.json.format(msgspec.json.encode(sweep)))
