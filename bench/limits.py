"""The rate limit's cost per request: counted in this process's memory (what every worker did
alone before issue 25), in PostgreSQL's primary, in Redis; each shared store asked on every
request (lease of 1) and with leases (service.api.limits). One busy address, and many
addresses each seen once (a round trip per request whatever the lease).

    .venv/bin/python -m bench.limits [DATABASE_URL] [REDIS_URL]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from typing import Any

from service import migrations
from service.api.limits import LEASE_MAX, RateLimiter
from service.counts import Counts, MemoryCounts, PostgresCounts, RedisCounts
from service.database import create_database, drop_database, with_database

REQUESTS = 2000
ROUNDS = 5
PER_MINUTE = 10**9  # never refused: the cost of counting, not of refusing


def scope(address: str) -> dict[str, Any]:
    return {"path": "/v1/crises", "client": (address, 1234)}


async def per_request(counts: Counts, lease: int, addresses: int, tag: str) -> float:
    """Microseconds of one request's count, over REQUESTS requests from `addresses` clients."""
    limiter = RateLimiter(PER_MINUTE, ["/ready"], counts, lease_max=lease)
    scopes = [scope(f"{tag}.{i % addresses}") for i in range(REQUESTS)]
    start = time.perf_counter()
    for s in scopes:
        await limiter.headers(s)
    return (time.perf_counter() - start) / REQUESTS * 1e6


async def main(server: str, redis_url: str) -> None:
    name = "crisis_facts_bench_limits"
    create_database(server, name)
    url = with_database(server, name)
    migrations.upgrade(url, read_role="")
    postgres, redis = PostgresCounts(url, 1.0), RedisCounts(redis_url, 1.0)
    await postgres.open()
    stores: list[tuple[str, Counts, int]] = [
        ("memory (one process)", MemoryCounts(), 1),
        ("postgresql, every request", postgres, 1),
        (f"postgresql, leases up to {LEASE_MAX}", postgres, LEASE_MAX),
        ("redis, every request", redis, 1),
        (f"redis, leases up to {LEASE_MAX}", redis, LEASE_MAX),
    ]
    results: dict[tuple[str, int], list[float]] = {}
    try:
        for round_ in range(ROUNDS):  # alternate the stores within each round
            for label, counts, lease in stores:
                for addresses in (1, REQUESTS):
                    tag = f"{time.time_ns()}.{round_}"
                    cost = await per_request(counts, lease, addresses, tag)
                    results.setdefault((label, addresses), []).append(cost)
    finally:
        await postgres.close()
        await redis.close()
        drop_database(server, name)
    print("| counted in | µs/request, one busy address | µs/request, every address new |")
    print("| --- | ---: | ---: |")
    for label, _, _ in stores:
        busy = statistics.median(results[(label, 1)])
        new = statistics.median(results[(label, REQUESTS)])
        print(f"| {label} | {busy:.1f} | {new:.1f} |")


if __name__ == "__main__":
    server = sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/test"
    redis_url = sys.argv[2] if len(sys.argv) > 2 else "redis://127.0.0.1:6379/0"
    asyncio.run(main(server, redis_url))
