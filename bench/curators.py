"""python -m bench.curators [--facts 1000000] [--seconds 20] [--writers 8] [--readers 2] [--reuse]

Curators' writes against `crisis-facts serve` (production settings, 2 workers), on a
database of its own (`bench_curators_<N>`: the curated fixtures and a synthetic crisis of
N facts; `--reuse` keeps it between runs, since 1M facts take minutes to build):

1. one curator: PATCHes of distinct facts one after another, each with If-Match: latency
   p50 and p99 (no other load), after `WARM_UP` PATCHes that are not counted: each
   worker's first write opens its write connections and prepares their statements, a
   cost paid once a worker, reported apart (`first_writes_ms`);
2. reads alone: `--readers` readers (casualty pages by cursor, fact details, the timeline)
   for `--seconds`: reads/s and their p99, the baseline of 3;
3. `--writers` curators at once, each PATCHing facts of its own (never one twice), alone,
   then while the same readers read: writes/s, the writes' p50 and p99, reads/s and their
   p99, and the CPU seconds that this client, the server and PostgreSQL used meanwhile
   (where the two cores went).

Writes bench/results/curators-<N>.json; bench/RESULTS.md quotes it. bench/hitrate.py
measures the answer cache under writes on the same database.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import psutil
import psycopg

from bench.servers import running
from service import keys
from service.database import create_database, drop_database, start_embedded, with_database
from service.queries.facts import fact_etag
from service.settings import PROJECT_ROOT
from service.synth import crisis_id
from service.vocabulary import Role

RESULTS = Path(__file__).parent / "results"
CLI = str(Path(sys.executable).parent / "crisis-facts")
PORT = 8766
BASE = f"http://127.0.0.1:{PORT}"
MERGE = "application/merge-patch+json"
SERVE = {"PORT": str(PORT), "RATE_LIMIT_PER_MINUTE": "0", "WORKERS": "2"}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1) if values else 0


def database(facts: int, reuse: bool) -> str:
    """The URL of `bench_curators_<facts>`, built unless `reuse` finds it built."""
    server = os.environ.get("DATABASE_URL") or start_embedded(PROJECT_ROOT / ".data")
    name = f"bench_curators_{facts}"
    url = with_database(server, name)
    if reuse and _built(url, facts):
        return url
    drop_database(server, name)
    create_database(server, name)
    env = {**os.environ, "DATABASE_URL": url}
    for command in (["migrate"], ["load"], ["synth", "--facts", str(facts)]):
        subprocess.run([CLI, *command], env=env, check=True, capture_output=True)
    return url


def _built(url: str, facts: int) -> bool:
    try:
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT 1 FROM crises WHERE id = %s", [crisis_id(facts)])
            return row.fetchone() is not None
    except psycopg.Error:
        return False


def curator(url: str) -> str:
    """A new curator's token (a reused database keeps the keys of earlier runs)."""
    with psycopg.connect(url, autocommit=True) as conn:
        return keys.create(conn, f"bench-desk-{time.time_ns()}", Role.CURATOR)


def published(url: str, facts: int, kind: str, count: int, skip: int = 0) -> dict[str, str]:
    """`count` published facts of `kind` in the synthetic crisis: path -> current ETag."""
    path = {"casualty": "casualties", "statement": "statements"}[kind]
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT d.fact_id, d.revision, d.digest FROM fact_documents d "
            "JOIN facts f ON f.id = d.fact_id WHERE f.crisis_id = %s AND d.kind = %s "
            "AND d.review_status = 'published' ORDER BY d.fact_id OFFSET %s LIMIT %s",
            [crisis_id(facts), kind, skip, count],
        ).fetchall()
    return {f"/v1/{path}/{fact}": fact_etag(revision, digest) for fact, revision, digest in rows}


WARM_UP = 10
"""PATCHes before the measured ones: enough that both workers have written."""


def writer_client(token: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": MERGE}
    return httpx.Client(base_url=BASE, headers=headers, timeout=30)


def patch(client: httpx.Client, path: str, etag: str, note: str) -> float:
    """One PATCH with If-Match, a change whatever earlier runs wrote; its latency in ms."""
    body = msgspec.json.encode({"note": f"{note} ({time.time_ns()})"})
    started = time.perf_counter()
    answer = client.patch(path, content=body, headers={"If-Match": etag})
    took = (time.perf_counter() - started) * 1000
    assert answer.status_code == 200, (answer.status_code, path, answer.text[:300])
    return took


def one_curator(token: str, facts: dict[str, str]) -> dict[str, Any]:
    with writer_client(token) as client:
        note = "Edited by one curator."
        times = [patch(client, path, etag, note) for path, etag in facts.items()]
    return {"writes": len(times), "p50_ms": percentile(times, 0.5),
            "p99_ms": percentile(times, 0.99)}  # fmt: skip


def reading(facts: int, details: list[str], deadline: float) -> list[float]:
    """A reader until `deadline`: casualty pages of the crisis by cursor, a fact's detail,
    the timeline's first page, in turn; each read's latency in ms."""
    times: list[float] = []
    crisis = crisis_id(facts)
    with httpx.Client(base_url=BASE, timeout=30) as client:
        cursor = None
        n = 0
        while time.monotonic() < deadline:
            n += 1
            started = time.perf_counter()
            if n % 3 == 0:
                client.get(details[n % len(details)]).raise_for_status()
            elif n % 3 == 1:
                params = {"crisis": crisis, **({"cursor": cursor} if cursor else {})}
                page = client.get("/v1/casualties", params=params)
                page.raise_for_status()
                cursor = page.json()["next_cursor"]
            else:
                client.get("/v1/timeline", params={"crisis": crisis}).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    return times


def side_by_side(
    writers: list[Callable[[float], list[float]]],
    readers: list[Callable[[float], list[float]]],
    seconds: float,
) -> tuple[list[float], list[float]]:
    """Run every writer and reader until `seconds` pass: the writes' and reads' latencies."""
    deadline = time.monotonic() + seconds
    with concurrent.futures.ThreadPoolExecutor(len(writers) + len(readers)) as pool:
        wrote = [pool.submit(w, deadline) for w in writers]
        read = [pool.submit(r, deadline) for r in readers]
        return (
            [t for f in wrote for t in f.result()],
            [t for f in read for t in f.result()],
        )


def cpu_seconds(server: subprocess.Popen[bytes]) -> dict[str, float]:
    """CPU seconds used so far by this client, the server's processes and PostgreSQL's."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    tree = psutil.Process(server.pid)
    served = [tree, *tree.children(recursive=True)]
    database = [p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]
    used = {"client": me.ru_utime + me.ru_stime}
    for name, processes in (("server", served), ("postgresql", database)):
        used[name] = 0.0
        for process in processes:
            with contextlib.suppress(psutil.Error):
                used[name] += sum(process.cpu_times()[:2])
    return used


def measured(
    server: subprocess.Popen[bytes],
    writers: list[Callable[[float], list[float]]],
    readers: list[Callable[[float], list[float]]],
    seconds: float,
) -> dict[str, Any]:
    """side_by_side's figures, with the CPU each side used a second."""
    before = cpu_seconds(server)
    wrote, read = side_by_side(writers, readers, seconds)
    after = cpu_seconds(server)
    cores = {name: round((after[name] - before[name]) / seconds, 2) for name in before}
    return {"writers": len(writers), "readers": len(readers), "seconds": seconds,
            "writes_per_s": round(len(wrote) / seconds, 1),
            "write_p50_ms": percentile(wrote, 0.5), "write_p99_ms": percentile(wrote, 0.99),
            **(reads_figures(read, seconds) if readers else {}),
            "cores_used": cores}  # fmt: skip


def writing(token: str, own: Iterator[tuple[str, str]]) -> Callable[[float], list[float]]:
    def write(deadline: float) -> list[float]:
        times = []
        with writer_client(token) as client:
            for path, etag in own:
                if time.monotonic() >= deadline:
                    break
                times.append(patch(client, path, etag, "Edited by one of many curators."))
        return times

    return write


def reads_figures(times: list[float], seconds: float) -> dict[str, Any]:
    return {"reads_per_s": round(len(times) / seconds, 1), "read_p50_ms": percentile(times, 0.5),
            "read_p99_ms": percentile(times, 0.99)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--facts", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--reuse", action="store_true", help="keep the database between runs")
    args = parser.parse_args()
    url = database(args.facts, args.reuse)
    token = curator(url)
    details = list(published(url, args.facts, "statement", 50))
    # Enough distinct facts that no writer runs out at 1,000 writes/s, in each of two runs.
    pool = list(
        published(url, args.facts, "casualty", WARM_UP + 300 + 2000 * int(args.seconds)).items()
    )
    warm, alone, shared = pool[:WARM_UP], dict(pool[WARM_UP : WARM_UP + 300]), pool[WARM_UP + 300 :]
    readers = [
        (lambda deadline: reading(args.facts, details, deadline)) for _ in range(args.readers)
    ]
    half = len(shared) // 2
    writers = [writing(token, iter(shared[i : half : args.writers])) for i in range(args.writers)]
    more = [writing(token, iter(shared[half + i :: args.writers])) for i in range(args.writers)]
    with running([CLI, "serve"], {"DATABASE_URL": url, **SERVE}, f"{BASE}/ready",
                 RESULTS / "curators.log") as served:  # fmt: skip
        with writer_client(token) as client:
            first = [patch(client, path, etag, "Warming up.") for path, etag in warm]
        one = {**one_curator(token, alone), "first_writes_ms": [round(t, 1) for t in first]}
        _, baseline = side_by_side([], readers, args.seconds)
        alone_writing = measured(served, writers, [], args.seconds)
        with_reads = measured(served, more, readers, args.seconds)
    figures = {
        "facts": args.facts,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "one_curator_distinct_facts": one,
        "reads_alone": {"readers": args.readers, **reads_figures(baseline, args.seconds)},
        "curators_alone": alone_writing,
        "curators_with_reads": with_reads,
    }
    print(msgspec.json.format(msgspec.json.encode(figures)).decode())
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"curators-{args.facts}.json"
    out.write_bytes(msgspec.json.format(msgspec.json.encode(figures)) + b"\n")
    if not args.reuse:
        server = os.environ.get("DATABASE_URL") or start_embedded(PROJECT_ROOT / ".data")
        drop_database(server, f"bench_curators_{args.facts}")


if __name__ == "__main__":
    main()
