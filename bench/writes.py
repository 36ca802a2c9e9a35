"""python -m bench.writes [--facts 1000000] [--edits 100 --adds 10 --removes 10] [--keep]

The write path's targets, each a whole `crisis-facts` process timed with its peak RSS, on
a database of its own (`bench_writes`, DATABASE_URL's server or the embedded one):

1. fresh: `synth --facts N` into an empty crisis;
2. unchanged: the same command again (0 changes, rows written as PostgreSQL counts them);
3. edited: the same crisis with `--edits` facts changed, `--adds` added and `--removes`
   removed (`python -m bench.writes --apply-edited`, the same write path in-process).

Writes bench/results/writes-<N>.json; bench/RESULTS.md quotes it.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec
import psycopg

from service.database import create_database, drop_database, start_embedded, with_database
from service.engine.read import Bundle
from service.engine.specs import FactSpec
from service.settings import PROJECT_ROOT

RESULTS = Path(__file__).parent / "results"
CLI = str(Path(sys.executable).parent / "crisis-facts")
NAME = "bench_writes"


class Step(msgspec.Struct, kw_only=True):
    """One timed command."""

    step: str
    wall_s: float
    max_rss_mb: float
    rows_written: int
    revisions: int
    summary: str


def _server() -> str:
    return os.environ.get("DATABASE_URL") or start_embedded(PROJECT_ROOT / ".data")


def _written(url: str) -> tuple[int, int]:
    """Rows inserted, updated and deleted in the database so far, and revisions stored."""
    with psycopg.connect(url) as conn:
        conn.execute("SELECT pg_stat_force_next_flush()")
        row = conn.execute(
            "SELECT sum(n_tup_ins + n_tup_upd + n_tup_del)::bigint, "
            "(SELECT count(*) FROM revisions) FROM pg_stat_user_tables"
        ).fetchone()
    assert row is not None
    return int(row[0] or 0), int(row[1])


def _timed(step: str, args: list[str], url: str) -> Step:
    """Run one command, reading its peak RSS from wait4; rows as PostgreSQL counts them."""
    before, revisions = _written(url)
    started = time.perf_counter()
    process = subprocess.Popen(
        args,
        env={**os.environ, "DATABASE_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{out}")
    # PostgreSQL reports a backend's counts when it ends; poll until they stop moving.
    after = _settled(url)
    return Step(
        step=step,
        wall_s=round(wall, 1),
        max_rss_mb=round(usage.ru_maxrss / 1024),
        rows_written=after[0] - before,
        revisions=after[1] - revisions,
        summary=" | ".join(line for line in out.splitlines() if line.strip())[-400:],
    )


def _settled(url: str) -> tuple[int, int]:
    last = _written(url)
    for _ in range(50):
        time.sleep(0.2)
        now = _written(url)
        if now == last:
            return now
        last = now
    return last


def edited(bundle: Bundle, facts: int, edits: int, adds: int, removes: int) -> Bundle:
    """The bundle with `edits` facts given a new note, `removes` left out and `adds` added
    (copies of the last facts under new ids), spread over the middle of the crisis."""
    for _, folder in bundle.crises:
        step = max((facts - FIRST) // (edits + removes + 1), 1)
        folder.facts = _edited_facts(folder.facts, step, edits, adds, removes)
    return bundle


FIRST = 10_000
"""The first facts of a synthetic crisis use every actor once: none of them is removed."""


def _edited_facts(
    facts: Iterable[tuple[str, FactSpec]], step: int, edits: int, adds: int, removes: int
) -> Iterator[tuple[str, FactSpec]]:
    last: collections.deque[tuple[str, FactSpec]] = collections.deque(maxlen=max(adds, 1))
    for index, (file, fact) in enumerate(facts):
        chosen = index >= FIRST and (index - FIRST) % step == step - 1
        if chosen and removes > 0:
            removes -= 1
            continue
        if chosen and edits > 0:
            edits -= 1
            fact = msgspec.structs.replace(fact, note=f"Edited for the benchmark ({index}).")
        last.append((file, fact))
        yield file, fact
    for file, fact in itertools.islice(last, adds):  # none when adds is 0
        yield file, msgspec.structs.replace(fact, id=f"{fact.id}-added")


def apply_edited(facts: int, edits: int, adds: int, removes: int) -> None:
    """`--apply-edited`: what `crisis-facts synth` does, on the edited crisis."""
    from service import engine, synth
    from service.database import engine_for

    bundle = edited(synth.generate(facts, 1), facts, edits, adds, removes)
    with engine_for(os.environ["DATABASE_URL"]) as db, db.begin() as connection:
        outcome = engine.apply(connection, bundle, "bench", "benchmark edits")
    print(outcome.summary())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--facts", type=int, default=1_000_000)
    parser.add_argument("--edits", type=int, default=100)
    parser.add_argument("--adds", type=int, default=10)
    parser.add_argument("--removes", type=int, default=10)
    parser.add_argument("--apply-edited", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    if args.apply_edited:
        apply_edited(args.facts, args.edits, args.adds, args.removes)
        return
    server = _server()
    drop_database(server, NAME)
    create_database(server, NAME)
    url = with_database(server, NAME)
    subprocess.run([CLI, "migrate"], env={**os.environ, "DATABASE_URL": url}, check=True)
    synth = [CLI, "synth", "--facts", str(args.facts)]
    changes = [
        sys.executable, "-m", "bench.writes", "--apply-edited", "--facts", str(args.facts),
        "--edits", str(args.edits), "--adds", str(args.adds), "--removes", str(args.removes),
    ]  # fmt: skip
    steps = [
        _timed("fresh", synth, url),
        _timed("unchanged", synth, url),
        _timed("edited", changes, url),
    ]
    for step in steps:
        rate = re.search(r"\(([0-9,]+) facts/s\)", step.summary)
        print(
            f"{step.step}: {step.wall_s} s, {step.max_rss_mb} MB, {step.rows_written} rows, "
            f"{step.revisions} revisions{f', {rate.group(1)} facts/s' if rate else ''}"
        )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"writes-{args.facts}.json"
    out.write_bytes(msgspec.json.format(msgspec.json.encode(steps)) + b"\n")
    print(f"wrote {out.relative_to(PROJECT_ROOT)}")
    if not args.keep:
        drop_database(server, NAME)


if __name__ == "__main__":
    main()
