"""python -m bench.changes feed|latency|outage

The changes feed and its webhooks against `crisis-facts serve` and `crisis-facts deliver`
(production settings), each on a database of its own:

* `feed [--facts 1000000]`: pages of GET /v1/changes over a change log of a million
  changes (`crisis-facts synth` records each fact it creates as a change), at its start,
  middle and end and with `kind` and `crisis` filters: p50/p99, and each page's query plan.
  The database `bench_changes_<facts>` is built once and kept (`--rebuild` to redo it).
* `latency [--writes 300]`: a signed receiver on loopback, the worker running, curators'
  PATCHes paced 0-200 ms apart: from each change's time (`made_at`, taken under the write
  lock, before the commit) to its receipt, p50/p99/max.
* `outage [--minutes 10]`: the receiver taken down (connection refused) while writes go
  on, the server and the worker restarted (the worker killed with SIGKILL) halfway, the
  receiver brought back: every change delivered? duplicates, and with which webhook-id?

Writes bench/results/changes-<scenario>.json; bench/RESULTS.md quotes them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.server
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import psycopg
from standardwebhooks.webhooks import Webhook

from bench import feed as bench_feed
from bench.feed import head, summary
from bench.servers import stop, wait_ready
from service import keys
from service.database import create_database, drop_database, start_embedded, with_database
from service.settings import PROJECT_ROOT
from service.vocabulary import Role

RESULTS = Path(__file__).parent / "results"
CLI = str(Path(sys.executable).parent / "crisis-facts")
PORT = 8767
BASE = f"http://127.0.0.1:{PORT}"
SERVE = {"PORT": str(PORT), "RATE_LIMIT_PER_MINUTE": "0", "WEBHOOK_ALLOW_PRIVATE": "1"}


def use_port(port: int) -> None:
    """Each scenario serves on a port of its own: the outage runs for a quarter of an hour
    while the others can be measured."""
    global PORT, BASE
    PORT, BASE = port, f"http://127.0.0.1:{port}"
    SERVE["PORT"] = str(port)


def server_url() -> str:
    return os.environ.get("DATABASE_URL") or start_embedded(PROJECT_ROOT / ".data")


def fresh(name: str, *commands: list[str]) -> str:
    """A database of its own, made by the CLI's `commands`."""
    server = server_url()
    drop_database(server, name)
    create_database(server, name)
    url = with_database(server, name)
    for command in commands:
        subprocess.run([CLI, *command], env={**os.environ, "DATABASE_URL": url}, check=True)
    return url


def save(name: str, figures: dict[str, Any]) -> None:
    text = msgspec.json.format(msgspec.json.encode(figures)) + b"\n"
    print(text.decode())
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"changes-{name}.json").write_bytes(text)


# ---------------------------------------------------------------- the feed


def feed(facts: int, rebuild: bool, baseline: Path | None, pages: int) -> None:
    """Build `bench_changes_<facts>` once (kept for the next run), then measure its pages."""
    name = f"bench_changes_{facts}"
    try:
        built = head(with_database(server_url(), name)) > 0
    except psycopg.OperationalError:
        built = False
    if rebuild or not built:
        fresh(name, ["migrate"], ["load"], ["synth", "--facts", str(facts)])
    figures = bench_feed.feed(server_url(), name, CLI, SERVE, PORT, RESULTS, baseline, pages)
    save(f"feed-{facts}", figures)


# ---------------------------------------------------------------- webhooks


class Receiver:
    """A signed receiver on loopback: each delivery verified, its receipt time kept; it can be
    taken down (connections refused) and brought back on the same port."""

    def __init__(self, port: int = 0) -> None:
        self.secret = ""
        self.received: list[tuple[str, int, float]] = []  # (webhook-id, revision, time)
        self.lock = threading.Lock()
        self.port = port
        self.server: http.server.ThreadingHTTPServer | None = None
        self.up()

    def up(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                arrived = time.time()
                body = self.rfile.read(int(self.headers["content-length"]))
                payload = Webhook(receiver.secret).verify(body, dict(self.headers.items()))
                with receiver.lock:
                    receiver.received.append(
                        (self.headers["webhook-id"], payload["data"]["revision"], arrived)
                    )
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def revisions(self) -> set[int]:
        with self.lock:
            return {revision for _, revision, _ in self.received}


class Stack:
    """`crisis-facts serve` and `crisis-facts deliver` on one database, (re)started at will."""

    def __init__(self, url: str, log: Path) -> None:
        self.env = {**os.environ, **SERVE, "DATABASE_URL": url}
        self.log = log
        self.server: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None

    def _start(self, command: list[str]) -> subprocess.Popen[bytes]:
        out = self.log.open("ab")
        return subprocess.Popen(
            command, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start(self) -> None:
        self.server = self._start([CLI, "serve"])
        wait_ready(f"{BASE}/ready", self.server, self.log)
        self.worker = self._start([CLI, "deliver"])

    def restart(self) -> None:
        """The server stopped as a deploy stops it; the worker killed mid-whatever."""
        assert self.server is not None and self.worker is not None
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait()
        stop(self.server)
        self.start()

    def stop(self) -> None:
        for process in (self.worker, self.server):
            if process is not None:
                stop(process)


@contextlib.contextmanager
def hooked(name: str) -> Iterator[tuple[str, Stack, Receiver, httpx.Client, list[str]]]:
    """The curated fixtures, serve + deliver, a receiver subscribed to every change, and a
    curator's client with the facts it edits."""
    url = fresh(name, ["migrate"], ["load"])
    with psycopg.connect(url, autocommit=True) as conn:
        admin = keys.create(conn, "bench-admin", Role.ADMIN)
        paths = [
            f"/v1/casualties/{row[0]}"
            for row in conn.execute("SELECT id FROM facts WHERE kind = 'casualty' ORDER BY id")
        ]
    RESULTS.mkdir(exist_ok=True)
    log = RESULTS / f"{name}.log"
    log.unlink(missing_ok=True)
    stack = Stack(url, log)
    receiver = Receiver()
    stack.start()
    headers = {"Authorization": f"Bearer {admin}"}
    try:
        with httpx.Client(base_url=BASE, headers=headers, timeout=30) as client:
            created = client.post("/v1/webhooks", json={"url": receiver.url})
            assert created.status_code == 201, created.text
            receiver.secret = created.json()["secret"]
            yield url, stack, receiver, client, paths
    finally:
        stack.stop()
        receiver.down()
        drop_database(server_url(), name)


def patch_note(client: httpx.Client, path: str, note: str) -> int:
    """One curator's edit; the revision it made."""
    for _ in range(5):  # a restarted server may refuse the first try
        try:
            etag = client.get(path).headers["etag"]
            answer = client.patch(
                path,
                content=msgspec.json.encode({"note": note}),
                headers={"If-Match": etag, "Content-Type": "application/merge-patch+json"},
            )
            if answer.status_code == 200:
                return int(answer.json()["changed"]["revision"])
        except httpx.TransportError:
            pass
        time.sleep(1.0)
    raise RuntimeError(f"could not edit {path}")


def made_at(url: str) -> dict[int, float]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT revision, made_at FROM revisions").fetchall()
    return {int(revision): when.timestamp() for revision, when in rows}


def until(test: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not test():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def latency(writes: int) -> None:
    """Writes paced 0-200 ms apart, so most changes find the worker idle and must wake it."""
    rng = random.Random(5)
    with hooked("bench_changes_latency") as (url, _, receiver, client, paths):
        warm = patch_note(client, paths[0], "warming up")  # the worker is up and listening
        assert until(lambda: warm in receiver.revisions(), 60), "the worker never delivered"
        made = []
        for n in range(writes):
            made.append(patch_note(client, paths[n % len(paths)], f"latency {n}"))
            time.sleep(rng.uniform(0, 0.2))
        assert until(lambda: set(made) <= receiver.revisions(), 60), "not all delivered"
        times = made_at(url)
        with receiver.lock:
            first: dict[int, float] = {}
            for _, revision, arrived in receiver.received:
                first.setdefault(revision, arrived)
        delays = [(first[r] - times[r]) * 1000 for r in made]
    slowest = sorted(zip(delays, range(writes), strict=True), reverse=True)[:5]
    save(
        "latency",
        {
            "writes": writes,
            "paced_ms": [0, 200],
            "made_to_receipt": summary(delays),
            "slowest (ms, nth write)": [[round(d), n] for d, n in slowest],
        },
    )


def outage(minutes: float, every: float) -> None:
    """The receiver down for `minutes`, a write every `every` seconds throughout, the stack
    restarted halfway; then wait for the backlog and count what arrived."""
    with hooked("bench_changes_outage") as (url, stack, receiver, client, paths):
        base = head(url)  # a subscription starts after the last change made before it
        made = [patch_note(client, paths[0], "before the outage")]
        assert until(lambda: set(made) <= receiver.revisions(), 30)
        receiver.down()
        down_at = time.time()
        restarted_at = None
        n = 0
        while time.time() < down_at + minutes * 60:
            made.append(patch_note(client, paths[n % len(paths)], f"during the outage {n}"))
            n += 1
            if restarted_at is None and time.time() > down_at + minutes * 30:
                restarted_at = time.time()
                stack.restart()
            time.sleep(every)
        receiver.up()
        up_at = time.time()
        wanted = set(range(base + 1, head(url) + 1))
        caught_up = until(lambda: wanted <= receiver.revisions(), minutes * 60 / 2 + 120)
        done_at = time.time()
        with receiver.lock:
            received = list(receiver.received)
        with psycopg.connect(url) as conn:
            attempts = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE NOT ok) FROM webhook_attempts"
            ).fetchone()
    ids: dict[str, int] = {}
    revisions_of: dict[int, set[str]] = {}
    for webhook_id, revision, _ in received:
        ids[webhook_id] = ids.get(webhook_id, 0) + 1
        revisions_of.setdefault(revision, set()).add(webhook_id)
    after = sorted(t for _, _, t in received if t >= up_at)
    save(
        "outage",
        {
            "outage_s": round(up_at - down_at, 1),
            "restarted_after_s": round((restarted_at or down_at) - down_at, 1),
            "changes": len(wanted),
            "written_during_outage": n,
            "caught_up": caught_up,
            "lost": len(wanted - {r for _, r, _ in received}),
            "deliveries": len(received),
            "duplicates_same_id": sum(count - 1 for count in ids.values()),
            "revisions_sent_under_two_ids": sum(1 for s in revisions_of.values() if len(s) > 1),
            "first_after_back_s": round(after[0] - up_at, 1) if after else None,
            "all_after_back_s": round(done_at - up_at, 1),
            "attempts": attempts[0] if attempts else None,
            "failed_attempts": attempts[1] if attempts else None,
            "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="scenario", required=True)
    one = sub.add_parser("feed")
    one.add_argument("--facts", type=int, default=1_000_000)
    one.add_argument("--rebuild", action="store_true")
    one.add_argument(
        "--baseline", type=Path, help="a checkout of the code to compare with, side by side"
    )
    one.add_argument("--pages", type=int, default=300, help="requests per scenario")
    two = sub.add_parser("latency")
    two.add_argument("--writes", type=int, default=300)
    three = sub.add_parser("outage")
    three.add_argument("--minutes", type=float, default=10)
    three.add_argument("--every", type=float, default=2.0, help="seconds between writes")
    args = parser.parse_args()
    use_port({"feed": 8767, "latency": 8768, "outage": 8769}[args.scenario])
    if args.scenario == "feed":
        feed(args.facts, args.rebuild, args.baseline, args.pages)
    elif args.scenario == "latency":
        latency(args.writes)
    else:
        outage(args.minutes, args.every)


if __name__ == "__main__":
    main()
