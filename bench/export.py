"""Export throughput, server memory and the other requests' p99 meanwhile: `crisis-facts
serve` (one worker) streaming each export of the database EXPORT_BENCH_URL names (made with
`crisis-facts synth --facts N`), read whole over loopback without compression while another
client pages `/v1/casualties`; figures go to RESULTS.md by hand.

    EXPORT_BENCH_URL=postgresql://postgres@127.0.0.1:5432/export_bench python -m bench.export
"""

from __future__ import annotations

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


def export(served: Served, path: str) -> None:
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
    print(
        f"| {path.rsplit('/', 1)[1]} | {rows:,} | {size / 1e6:.1f} | {took:.2f} | "
        f"{rows / took:,.0f} | {base / 1e6:.0f} → {watch.peak / 1e6:.0f} MB | "
        f"{p99(watch.pages):.1f} ms ({len(watch.pages)} pages) |",
        flush=True,
    )


def main() -> None:
    served = Served(os.environ["EXPORT_BENCH_URL"], WORKERS="1")
    try:
        alone = pages_alone(served)
        print(f"{PAGE} alone: p99 {p99(alone):.1f} ms over {len(alone)} pages")
        print("| export | rows | MB | s | rows/s | server RSS before → peak | page p99 meanwhile |")
        print("| --- | ---: | ---: | ---: | ---: | --- | --- |")
        for path in PATHS:
            export(served, path)
    finally:
        served.close()


if __name__ == "__main__":
    main()
