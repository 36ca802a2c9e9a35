"""Export throughput and server memory: `crisis-facts serve` (one worker) streaming each export
of a database made with `crisis-facts synth --facts 100000` (EXPORT_BENCH_URL), read over
loopback without compression; figures go to RESULTS.md by hand.

    EXPORT_BENCH_URL=postgresql://postgres@127.0.0.1:5432/export_bench python -m bench.export
"""

from __future__ import annotations

import os
import threading
import time

import httpx
import psutil

from tests.test_reliability import Served

PATHS = [
    "/v1/export/timeline.ndjson",
    "/v1/export/timeline.csv",
    "/v1/export/casualties.ndjson",
    "/v1/export/casualties.csv",
]


def main() -> None:
    url = os.environ["EXPORT_BENCH_URL"]
    served = Served(url, WORKERS="1")
    try:
        process = psutil.Process(served.process.pid)

        def rss() -> int:
            return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])

        for path in PATHS:
            base = rss()
            peak = [base]
            stop = threading.Event()

            def watch(stop: threading.Event, peak: list[int]) -> None:
                while not stop.is_set():
                    peak[0] = max(peak[0], rss())
                    time.sleep(0.05)

            watcher = threading.Thread(target=watch, args=(stop, peak))
            watcher.start()
            started = time.perf_counter()
            lines = 0
            headers = {"Accept-Encoding": "identity"}
            with httpx.stream("GET", served.base + path, timeout=120, headers=headers) as answer:
                for _ in answer.iter_lines():
                    lines += 1
                size = answer.num_bytes_downloaded
            took = time.perf_counter() - started
            stop.set()
            watcher.join()
            print(
                f"{path}: {lines} lines, {size / 1e6:.1f} MB in {took:.2f} s = "
                f"{lines / took:,.0f} rows/s; server RSS {base / 1e6:.0f} -> "
                f"peak {peak[0] / 1e6:.0f} MB"
            )
    finally:
        served.close()


if __name__ == "__main__":
    main()
