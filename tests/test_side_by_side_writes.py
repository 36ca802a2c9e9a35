"""Curators' writes of different facts run side by side (service.engine.edits): what keeps
them apart must keep every derived answer and the change log as one writer at a time would.

Each test holds writer A's transaction open at a chosen point while writer B runs, so the
interleaving it pins happens every time, not by chance."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import psycopg
import pytest

from service import engine, schemas
from service.engine.specs import CasualtySpec, convert
from tests.conftest import FIXTURES, loaded_database
from tests.waiting import until

CRISIS = "kazakhstan-2022"
SOURCE = "src-004-security-chief-arrested"
QUOTE = "the police also reporting 18 killed and 748 wounded in their ranks"


@pytest.fixture(scope="module")
def url(server_url: str) -> Iterator[str]:
    with loaded_database(server_url, "side_by_side", lambda db: engine.load(db, FIXTURES)) as url:
        yield url


def casualty(fact_id: str, key: str, count: int) -> CasualtySpec:
    spec: CasualtySpec = convert(
        {
            "id": fact_id,
            "category": "killed",
            "victim_group": "police",
            "count": count,
            "key": key,
            "citations": [{"source": SOURCE, "quote": QUOTE}],
        },
        CasualtySpec,
    )
    return spec


def committed(url: str, work: Callable[[psycopg.Connection[Any]], object]) -> None:
    with psycopg.connect(url) as conn, conn.transaction():
        work(conn)


def waits_on_a_lock(url: str, thread: threading.Thread) -> None:
    """Until a transaction of this database waits on a lock (or `thread` is done)."""
    with psycopg.connect(url, autocommit=True) as watch:

        def waiting() -> bool:
            found = watch.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            ).fetchone()
            return bool(found and found[0]) or not thread.is_alive()

        until(waiting, 10, "writer B waits on writer A")


def in_thread(url: str, work: Callable[[psycopg.Connection[Any]], object]) -> tuple[
    threading.Thread, list[BaseException]
]:  # fmt: skip
    errors: list[BaseException] = []

    def run() -> None:
        try:
            committed(url, work)
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_two_facts_of_one_dispute_edited_at_once_are_both_in_it(url: str) -> None:
    """Two curators change two figures of one quantity key at the same time: the stored
    dispute shows both new figures. (Fails without the lock on the key: B reads A's old
    figure, and its dispute clashes with A's or says what neither left.)"""
    key = f"police-killed-{secrets.token_hex(3)}"
    first, second = f"cas-a-{key}", f"cas-b-{key}"
    committed(url, lambda c: engine.change(c, [(CRISIS, casualty(first, key, 18))], [], "desk"))
    committed(url, lambda c: engine.change(c, [(CRISIS, casualty(second, key, 18))], [], "desk"))
    with psycopg.connect(url) as a:
        engine.change(a, [(CRISIS, casualty(first, key, 19))], [], "desk-a")  # not committed
        b, errors = in_thread(
            url, lambda c: engine.change(c, [(CRISIS, casualty(second, key, 25))], [], "desk-b")
        )
        waits_on_a_lock(url, b)
        a.commit()
    b.join(30)
    assert not errors, errors
    with psycopg.connect(url) as conn:
        stored = conn.execute(
            "SELECT document FROM disputed_quantities WHERE crisis_id = %s AND quantity_key = %s",
            [CRISIS, key],
        ).fetchall()
    assert len(stored) == 1, stored
    shown = msgspec.json.decode(stored[0][0], type=schemas.Dispute)
    assert sorted((v.fact_id, v.figure.count) for v in shown.values) == [
        (first, 19),
        (second, 25),
    ]


def test_writers_side_by_side_are_numbered_in_commit_order(url: str) -> None:
    """Writer A has numbered its change and not committed; writer B, on another fact,
    must neither take a number below A's nor commit before A: a reader of the changes feed
    who saw B's number would never see A's. (Fails when the numbering lock is not held until
    the commit: B commits first, or both take the same number.)"""
    key = f"police-killed-{secrets.token_hex(3)}"
    first, second = f"cas-c-{key}", f"cas-d-{key}"
    with psycopg.connect(url) as a:
        engine.change(a, [(CRISIS, casualty(first, f"{key}-a", 18))], [], "desk-a")
        b, errors = in_thread(
            url, lambda c: engine.change(c, [(CRISIS, casualty(second, f"{key}-b", 18))], [], "b")
        )
        waits_on_a_lock(url, b)
        with psycopg.connect(url) as reader:
            seen = reader.execute(
                "SELECT count(*) FROM revisions WHERE record_id = ANY(%s)", [[first, second]]
            ).fetchone()
        assert seen == (0,), "neither is committed while A is open"
        a.commit()
    b.join(30)
    assert not errors, errors
    with psycopg.connect(url) as conn:
        order = conn.execute(
            "SELECT record_id FROM revisions WHERE record_id = ANY(%s) ORDER BY revision",
            [[first, second]],
        ).fetchall()
    assert [row[0] for row in order] == [first, second]
