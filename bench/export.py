"""Export throughput, server memory and the other requests' p99 meanwhile: `crisis-facts
serve` (one worker) streaming each export of the database EXPORT_BENCH_URL names (made with
`crisis-facts synth --facts N`), read whole over loopback without compression while another
client pages `/v1/casualties`; figures go to RESULTS.md by hand.

    EXPORT_BENCH_URL=postgresql://postgres@127.0.0.1:5432/export_bench python -m bench.export

`--base DIR` (another checkout, e.g. a `git worktree` of main) runs its server too, each
round the base first then this tree, for a side-by-side comparison under the same load;
`--rounds N` repeats, `--paths` picks exports. Each row ends with the load average.
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

    def rss(self) -> int:
        process = psutil.Process(self.served.process.pid)
        return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])

    def memory(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.05)  # a sampling period, not a wait for something

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
    threads = [threading.Thread(target=watch.memory), threading.Thread(target=watch.paging)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    lines = size = 0
    headers = {"Accept-Encoding": "identity"}
    with httpx.stream("GET", served.base + path, timeout=600, headers=headers) as answer:
        for chunk in answer.iter_raw(1 << 20):
            lines += chunk.count(b"\n")
            size += len(chunk)
    took = time.perf_counter() - started
    watch.stop.set()
    for thread in threads:
        thread.join()
    rows = lines - 1  # the closing line (NDJSON) or the header row (CSV)
    return (
        f"{path.rsplit('/', 1)[1]} | {rows:,} | {size / 1e6:.1f} | {took:.2f} | "
        f"{rows / took:,.0f} | {base / 1e6:.0f} → {watch.peak / 1e6:.0f} MB | "
        f"{p99(watch.pages):.1f} ms ({len(watch.pages)} pages)"
    )


def serve(tree: str | None) -> Served:
    """A one-worker server of this checkout, or of `tree` (its `service` package first on
    the path, the current directory left off it)."""
    if tree is None:
        return Served(os.environ["EXPORT_BENCH_URL"], WORKERS="1")
    return Served(os.environ["EXPORT_BENCH_URL"], WORKERS="1", PYTHONSAFEPATH="1", PYTHONPATH=tree)


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
        "| tree | export | rows | MB | s | rows/s | server RSS before → peak "
        "| page p99 meanwhile | page p99 alone | load |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | --- | --- | --- | --- |")
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
