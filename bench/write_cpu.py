"""python -m bench.write_cpu [--facts 10000] [--writes 1000]

The CPU one curator's PATCH costs: one server worker, PATCHes of distinct casualties one
after another (after 30 not counted), on `bench_curators_<N>` as bench.curators built it.
Prints the server's and PostgreSQL's CPU milliseconds a write, and the latency p50: on a
shared host, run it alternately against two trees (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import os
import time

from bench import curators
from bench.servers import running

WARM_UP = 30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--facts", type=int, default=10_000)
    parser.add_argument("--writes", type=int, default=1_000)
    args = parser.parse_args()
    url = curators.database(args.facts, reuse=True)
    token = curators.curator(url)
    facts = list(curators.published(url, args.facts, "casualty", args.writes + WARM_UP).items())
    env = {"DATABASE_URL": url, **curators.SERVE, "WORKERS": "1"}
    log = curators.RESULTS / "write_cpu.log"
    with running([curators.CLI, "serve"], env, f"{curators.BASE}/ready", log) as served:
        with curators.writer_client(token) as client:
            for path, etag in facts[:WARM_UP]:
                curators.patch(client, path, etag, "Warming up.")
            before = curators.cpu_seconds(served)
            took = [curators.patch(client, path, etag, "One after another.")
                    for path, etag in facts[WARM_UP:]]  # fmt: skip
            after = curators.cpu_seconds(served)
    per_write = {n: round(1000 * (after[n] - before[n]) / len(took), 2) for n in before}
    print(
        f"{os.path.basename(os.getcwd())}: {len(took)} writes, CPU ms a write: server "
        f"{per_write['server']}, postgresql {per_write['postgresql']}; "
        f"p50 {curators.percentile(took, 0.5)} ms; load {os.getloadavg()[0]:.2f}; "
        f"{time.strftime('%H:%M:%S')}"
    )


if __name__ == "__main__":
    main()
