"""Reads on a real streaming standby (tests/replication.py): two `crisis-facts serve`
processes on one primary and its standby, each consistency rule of service.replicas checked
from outside, as a client sees it.

A standby whose replay is paused (`pg_wal_replay_pause()`) lags by exactly the writes a test
makes: an actor it has not replayed answers 404 there and 200 on the primary, which is how
these tests see which database answered."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import IO

import httpx
import psycopg
import pytest

from service import keys
from service.vocabulary import Role
from tests.replication import Replication, replication
from tests.test_reliability import Load, Served, migrated_and_loaded
from tests.waiting import until

DATABASE = "crisis"
CRISIS = "kazakhstan-2022"
WIDE = "30"
"""REPLICA_MAX_LAG of the two replicas: a paused standby stays in their rotation."""
NARROW = 1.0
"""REPLICA_MAX_LAG of the replica that checks the bound."""


@dataclass
class Setup:
    pair: Replication
    token: str
    one: Served
    two: Served

    def write(self, via: Served, client: httpx.Client | None = None) -> str:
        """A new actor posted through `via`; its id."""
        actor = f"standby-spokesman-{secrets.token_hex(3)}"
        body = {
            "id": actor,
            "crisis": CRISIS,
            "kind": "person",
            "name": f"Ruslan Standby {secrets.token_hex(2)}",
            "role": "Interior ministry spokesman",
            "aliases": [],
        }
        headers = {"Authorization": f"Bearer {self.token}", "X-Edit-Summary": "New"}
        url = via.base + "/v1/actors"
        if client is None:
            answer = httpx.post(url, json=body, headers=headers, timeout=10)
        else:
            answer = client.post(url, json=body, headers=headers)
        assert answer.status_code == 201, answer.text
        return actor

    def primary_version(self) -> int:
        return int(str(self.pair.primary.sql("SELECT version FROM dataset_version", DATABASE)))

    def caught_up(self) -> bool:
        return self.pair.replayed(DATABASE) == self.primary_version()

    def seen_caught_up(self) -> bool:
        """Both servers have seen the standby replay the primary's version and read from it
        (/ready): until they look again (a tenth of a second), a process whose floor a
        writer's read raised reads from the primary, and would serve a write made meanwhile."""
        version = self.primary_version()
        return all(in_rotation_at(served, version) for served in (self.one, self.two))


def standby_serving(served: Served) -> bool:
    [standby] = httpx.get(served.base + "/ready", timeout=10).json()["standbys"]
    return bool(standby["serving"])


def in_rotation_at(served: Served, version: int) -> bool:
    ready = httpx.get(served.base + "/ready", timeout=10).json()
    [standby] = ready["standbys"]
    return bool(standby["serving"] and standby["dataset_version"] == version == ready["floor"])


def status(via: Served, actor: str, client: httpx.Client | None = None) -> int:
    url = f"{via.base}/v1/actors/{actor}"
    answer = httpx.get(url, timeout=10) if client is None else client.get(url)
    return answer.status_code


UNKEPT = [f"/v1/casualties?limit={n}" for n in range(1, 201)]
"""Reads under load, each URL new to the answer cache for a while: they reach a database."""


def seen_everywhere(via: Served, actor: str) -> bool:
    """The actor is served, and named by the kept list of the crisis's actors."""
    return status(via, actor) == 200 and listed(via, actor)


def listed(via: Served, actor: str) -> bool:
    """Whether the (kept) list of the crisis's actors names `actor`."""
    answer = httpx.get(f"{via.base}/v1/actors", params={"crisis": CRISIS, "limit": 200})
    assert answer.status_code == 200, answer.text
    return actor in {item["id"] for item in answer.json()["items"]}


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    with replication() as pair:
        pair.primary.sql(f"CREATE DATABASE {DATABASE}")
        migrated_and_loaded(pair.primary.url(DATABASE))
        with psycopg.connect(pair.primary.url(DATABASE), autocommit=True) as conn:
            token = keys.create(conn, "standby-desk", Role.CURATOR)
        pair.start_standby()
        env = {
            "DATABASE_READ_URLS": pair.standby.url(DATABASE),
            "REPLICA_MAX_LAG": WIDE,
            "WORKERS": "1",  # one process: "this process" of the rules is the whole replica
        }
        with ThreadPoolExecutor(2) as starting:
            one, two = starting.map(lambda _: Served(pair.primary.url(DATABASE), **env), range(2))
        try:
            yield Setup(pair, token, one, two)
        finally:
            one.close()
            two.close()


@pytest.fixture
def paused(setup: Setup) -> Iterator[Setup]:
    """The standby, caught up and seen so by both servers, then holding its replay until the
    test ends."""
    until(setup.seen_caught_up, timeout=10, what="both servers read the caught-up standby")
    setup.pair.pause()
    try:
        yield setup
    finally:
        setup.pair.resume()
        until(setup.caught_up, timeout=10, what="the standby replays every change")


def test_a_write_through_one_replica_is_read_through_both_within_the_lag_and_a_second(
    setup: Setup,
) -> None:
    until(setup.caught_up, timeout=10)
    assert not listed(setup.one, "nobody") and not listed(setup.two, "nobody")  # lists kept
    actor = setup.write(setup.one)
    written = time.monotonic()
    version = setup.primary_version()
    until(lambda: (setup.pair.replayed(DATABASE) or 0) >= version, timeout=5)
    lag = time.monotonic() - written
    for replica in (setup.one, setup.two):
        until(partial(seen_everywhere, replica, actor), timeout=5)
        seen = time.monotonic() - written
        assert seen < lag + 1.0, f"seen {seen:.2f} s after the write, lag {lag:.2f} s"


def test_a_writer_reads_its_write_at_once_through_either_replica(paused: Setup) -> None:
    # The writer's client keeps the cookie a write answers, as a browser does.
    with httpx.Client(timeout=10) as writer:
        actor = paused.write(paused.one, writer)
        # Others still read the paused standby: the write is not there...
        assert status(paused.two, actor) == 404
        # ...but its writer sees it at once, through the replica it wrote through or another.
        assert status(paused.one, actor, writer) == 200
        assert status(paused.two, actor, writer) == 200


def test_no_replica_serves_older_than_it_has_served(paused: Setup) -> None:
    replica = paused.two
    with httpx.Client(timeout=10) as writer:
        actor = paused.write(paused.one, writer)
        assert not listed(replica, actor) and status(replica, actor) == 404  # the standby's
        assert status(replica, actor, writer) == 200  # the writer's read, from the primary
    # From then on this replica answers no one from before the write: not from the paused
    # standby, not from the list it kept.
    assert status(replica, actor) == 200
    assert listed(replica, actor)


def test_kept_answers_follow_what_the_standby_replayed_not_the_notification(
    paused: Setup,
) -> None:
    replica = paused.two
    actor = paused.write(paused.one)
    # The primary has notified its new version; the standby has not replayed it, so the
    # kept list is still the standby's (and answers stay consistent with it).
    assert not listed(replica, actor)
    assert not listed(replica, actor)
    paused.pair.resume()
    resumed = time.monotonic()
    until(paused.caught_up, timeout=5)
    lag = time.monotonic() - resumed
    until(lambda: listed(replica, actor), timeout=lag + 1.0, what="the new list is served")


class Log:
    """A server's log lines as they come, read on a thread of their own."""

    def __init__(self, served: Served) -> None:
        self.lines: list[str] = []
        stream = served.process.stderr
        assert stream is not None
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[bytes]) -> None:
        for line in stream:
            self.lines.append(line.decode(errors="replace"))

    def count(self, text: str) -> int:
        return sum(text in line for line in list(self.lines))


def test_a_lagging_standby_leaves_the_rotation_and_rejoins(paused: Setup) -> None:
    narrow = Served(
        paused.pair.primary.url(DATABASE),
        DATABASE_READ_URLS=paused.pair.standby.url(DATABASE),
        REPLICA_MAX_LAG=str(NARROW),
        WORKERS="1",
    )
    log = Log(narrow)
    try:
        actor = paused.write(paused.one)
        # More than NARROW seconds behind: out of the rotation, reads from the primary.
        until(lambda: status(narrow, actor) == 200, timeout=NARROW + 1.5)
        joined = log.count("joins the read rotation")
        paused.pair.resume()
        # All of the primary's WAL replayed, and the server has seen it back in its rotation.
        until(paused.pair.replayed_all, timeout=5)
        until(lambda: log.count("joins the read rotation") > joined, timeout=5)
        paused.pair.pause()
        # Back in the rotation: the next write is read from the standby, not there yet.
        later = paused.write(paused.one)
        until(lambda: status(narrow, later) == 404, timeout=NARROW, what="reads on the standby")
    finally:
        narrow.close()


def test_a_stopped_standby_leaves_reads_to_the_primary_then_serves_again(
    setup: Setup,
) -> None:
    until(setup.caught_up, timeout=10)
    loads = [Load(served.base, UNKEPT) for served in (setup.one, setup.two)]
    workers = [worker for load in loads for worker in load.run(threads=2)]
    try:
        until(lambda: all(len(load.outcomes) >= 10 for load in loads))
        setup.pair.standby.stop()
        stopped = time.monotonic()
        actor = setup.write(setup.one)
        # Reads come from the primary now: the write is seen without the standby.
        until(lambda: status(setup.two, actor) == 200, timeout=2.0)
        # /ready tells why: the standby is out of the rotation.
        until(lambda: not standby_serving(setup.two), timeout=2.0, what="/ready shows it out")
        until(lambda: all(len(load.outcomes) >= 60 for load in loads), timeout=10)
        setup.pair.standby.start()
        until(setup.caught_up, timeout=10)
    finally:
        for load in loads:
            load.stop.set()
        for worker in workers:
            worker.join()
    outcomes = [o for load in loads for o in load.outcomes]
    assert {o.status for o in outcomes} == {200}, "no read failed"
    assert max(o.elapsed for o in outcomes if o.started >= stopped - 1) < 2.0
    _standby_serves_again(setup)


def _standby_serves_again(setup: Setup) -> None:
    setup.pair.pause()
    try:
        actor = setup.write(setup.one)
        until(lambda: status(setup.two, actor) == 404, timeout=5, what="reads on the standby")
    finally:
        setup.pair.resume()
        until(setup.caught_up, timeout=10)


def test_reads_go_on_through_a_primary_restart_and_writes_resume(setup: Setup) -> None:
    load = Load(setup.one.base, UNKEPT)
    workers = load.run(threads=2)
    try:
        until(lambda: len(load.outcomes) >= 10)
        setup.pair.primary.stop()
        down = len(load.outcomes)
        until(lambda: len(load.outcomes) >= down + 20, timeout=10, what="reads while down")
        setup.pair.primary.start()
        back = time.monotonic()
        until(lambda: _writes(setup), timeout=5, what="a write after the restart")
        resumed = time.monotonic() - back
    finally:
        load.stop.set()
        for worker in workers:
            worker.join()
    assert {o.status for o in load.outcomes} == {200}, "reads never failed"
    assert resumed < 3.0


def _writes(setup: Setup) -> bool:
    try:
        setup.write(setup.one)
    except (AssertionError, httpx.HTTPError):
        return False
    return True
