"""python -m bench.hitrate [--facts 1000000] [--seconds 30] [--readers 4] [--reuse]

Do writes make the hot pages cold? `crisis-facts serve` (2 workers) on bench.curators'
database; `--readers` readers ask for the hot pages below, picked at random, while one
curator PATCHes a casualty of the synthetic crisis once a second (a different one each
time, never one of the hot pages itself). Each worker logs its answer cache's hits and
misses when it stops; the hit rate is theirs summed, warm-up included.

Writes bench/results/hitrate-<N>.json; bench/RESULTS.md quotes it.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import random
import re
import time
from typing import Any

import httpx
import msgspec

from bench.curators import (
    BASE,
    CLI,
    RESULTS,
    SERVE,
    curator,
    database,
    patch,
    percentile,
    published,
    writer_client,
)
from bench.servers import running
from service.synth import crisis_id

CURATED = "kazakhstan-2022"
COUNTS = re.compile(rb"answer cache: (\d+) hits, (\d+) misses")


def hot_pages(facts: int, details: list[str]) -> list[str]:
    """What readers of a crisis in the news ask for most: its summary, each list's first
    page, the timeline, the disputes, and a few facts; the curated crisis's too."""
    pages = ["/v1/crises"]
    for crisis in (crisis_id(facts), CURATED):
        pages += [f"/v1/crises/{crisis}", f"/v1/timeline?crisis={crisis}",
                  f"/v1/disputes?crisis={crisis}"]  # fmt: skip
        pages += [f"/v1/{kind}?crisis={crisis}" for kind in
                  ("statements", "casualties", "deployments", "arrests")]  # fmt: skip
    return pages + details


def reading(pages: list[str], deadline: float, seed: int) -> tuple[list[float], int]:
    """Random hot pages until `deadline`: each read's latency in ms, and how many failed
    (a 503 when the host is too busy to answer within the statement timeout)."""
    chosen = random.Random(seed)
    times, failed = [], 0
    with httpx.Client(base_url=BASE, timeout=30) as client:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            failed += client.get(chosen.choice(pages)).status_code != 200
            times.append((time.perf_counter() - started) * 1000)
    return times, failed


def writing(token: str, facts: dict[str, str], deadline: float, every: float) -> int:
    """One PATCH every `every` seconds, on time, until `deadline`."""
    done = 0
    with writer_client(token) as client:
        start = time.monotonic()
        for path, etag in facts.items():
            due = start + done * every
            if due >= deadline:
                break
            time.sleep(max(0.0, due - time.monotonic()))
            patch(client, path, etag, "Edited while readers read.")
            done += 1
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--facts", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--every", type=float, default=1.0, help="seconds between writes")
    parser.add_argument("--reuse", action="store_true", help="keep the database between runs")
    args = parser.parse_args()
    url = database(args.facts, args.reuse)
    token = curator(url)
    pages = hot_pages(args.facts, list(published(url, args.facts, "statement", 10)))
    written = published(url, args.facts, "casualty", int(args.seconds / args.every) + 1, 500)
    log = RESULTS / "hitrate.log"
    with running([CLI, "serve"], {"DATABASE_URL": url, **SERVE}, f"{BASE}/ready", log):
        deadline = time.monotonic() + args.seconds
        with concurrent.futures.ThreadPoolExecutor(args.readers + 1) as pool:
            reads = [pool.submit(reading, pages, deadline, n) for n in range(args.readers)]
            writes = pool.submit(writing, token, written, deadline, args.every)
            times = [t for f in reads for t in f.result()[0]]
            failed = sum(f.result()[1] for f in reads)
            wrote = writes.result()
    counts = [tuple(map(int, m.groups())) for m in COUNTS.finditer(log.read_bytes())]
    hits, misses = sum(h for h, _ in counts), sum(m for _, m in counts)
    figures: dict[str, Any] = {
        "facts": args.facts, "seconds": args.seconds, "hot_pages": len(pages),
        "readers": args.readers, "writes": wrote, "reads": len(times), "failed": failed,
        "read_p50_ms": percentile(times, 0.5), "read_p99_ms": percentile(times, 0.99),
        "workers_reporting": len(counts), "hits": hits, "misses": misses,
        "hit_rate": round(hits / max(1, hits + misses), 4),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }  # fmt: skip
    print(msgspec.json.format(msgspec.json.encode(figures)).decode())
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"hitrate-{args.facts}.json"
    out.write_bytes(msgspec.json.format(msgspec.json.encode(figures)) + b"\n")


if __name__ == "__main__":
    main()
