"""python -m bench.curators [--facts 100000] [--seconds 10] [--writers 4]

Curators' writes against `crisis-facts serve` (production settings, 2 workers), on a
database of its own (`bench_curators`) holding the curated fixtures and a synthetic crisis:

1. one curator: PATCHes of one fact, one after another (each with the ETag the last one
   answered): latency p50 and p99;
2. `--writers` curators at once, each on facts of its own, while one reader pages through
   casualties: writes/s and the reads' p99.

Writes bench/results/curators-<N>.json; bench/RESULTS.md quotes it.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
import psycopg

from bench.servers import running
from service import keys
from service.database import create_database, drop_database, start_embedded, with_database
from service.settings import PROJECT_ROOT
from service.vocabulary import Role

RESULTS = Path(__file__).parent / "results"
CLI = str(Path(sys.executable).parent / "crisis-facts")
NAME = "bench_curators"
PORT = 8766
BASE = f"http://127.0.0.1:{PORT}"
MERGE = "application/merge-patch+json"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _edit(client: httpx.Client, path: str, etag: str, note: str) -> tuple[float, str, int]:
    started = time.perf_counter()
    answer = client.patch(
        path, content=msgspec.json.encode({"note": note}), headers={"If-Match": etag}
    )
    return time.perf_counter() - started, answer.headers.get("etag", etag), answer.status_code


def one_curator(token: str, fact: str, count: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": MERGE}
    with httpx.Client(base_url=BASE, headers=headers, timeout=30) as client:
        etag = client.get(fact).headers["etag"]
        times = []
        for n in range(count):
            took, etag, status = _edit(client, fact, etag, f"Edited by the benchmark ({n}).")
            assert status == 200, status
            times.append(took * 1000)
    return {"writes": count, "p50_ms": round(_percentile(times, 0.5), 1),
            "p99_ms": round(_percentile(times, 0.99), 1)}  # fmt: skip


def many_curators(token: str, facts: list[str], writers: int, seconds: float) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": MERGE}
    deadline = time.monotonic() + seconds

    def write(own: list[str]) -> int:
        done = 0
        with httpx.Client(base_url=BASE, headers=headers, timeout=30) as client:
            etags = {fact: client.get(fact).headers["etag"] for fact in own}
            while time.monotonic() < deadline:
                fact = own[done % len(own)]
                sent = etags[fact]
                _, etags[fact], status = _edit(client, fact, sent, f"w{done}")
                assert status == 200, (status, fact, sent, etags[fact], client.get(fact).headers)
                done += 1
        return done

    def read() -> list[float]:
        times = []
        with httpx.Client(base_url=BASE, timeout=30) as client:
            cursor = None
            while time.monotonic() < deadline:
                started = time.perf_counter()
                page = client.get("/v1/casualties", params={"cursor": cursor} if cursor else {})
                times.append((time.perf_counter() - started) * 1000)
                cursor = page.json()["next_cursor"]
        return times

    shares = [facts[i::writers] for i in range(writers)]
    with concurrent.futures.ThreadPoolExecutor(writers + 1) as pool:
        reader = pool.submit(read)
        done = sum(pool.map(write, shares))
        reads = reader.result()
    return {"writers": writers, "seconds": seconds, "writes_per_s": round(done / seconds, 1),
            "reads": len(reads), "read_p99_ms": round(_percentile(reads, 0.99), 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--facts", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--writers", type=int, default=4)
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL") or start_embedded(PROJECT_ROOT / ".data")
    drop_database(server, NAME)
    create_database(server, NAME)
    url = with_database(server, NAME)
    env = {**os.environ, "DATABASE_URL": url}
    for command in (["migrate"], ["load"], ["synth", "--facts", str(args.facts)]):
        subprocess.run([CLI, *command], env=env, check=True, capture_output=True)
    with psycopg.connect(url, autocommit=True) as conn:
        token = keys.create(conn, "bench-desk", Role.CURATOR)
        facts = [
            f"/v1/casualties/{row[0]}"
            for row in conn.execute(
                "SELECT id FROM facts WHERE kind = 'casualty' AND crisis_id LIKE 'synth-%' "
                "ORDER BY id LIMIT 64"
            )
        ]
    serve = {"PORT": str(PORT), "RATE_LIMIT_PER_MINUTE": "0", "WORKERS": "2"}
    with running([CLI, "serve"], {**env, **serve}, f"{BASE}/ready", RESULTS / "curators.log"):
        figures = {
            "facts": args.facts,
            "one_curator": one_curator(token, facts[0], 300),
            "many_curators": many_curators(token, facts[1:], args.writers, args.seconds),
        }
    print(msgspec.json.format(msgspec.json.encode(figures)).decode())
    out = RESULTS / f"curators-{args.facts}.json"
    out.write_bytes(msgspec.json.format(msgspec.json.encode(figures)) + b"\n")
    drop_database(server, NAME)


if __name__ == "__main__":
    main()
