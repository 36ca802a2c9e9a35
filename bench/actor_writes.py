"""python -m bench.actor_writes [--facts 100000] [--edits 20]

Curators' writes of actors and articles in-process, through the one write path
(`service.engine.curated`, as POST /v1/sources and PATCH /v1/actors call it), side by
side with a fact's edit (`engine.change`), on a database of its own (`bench_actor_writes`)
holding the curated fixtures and a synthetic crisis:

1. a fact's edit (its note), for the ratio;
2. an actor's edit that keeps its name (its role): the actor alone is rewritten;
3. an actor's new name: every fact involving it is rewritten with it, in the same change
   (the actor of the synthetic crisis involved in the most facts);
4. a new article of 5 kB.

Each is a transaction of its own, committed; prints the medians and maxima in ms.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import psycopg

from service import engine
from service.database import create_database, drop_database, start_embedded, with_database
from service.engine import curated, store
from service.engine.specs import SourceSpec, convert
from service.engine.write import WRITE_LOCK
from service.settings import PROJECT_ROOT
from service.vocabulary import FactKind

CLI = str(Path(sys.executable).parent / "crisis-facts")
NAME = "bench_actor_writes"


def timed(url: str, count: int, work: Callable[[psycopg.Connection[Any], int], object]) -> str:
    times = []
    for n in range(count):
        with psycopg.connect(url) as conn:
            started = time.perf_counter()
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
                work(conn, n)
            times.append((time.perf_counter() - started) * 1000)
    return f"median {statistics.median(times):.1f} ms, max {max(times):.1f} ms ({count})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--facts", type=int, default=100_000)
    parser.add_argument("--edits", type=int, default=20)
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL") or start_embedded(PROJECT_ROOT / ".data")
    drop_database(server, NAME)
    create_database(server, NAME)
    url = with_database(server, NAME)
    env = {**os.environ, "DATABASE_URL": url}
    for command in (["migrate"], ["load"], ["synth", "--facts", str(args.facts)]):
        subprocess.run([CLI, *command], env=env, check=True, capture_output=True)
    with psycopg.connect(url) as conn:
        kind, fact_id = conn.execute(
            "SELECT kind, id FROM facts WHERE crisis_id LIKE 'synth%' ORDER BY id LIMIT 1"
        ).fetchone() or ("", "")
        busiest, involved = conn.execute(
            "SELECT actor_id, count(DISTINCT fact_id) FROM fact_actors "
            "GROUP BY actor_id ORDER BY 2 DESC LIMIT 1"
        ).fetchone() or ("", 0)
        quiet = conn.execute(
            "SELECT actor_id FROM fact_actors GROUP BY actor_id ORDER BY count(*) LIMIT 1"
        ).fetchone()
    quiet_id = quiet[0] if quiet else busiest

    def edit_fact(conn: psycopg.Connection[Any], n: int) -> None:
        found = store.fact_spec(conn.cursor(), FactKind(kind), fact_id)
        assert found is not None
        crisis, spec = found
        changed = msgspec.structs.replace(spec, note=f"Edit {n}")
        engine.change(conn, [(crisis, changed)], [], "bench", None)

    def edit_actor(actor_id: str, field: str) -> Callable[[psycopg.Connection[Any], int], None]:
        def work(conn: psycopg.Connection[Any], n: int) -> None:
            with conn.cursor() as cursor:
                found = curated.actor_spec(cursor, actor_id)
                assert found is not None
                crisis, spec = found
                changed = msgspec.structs.replace(spec, **{field: f"{spec.name} ({n})"})
                curated.write_actor(cursor, crisis, changed, "bench", None)

        return work

    text = (PROJECT_ROOT / "fixtures" / "articles" / "003_378a68a9eec595c3.txt").read_text()

    def new_source(conn: psycopg.Connection[Any], n: int) -> None:
        source_id = f"src-bench-{secrets.token_hex(4)}"
        spec = convert({
            "id": source_id, "file": curated.source_file(source_id), "crisis": "kazakhstan-2022",
            "title": f"Article {n}", "language": "en", "published": "2022-01-09",
            "published_note": "Bench.",
        }, SourceSpec)  # fmt: skip
        with conn.cursor() as cursor:
            curated.create_source(cursor, spec, text, "bench", None)

    print(f"{args.facts} synthetic facts; fact {fact_id}; busiest actor {busiest} ({involved})")
    print("fact edit:          ", timed(url, args.edits, edit_fact))
    print("actor role edit:    ", timed(url, args.edits, edit_actor(busiest, "role")))
    print("actor rename (few): ", timed(url, args.edits, edit_actor(quiet_id, "name")))
    print(f"actor rename ({involved}):", timed(url, 3, edit_actor(busiest, "name")))
    print("new 5 kB article:   ", timed(url, args.edits, new_source))
    drop_database(server, NAME)


if __name__ == "__main__":
    main()
