"""The databases benchmarked, built through the real CLI, and the URLs each scenario requests.

`curated` is fixtures/ alone; `100k` and `1m` add `crisis-facts synth` crises of that many
facts beside it. A database is rebuilt only when its recipe changed (schema, fixtures,
generator, loader) or when asked: its fingerprint is kept as the database's COMMENT.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import psycopg
from psycopg import sql

from service import queries
from service.database import create_database, drop_database, with_database
from service.settings import PROJECT_ROOT

SEED = 1
SIZES = {"curated": 0, "100k": 100_000, "1m": 1_000_000}
"""Synthetic facts added to the curated crisis for each size."""

RECIPE = (
    "alembic/versions",
    "fixtures",
    "service/engine",
    "service/models",
    "service/synth",
)
CLI = str(Path(sys.executable).parent / "crisis-facts")


class LoaderRun(msgspec.Struct, kw_only=True):
    """`crisis-facts synth` as it built the dataset: whole process, and the loader part."""

    facts: int
    wall_s: float
    generate_s: float
    load_s: float
    facts_per_s: float
    max_rss_mb: float
    summary: str


@dataclass(frozen=True)
class Dataset:
    size: str
    facts: int
    url: str


def fingerprint(size: str) -> str:
    digest = hashlib.sha256(f"{size} {SIZES[size]} {SEED}".encode())
    for entry in RECIPE:
        path = PROJECT_ROOT / entry
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" in file.parts:
                continue
            digest.update(str(file.relative_to(PROJECT_ROOT)).encode())
            digest.update(file.read_bytes())
    return f"crisis-facts bench {size}: {digest.hexdigest()[:16]}"


def _comment(server: str, name: str) -> str | None:
    with psycopg.connect(server, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [name],
        ).fetchone()
    return None if row is None else row[0]


def _cli(args: list[str], url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url}
    run = subprocess.run([CLI, *args], env=env, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise SystemExit(f"crisis-facts {' '.join(args)} failed:\n{run.stdout}\n{run.stderr}")
    return run


def _synth(url: str, facts: int) -> LoaderRun:
    """Run `crisis-facts synth`, timing it and reading its peak RSS from wait4."""
    env = {**os.environ, "DATABASE_URL": url}
    started = time.perf_counter()
    process = subprocess.Popen(
        [CLI, "synth", "--facts", str(facts), "--seed", str(SEED)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Read the pipes before reaping, so the child never blocks on a full pipe.
    assert process.stdout is not None and process.stderr is not None
    out = process.stdout.read()
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"crisis-facts synth --facts {facts} failed:\n{out}\n{err}")
    line = out.strip().splitlines()[-1]
    generated = re.search(r"generated in ([0-9.]+) s", line)
    loaded = re.search(r"checked and written in ([0-9.]+) s", line)
    load_s = float(loaded.group(1)) if loaded else wall
    return LoaderRun(
        facts=facts,
        wall_s=round(wall, 1),
        generate_s=float(generated.group(1)) if generated else 0.0,
        load_s=load_s,
        facts_per_s=round(facts / load_s),
        max_rss_mb=round(usage.ru_maxrss / 1024),
        summary=line,
    )


def prepare(
    server: str, size: str, reload: bool, log: Any = print
) -> tuple[Dataset, LoaderRun | None]:
    """The database of `size`, built unless an identical one is there already."""
    name = f"bench_{size}"
    url = with_database(server, name)
    recipe = fingerprint(size)
    dataset = Dataset(size=size, facts=SIZES[size], url=url)
    if not reload and _comment(server, name) == recipe:
        log(f"[{size}] reusing database {name} (same schema, fixtures, generator and loader)")
        return dataset, None
    log(f"[{size}] building database {name}")
    drop_database(server, name)
    create_database(server, name)
    _cli(["migrate"], url)
    _cli(["load"], url)
    run = None
    if dataset.facts:
        log(f"[{size}] crisis-facts synth --facts {dataset.facts} (this is the loader benchmark)")
        run = _synth(url, dataset.facts)
        log(f"[{size}] {run.summary}; peak RSS {run.max_rss_mb:.0f} MB")
    with psycopg.connect(url, autocommit=True) as conn:
        # What autovacuum does within a minute of a load; measuring before it is noise.
        conn.execute("VACUUM ANALYZE")
        # A build writes gigabytes; left to the checkpointer, their flush to disk lands in
        # the first minutes of measuring and stretches the tail latencies of that size only.
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("CHECKPOINT")
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(name), sql.Literal(recipe)
            )
        )
    return dataset, run


@contextlib.contextmanager
def database_settings(server: str, dataset: Dataset, settings: dict[str, str]) -> Iterator[None]:
    """PostgreSQL settings on the dataset's database while the block runs (new sessions)."""
    name = sql.Identifier(f"bench_{dataset.size}")
    with psycopg.connect(server, autocommit=True) as conn:
        for key, value in settings.items():
            conn.execute(
                sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                    name, sql.Identifier(key), sql.Literal(value)
                )
            )
    try:
        yield
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            for key in settings:
                conn.execute(
                    sql.SQL("ALTER DATABASE {} RESET {}").format(name, sql.Identifier(key))
                )


# ---------------------------------------------------------------- what each scenario asks


class Plan(msgspec.Struct, kw_only=True):
    """The URLs of every scenario against one dataset."""

    crisis: str
    facts: int
    total_facts: int
    paths: dict[str, list[str]]
    notes: dict[str, str]
    alternative: dict[str, list[str]]


LIST = "/v1/casualties?limit=50"


def get_json(base: str, path: str) -> Any:
    with urllib.request.urlopen(base + path, timeout=30) as answer:
        return json.load(answer)


def walk(base: str, first: str, pages: int) -> list[str]:
    """The first page and the next ones by following next_cursor, as a client would."""
    paths = [first]
    cursor = get_json(base, first).get("next_cursor")
    while cursor and len(paths) < pages:
        paths.append(f"{first}&cursor={cursor}")
        cursor = get_json(base, paths[-1]).get("next_cursor")
    return paths


def _scope_of(cursor: str) -> str:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    scope: str = json.loads(raw)[0]
    return scope


def plan(url: str, base: str, pages: int) -> Plan:
    """Pick the crisis, actor, dates, ids and words the scenarios use, from the data itself."""
    with psycopg.connect(url) as conn:
        crisis, facts = _one(
            conn, "SELECT crisis_id, count(*) FROM facts GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"
        )
        actor, since, until, matches = _one(
            conn,
            """
            WITH top AS (
                SELECT fa.actor_id FROM fact_actors fa JOIN facts f ON f.id = fa.fact_id
                WHERE f.kind = 'statement' AND f.crisis_id = %s AND f.occurred_on IS NOT NULL
                GROUP BY 1 ORDER BY count(DISTINCT f.id) DESC, 1 LIMIT 1
            )
            SELECT top.actor_id,
                   percentile_disc(0.1) WITHIN GROUP (ORDER BY f.occurred_on),
                   percentile_disc(0.9) WITHIN GROUP (ORDER BY f.occurred_on),
                   count(DISTINCT f.id)
            FROM top JOIN fact_actors fa ON fa.actor_id = top.actor_id
            JOIN facts f ON f.id = fa.fact_id AND f.kind = 'statement'
            WHERE f.occurred_on IS NOT NULL
            GROUP BY top.actor_id
            """,
            [crisis],
        )
        total = _one(conn, "SELECT count(*) FROM facts")[0]
        casualties = _one(conn, "SELECT count(*) FROM casualties")[0]
        step = max(1, casualties // 200)
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT fact_id FROM (SELECT fact_id, row_number() OVER (ORDER BY fact_id) AS n "
                "FROM casualties) c WHERE (n - 1) %% %s = 0 ORDER BY fact_id LIMIT 200",
                [step],
            )
        ]
        deep_id = _one(
            conn,
            "SELECT fact_id FROM casualties ORDER BY fact_id OFFSET %s LIMIT 1",
            [casualties * 9 // 10],
        )[0]
        place, place_facts = _one(
            conn,
            "SELECT pl.name, count(*) FROM facts f JOIN places pl ON pl.id = f.place_id "
            "WHERE f.crisis_id = %s GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1",
            [crisis],
        )
        person, person_facts = _one(
            conn,
            "SELECT a.name, count(*) FROM fact_actors fa JOIN actors a ON a.id = fa.actor_id "
            "WHERE a.crisis_id = %s AND a.kind = 'person' GROUP BY 1 "
            "ORDER BY abs(count(*) - 20), 1 LIMIT 1",
            [crisis],
        )
    first_cursor = get_json(base, "/v1/casualties?limit=1")["next_cursor"]
    deep = f"{LIST}&cursor={queries.encode_cursor(_scope_of(first_cursor), [deep_id])}"
    cold = walk(base, LIST, pages)
    filtered = f"/v1/statements?actor={actor}&since={since}&until={until}&limit=50"
    paths = {
        "list": [LIST],
        "hot": [LIST],
        "cold": cold,
        "deep": [deep],
        "filter": [filtered],
        "detail": [f"/v1/casualties/{i}" for i in ids],
        "search": [f"/v1/search?q={urllib.parse.quote(place)}"],
        "search-name": [f"/v1/search?q={urllib.parse.quote(chr(34) + person + chr(34))}"],
        "disputes": ["/v1/disputes?limit=50"],
        "timeline": ["/v1/timeline?limit=50"],
    }
    notes = {
        "list": "first page of /v1/casualties, 50 facts with citations and actors embedded",
        "hot": "the same page again and again, answer cache on (production settings)",
        "cold": f"{len(cold)} distinct pages of /v1/casualties followed by next_cursor",
        "deep": "the page 90% down /v1/casualties (cursor of the fact at that rank)",
        "filter": f"statements involving {actor} ({matches} dated), {since} to {until}",
        "detail": f"/v1/casualties/{{id}} cycling through {len(ids)} ids spread over the table",
        "search": f"q={place}: the busiest place ({place_facts} facts name it)",
        "search-name": f'q="{person}": a person named by {person_facts} fact roles',
        "disputes": "/v1/disputes?limit=50, every crisis",
        "timeline": "/v1/timeline?limit=50, every kind",
    }
    return Plan(
        crisis=crisis,
        facts=facts,
        total_facts=total,
        paths=paths,
        notes=notes,
        alternative={"list": [LIST]},
    )


def _one(conn: psycopg.Connection[Any], query: str, params: list[Any] | None = None) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None, query
    return row
