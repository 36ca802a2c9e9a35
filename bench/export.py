"""Export throughput, server memory and the other requests' p99 meanwhile: `crisis-facts
serve` (one worker) streaming each export of the database EXPORT_BENCH_URL names (made with
`crisis-facts synth --facts N`), read whole over loopback without compression while another
client pages `/v1/casualties`; figures go to RESULTS.md by hand.

    EXPORT_BENCH_URL=postgresql://postgres@127.0.0.1:5432/export_bench python -m bench.export

`--base DIR` (another checkout, e.g. a `git worktree` of main) runs its server too, each
round the base first then this tree, for a side-by-side comparison under the same load;
`--rounds N` repeats, `--paths` picks exports. Each row ends with the load average, and
says the CPU seconds the server, the export's PostgreSQL backend and the reading client
used: on a shared machine, rows per CPU second are steadier than rows per second.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from dataclasses import dataclass, field

import httpx
import psutil
import psycopg

from tests.test_reliability import Served

PATHS = [
    "/v1/export/timeline.ndjson",
    "/v1/export/timeline.csv",
    "/v1/export/casualties.ndjson",
    "/v1/export/casualties.csv",
]
PAGE = "/v1/casualties?limit=50"
"""What the other client asks meanwhile (the answer cache serves it after the first time)."""


@dataclass
class Watch:
    """The server's peak RSS and the other client's page times, while an export runs."""

    served: Served
    stop: threading.Event = field(default_factory=threading.Event)
    peak: int = 0
    pages: list[float] = field(default_factory=list)
    backends: dict[int, tuple[float, float]] = field(default_factory=dict)
    """CPU seconds of each export connection's PostgreSQL backend: first seen, last seen."""

    def processes(self) -> list[psutil.Process]:
        process = psutil.Process(self.served.process.pid)
        return [process, *process.children(recursive=True)]

    def rss(self) -> int:
        return sum(p.memory_info().rss for p in self.processes())

    def cpu(self) -> float:
        """CPU seconds the server (its processes and their threads) has used."""
        return sum(sum(p.cpu_times()[:2]) for p in self.processes())

    def memory(self) -> None:
        with psycopg.connect(os.environ["EXPORT_BENCH_URL"], autocommit=True) as conn:
            while not self.stop.is_set():
                self.peak = max(self.peak, self.rss())
                self.sample_backends(conn)
                time.sleep(0.05)  # a sampling period, not a wait for something

    def sample_backends(self, conn: psycopg.Connection[tuple[int]]) -> None:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'crisis-facts-export'"
        ).fetchall()
        for (pid,) in rows:
            try:
                used = sum(psutil.Process(pid).cpu_times()[:2])
            except psutil.Error:
                continue
            first, _ = self.backends.get(pid, (used, used))
            self.backends[pid] = (first, used)

    def database_cpu(self) -> float:
        return sum(last - first for first, last in self.backends.values())

    def paging(self) -> None:
        with httpx.Client(base_url=self.served.base, timeout=30) as client:
            while not self.stop.is_set():
                started = time.perf_counter()
                client.get(PAGE).raise_for_status()
                self.pages.append(time.perf_counter() - started)


def p99(times: list[float]) -> float:
    return statistics.quantiles(times, n=100)[98] * 1000 if len(times) > 1 else float("nan")


def pages_alone(served: Served, seconds: float = 3.0) -> list[float]:
    watch = Watch(served)
    thread = threading.Thread(target=watch.paging)
    thread.start()
    time.sleep(seconds)  # the length of the sample
    watch.stop.set()
    thread.join()
    return watch.pages


def export(served: Served, path: str) -> str:
    watch = Watch(served)
    base = watch.peak = watch.rss()
    cpu = watch.cpu()
    threads = [threading.Thread(target=watch.memory), threading.Thread(target=watch.paging)]
    for thread in threads:
        thread.start()
    started, client = time.perf_counter(), time.thread_time()
    lines = size = 0
    headers = {"Accept-Encoding": "identity"}
    with httpx.stream("GET", served.base + path, timeout=600, headers=headers) as answer:
        for chunk in answer.iter_raw(1 << 20):
            lines += chunk.count(b"\n")
            size += len(chunk)
    took, client = time.perf_counter() - started, time.thread_time() - client
    watch.stop.set()
    for thread in threads:
        thread.join()
    server, database = watch.cpu() - cpu, watch.database_cpu()
    rows = lines - 1  # the closing line (NDJSON) or the header row (CSV)
    return (
        f"{path.rsplit('/', 1)[1]} | {rows:,} | {size / 1e6:.1f} | {took:.2f} | "
        f"{rows / took:,.0f} | {server:.1f} / {database:.1f} / {client:.1f} | "
        f"{base / 1e6:.0f} → {watch.peak / 1e6:.0f} MB | "
        f"{p99(watch.pages):.1f} ms ({len(watch.pages)} pages)"
    )


def serve(tree: str | None) -> Served:
    """A one-worker server of this checkout, or of `tree` (its `service` package first on
    the path, the current directory left off it) on EXPORT_BENCH_BASE_URL when set: a copy
    of the database at the base's schema, when this tree's has a migration the base lacks."""
    if tree is None:
        return Served(os.environ["EXPORT_BENCH_URL"], WORKERS="1")
    url = os.environ.get("EXPORT_BENCH_BASE_URL", os.environ["EXPORT_BENCH_URL"])
    return Served(url, WORKERS="1", PYTHONSAFEPATH="1", PYTHONPATH=tree)


def load() -> str:
    """The 1-minute load average: the machine is shared, read figures beside it."""
    return f"{os.getloadavg()[0]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help="another checkout to compare with, run first")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--paths", nargs="*", default=PATHS)
    args = parser.parse_args()
    trees: list[tuple[str, str | None]] = [("this", None)]
    if args.base:
        trees.insert(0, ("base", args.base))
    print(
        "| tree | export | rows | MB | s | rows/s | CPU s server / PostgreSQL / client "
        "| server RSS before → peak | page p99 meanwhile | page p99 alone | load |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | --- | --- | --- | --- | --- |")
    for _ in range(args.rounds):
        for path in args.paths:
            for name, tree in trees:
                served = serve(tree)
                try:
                    alone = p99(pages_alone(served))
                    row = export(served, path)
                    print(f"| {name} | {row} | {alone:.1f} ms | {load()} |", flush=True)
                finally:
                    served.close()


if __name__ == "__main__":
    main()
