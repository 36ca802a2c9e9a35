"""What widening a search's names costs (service.queries.names.expand), per query, against a
loaded database: the first search after a change reads every name, the others one row.

    .venv/bin/python -m bench.names postgresql://user@host:port/db
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

import psycopg

from service.queries import names

QUERIES = ("Tastau", "Kassym-Jomart Tokayev", "arrestations", "Armenia troops")


async def main(url: str) -> None:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        for q in QUERIES:
            names._known.clear()
            times = []
            for _ in range(21):
                start = time.perf_counter()
                await names.expand(conn, q, None)
                times.append((time.perf_counter() - start) * 1000)
            print(
                f"{q!r}: first {times[0]:.1f} ms, then median {statistics.median(times[1:]):.2f} ms"
            )
        times = []
        for _ in range(21):
            start = time.perf_counter()
            await (await conn.execute("SELECT 1")).fetchall()
            times.append((time.perf_counter() - start) * 1000)
        print(f"SELECT 1: median {statistics.median(times):.2f} ms")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
