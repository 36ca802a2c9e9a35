"""The changes feed's pages at a million changes (`python -m bench.changes feed`), and this
worker's CPU per page without a server (`DATABASE_URL=... python -m bench.feed`).

Every feed request is followed by two cheap references on the same server, a `/health` and
a page of 50 stored casualties, so that the ratio tells the feed's own cost on a host whose
load moves. With `--baseline DIR` a second server runs the code checked out in DIR on the
same database and every request goes to both, in alternating order: before and after, side
by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench import inprocess
from bench.servers import running
from service import changes
from service.app import create_app
from service.database import with_database
from service.settings import Settings

REFERENCES = ("/health", "/v1/casualties")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summary(values_ms: list[float]) -> dict[str, float]:
    return {
        "n": len(values_ms),
        "p50_ms": round(percentile(values_ms, 0.5), 2),
        "p99_ms": round(percentile(values_ms, 0.99), 2),
        "max_ms": round(max(values_ms), 2),
    }


def head(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT max(revision) FROM revisions").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def scenarios(url: str, pages: int) -> dict[str, tuple[dict[str, Any], list[int]]]:
    """Each scenario's filters and the revisions its pages start after (one per request)."""
    last = head(url)
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT crisis_id FROM revisions WHERE crisis_id LIKE 'synth-%' LIMIT 1"
        ).fetchone()
    synth = row[0] if row else "?"
    rng = random.Random(21)

    def around(at: int) -> list[int]:
        return [max(0, min(last, at + rng.randint(-5_000, 5_000))) for _ in range(pages)]

    middle = last // 2
    return {
        "start": ({}, [rng.randint(0, 5_000) for _ in range(pages)]),
        "middle": ({}, around(middle)),
        "end (the last page)": ({}, [last - rng.randint(1, 49) for _ in range(pages)]),
        "end (nothing newer: a poll)": ({}, [last] * pages),
        "middle, limit=200": ({"limit": 200}, around(middle)),
        "kind=casualty, middle": ({"kind": "casualty"}, around(middle)),
        "kind=crisis (rare), start": ({"kind": "crisis"}, [0] * pages),
        f"crisis={synth}, middle": ({"crisis": synth}, around(middle)),
        "synth crisis and kind=crisis (rare), start": (
            {"crisis": synth, "kind": "crisis"},
            [0] * pages,
        ),
        "crisis=kazakhstan-2022 (none here) and kind=casualty, middle": (
            {"crisis": "kazakhstan-2022", "kind": "casualty"},
            around(middle),
        ),
        "crisis=kazakhstan-2022 (none here), middle": (
            {"crisis": "kazakhstan-2022"},
            around(middle),
        ),
    }


def plan(url: str, params: dict[str, Any], since: int) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the page's statement, as the feed runs it."""
    limit = int(params.get("limit", 50))
    query = changes._statement("crisis" in params, "kind" in params, limit)
    values = {"since": since, "crisis": params.get("crisis"), "kind": params.get("kind")}
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            b"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + query.as_string(None).encode(), values
        ).fetchall()
    return [row[0] for row in rows]


class Target:
    """One server under measurement: its client, its times per scenario and per reference."""

    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        self.times: dict[str, list[float]] = {}
        self.casualties: str | None = None

    def close(self) -> None:
        self.client.close()

    def timed(self, label: str, path: str, params: dict[str, Any]) -> httpx.Response:
        started = time.perf_counter()
        answer = self.client.get(path, params=params)
        self.times.setdefault(label, []).append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.text
        return answer

    def references(self) -> None:
        """A /health and the next page of 50 stored casualties (the product's other list of
        ready JSON), right after a feed page."""
        self.timed("/health", "/health", {})
        cursor = {"cursor": self.casualties} if self.casualties else {}
        page = self.timed("/v1/casualties, pages of 50", "/v1/casualties", cursor).json()
        self.casualties = page["next_cursor"]


WARMUP = 50
"""Feed pages each server answers before the figures (pages next to, not among, the
measured ones): the first requests of a new server open its pool's connections."""


def measure(url: str, targets: list[Target], pages: int) -> dict[str, Any]:
    """Every scenario's pages on every target in turn, the order alternating per request."""
    figures: dict[str, Any] = {}
    plans = scenarios(url, pages)
    for target in targets:  # connections opened and statements prepared, as on a live server
        for since in plans["middle"][1][:WARMUP]:
            target.client.get("/v1/changes", params={"since": changes.cursor_of(since + 1)})
    for label, (params, starts) in plans.items():
        items = 0
        for index, since in enumerate(starts):
            query = {**params, "since": changes.cursor_of(since)}
            for target in targets if index % 2 == 0 else targets[::-1]:
                answer = target.timed(label, "/v1/changes", query)
                items += len(answer.json()["items"])
                target.references()
        figures[label] = {
            **{t.name: summary(t.times[label]) for t in targets},
            "items_per_page": round(items / len(starts) / len(targets), 1),
            "plan": plan(url, params, starts[len(starts) // 2]),
        }
        print(label, {t.name: summary(t.times[label]) for t in targets}, file=sys.stderr)
    for reference in (*REFERENCES[:1], "/v1/casualties, pages of 50"):
        figures[f"reference: {reference}"] = {t.name: summary(t.times[reference]) for t in targets}
    return figures


def feed(
    server: str,
    name: str,
    cli: str,
    env: dict[str, str],
    port: int,
    results: Path,
    baseline: Path | None,
    pages: int,
) -> dict[str, Any]:
    """The feed's figures on the database `name` (already built), served by `cli serve`."""
    url = with_database(server, name)
    env = {**env, "DATABASE_URL": url, "ANSWER_CACHE_ENTRIES": "0"}
    servers = {"this": (port, env)}
    if baseline is not None:
        base_env = {**env, "PORT": str(port + 10), "PYTHONPATH": str(baseline.resolve())}
        servers["baseline"] = (port + 10, base_env)
    figures: dict[str, Any] = {"changes": head(url), "load_average_before": os.getloadavg()}
    with contextlib.ExitStack() as stack:
        targets = []
        for label, (at, variables) in servers.items():
            ready, log = f"http://127.0.0.1:{at}/ready", results / f"changes-feed-{label}.log"
            stack.enter_context(running([cli, "serve"], variables, ready, log))
            targets.append(stack.enter_context(contextlib.closing(Target(label, at))))
        figures["scenarios"] = measure(url, targets, pages)
    figures["load_average_after"] = os.getloadavg()
    return figures


async def _cpu_ms(app: Any, path: str, query: bytes, encoding: bytes) -> float:
    """CPU milliseconds of this thread for one request through the app's ASGI interface."""
    scope = inprocess.scope_of(path, query, ((b"accept-encoding", encoding),))
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    started = time.thread_time()
    await app(scope, receive, send)
    assert sent[0]["status"] == 200, sent
    return (time.thread_time() - started) * 1000


async def cpu(url: str, rounds: int) -> dict[str, float]:
    """Median CPU ms per request: a feed page of 50 from the middle of the log, a page of 50
    stored casualties and /health, gzipped and not, in turn, with the answer cache off."""
    settings = Settings.from_env().replace(
        database_url=url, answer_cache_entries=0, rate_limit_per_minute=0
    )
    app = create_app(settings)
    rng = random.Random(21)
    middle = head(url) // 2

    def since() -> bytes:
        return b"since=" + changes.cursor_of(middle + rng.randint(-5_000, 5_000)).encode()

    cases = {
        "feed, gzip": ("/v1/changes", since, b"gzip"),
        "feed, identity": ("/v1/changes", since, b"identity"),
        "/v1/casualties, gzip": ("/v1/casualties", lambda: b"", b"gzip"),
        "/v1/casualties, identity": ("/v1/casualties", lambda: b"", b"identity"),
        "/health": ("/health", lambda: b"", b"gzip"),
    }
    times: dict[str, list[float]] = {label: [] for label in cases}
    async with app.lifespan():
        for turn in range(rounds + 20):  # the first 20 warm up
            for label, (path, query, encoding) in cases.items():
                spent = await _cpu_ms(app, path, query(), encoding)
                if turn >= 20:
                    times[label].append(spent)
    return {label: round(percentile(spent, 0.5), 3) for label, spent in times.items()}


if __name__ == "__main__":
    print(asyncio.run(cpu(os.environ["DATABASE_URL"], int(sys.argv[1]) if sys.argv[1:] else 300)))
