"""GET /v1/changes: every change once, in commit order, resumable, also across writers whose
transactions overlap; long polling; bad cursors are 400s."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from service import engine as write_path
from service import keys, synth
from service.app import create_app
from service.database import make_engine
from service.settings import Settings
from service.vocabulary import Role
from tests.apiclient import invalid, ok, problem
from tests.conftest import FIXTURES, loaded_database
from tests.waiting import until

Client = TestClient[Litestar]


@pytest.fixture(scope="module")
def feed_url(server_url: str) -> Iterator[str]:
    """A database of its own: these tests commit changes."""
    with loaded_database(server_url, "feed", lambda e: write_path.load(e, FIXTURES)) as url:
        yield url


@pytest.fixture(scope="module")
def client(feed_url: str) -> Iterator[Client]:
    settings = Settings(database_url=feed_url, allowed_hosts=("testserver.local",))
    with TestClient(create_app(settings.replace(rate_limit_per_minute=0))) as client:
        yield client


def write(url: str, facts: int, seed: int = 1) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            write_path.apply(connection, synth.generate(facts, seed=seed), "synth")
    finally:
        engine.dispose()


def revisions(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT revision FROM revisions ORDER BY 1")]


def follow(client: Client, since: str | None, **params: Any) -> tuple[list[dict[str, Any]], str]:
    """Every change after `since`, page by page; the cursor to poll with next."""
    items: list[dict[str, Any]] = []
    for _ in range(10_000):
        page = ok(client, "/v1/changes", limit=200, **params, **({"since": since} if since else {}))
        since = page["next_cursor"]
        assert since
        items.extend(page["items"])
        if len(page["items"]) < 200:
            return items, since
    raise AssertionError("the feed never ends")


class TestFeed:
    def test_every_change_once_in_commit_order_with_the_answer_as_served(
        self, client: Client, feed_url: str
    ) -> None:
        items, _ = follow(client, None)
        assert [c["revision"] for c in items] == revisions(feed_url)
        fact = next(c for c in items if c["kind"] == "casualty")
        served = ok(client, f"/v1/casualties/{fact['id']}")
        latest = [c for c in items if c["id"] == fact["id"]][-1]
        assert latest["answer"] == served
        loaded = {c["operation"] for c in items if c["author"] != "feed-editor"}
        assert loaded == {"created"}, "the load created; only the tombstone test deletes"

    def test_the_cursor_is_given_when_nothing_is_newer_and_a_poll_gets_304(
        self, client: Client
    ) -> None:
        _, cursor = follow(client, None)
        first = client.get("/v1/changes", params={"since": cursor})
        assert first.status_code == 200 and first.json() == {"items": [], "next_cursor": cursor}
        again = client.get(
            "/v1/changes",
            params={"since": cursor},
            headers={"If-None-Match": first.headers["etag"]},
        )
        assert again.status_code == 304

    def test_filters_move_the_cursor_past_what_they_do_not_match(
        self, client: Client, feed_url: str
    ) -> None:
        items, cursor = follow(client, None, kind="crisis")
        assert items and {c["kind"] for c in items} == {"crisis"}
        page = ok(client, "/v1/changes", since=cursor, kind="crisis")
        assert page["next_cursor"] == cursor  # nothing newer: the same position
        _, everything = follow(client, None)
        assert cursor == everything, "a filtered reader stands at the last revision too"

    def test_a_deletion_is_a_tombstone_without_an_answer(
        self, client: Client, feed_url: str
    ) -> None:
        items, cursor = follow(client, None)
        gone = [c for c in items if c["kind"] == "casualty"][-1]["id"]
        with psycopg.connect(feed_url, autocommit=True) as conn:
            editor = keys.create(conn, "feed-editor", Role.EDITOR)
        path = f"/v1/casualties/{gone}"
        headers = {
            "Authorization": f"Bearer {editor}",
            "If-Match": client.get(path).headers["etag"],
            "X-Edit-Summary": "A duplicate",
        }
        assert client.delete(path, headers=headers).status_code == 200
        items, _ = follow(client, cursor)
        assert [(c["id"], c["operation"], c["answer"]) for c in items] == [(gone, "deleted", None)]

    def test_link_names_the_next_page_as_the_lists_do(self, client: Client) -> None:
        """Lists send `Link: rel="next"`; the feed sent none though it always has a next page."""
        response = client.get("/v1/changes", params={"limit": 3, "kind": "casualty"})
        link = response.headers["link"]
        assert link.startswith("<") and link.endswith('>; rel="next"')
        url = urlsplit(link[1 : link.index(">")])
        assert url.path == "/v1/changes"
        since = response.json()["next_cursor"]
        assert dict(parse_qsl(url.query)) == {"limit": "3", "kind": "casualty", "since": since}

    def test_following_links_reads_every_change_then_polls_where_it_stands(
        self, client: Client
    ) -> None:
        everything, last = follow(client, None, kind="crisis")
        seen: list[dict[str, Any]] = []
        url = "/v1/changes?kind=crisis&limit=1"
        for _ in range(len(everything) + 1):
            response = client.get(url)
            assert response.status_code == 200, response.text
            seen += response.json()["items"]
            link = response.headers["link"]
            url = link[1 : link.index(">")]
        assert seen == everything
        assert response.json() == {"items": [], "next_cursor": last}
        assert dict(parse_qsl(urlsplit(url).query))["since"] == last

    @pytest.mark.parametrize("since", ["nonsense", "WyJjcmlzZXMiLDFd", "WyJjaGFuZ2VzIiwtMV0"])
    def test_a_cursor_not_of_this_feed_is_a_400_naming_since(
        self, client: Client, since: str
    ) -> None:
        invalid(client, "/v1/changes", "since", since=since)

    @pytest.mark.parametrize("crisis", ["nope", "kazakstan-2022"])
    @pytest.mark.parametrize("polling", ["from-the-start", "since", "since-and-wait"])
    def test_a_crisis_that_does_not_exist_is_the_lists_404(
        self, client: Client, crisis: str, polling: str
    ) -> None:
        """Not an empty page (nor a held request) as if nothing had changed in it."""
        polled: dict[str, Any] = {}
        if polling.startswith("since"):
            polled["since"] = follow(client, None)[1]
        if polling.endswith("wait"):
            polled["wait"] = 30
        started = time.monotonic()
        body = problem(client, "/v1/changes", 404, crisis=crisis, **polled)
        assert time.monotonic() - started < 10, "answered at once, not after waiting"
        listed = problem(client, "/v1/sources", 404, crisis=crisis)
        assert body["type"] == "urn:crisis-facts:problem:unknown-filter-id"
        assert body["invalid_params"] == listed["invalid_params"]

    def test_a_crisis_that_exists_with_nothing_newer_is_an_empty_page(self, client: Client) -> None:
        _, cursor = follow(client, None)
        page = ok(client, "/v1/changes", since=cursor, crisis="kazakhstan-2022")
        assert page == {"items": [], "next_cursor": cursor}

    def test_wait_above_30_is_a_400(self, client: Client) -> None:
        invalid(client, "/v1/changes", "wait", wait=31)

    def test_a_held_request_answers_when_a_change_commits(
        self, client: Client, feed_url: str
    ) -> None:
        _, cursor = follow(client, None)
        answers: list[Any] = []
        started = time.monotonic()
        waiter = threading.Thread(
            target=lambda: answers.append(
                client.get("/v1/changes", params={"since": cursor, "wait": 20})
            )
        )
        waiter.start()
        write(feed_url, 50, seed=7)
        waiter.join(25)
        assert answers and answers[0].status_code == 200
        assert answers[0].json()["items"], "the held request saw the change"
        assert time.monotonic() - started < 15
        assert answers[0].headers["cache-control"] == "no-store"


def test_overlapping_writers_are_seen_in_commit_order_by_a_reader_in_between(
    client: Client, feed_url: str
) -> None:
    """The classic trap: a transaction that took its numbers first commits last, and readers
    who already read past them never see its changes. Writer A numbers its changes and holds
    its transaction open; writer B starts meanwhile; a reader follows the feed throughout.
    Every change must reach the reader exactly once, in order (fails without WRITE_LOCK:
    B then numbers from the same maximum as A, and one of them fails or is skipped)."""
    _, cursor = follow(client, None)
    start = revisions(feed_url)[-1]
    seen: list[int] = []
    engine = make_engine(feed_url)
    first = engine.connect()
    a = first.begin()
    write_path.apply(first, synth.generate(60, seed=11), "synth")  # numbered, not committed
    errors: list[BaseException] = []

    def writer_b() -> None:
        try:
            write(feed_url, 70, seed=12)
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    b = threading.Thread(target=writer_b)
    b.start()
    with psycopg.connect(feed_url, autocommit=True) as watch:

        def b_waits_or_wrote() -> bool:
            waiting = watch.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            ).fetchone()
            return bool(waiting and waiting[0]) or not b.is_alive()

        until(b_waits_or_wrote, 10, "writer B waits on the write lock")
    items, cursor = follow(client, cursor)
    seen += [c["revision"] for c in items]
    a.commit()
    first.close()
    b.join(60)
    engine.dispose()
    assert not errors, errors
    items, cursor = follow(client, cursor)
    seen += [c["revision"] for c in items]
    assert seen == [r for r in revisions(feed_url) if r > start], "each once, in order"
    with psycopg.connect(feed_url) as conn:
        mine = [
            r[0]
            for r in conn.execute(
                "SELECT revision FROM revisions WHERE crisis_id IN ('synth-60', 'synth-70') "
                "ORDER BY 1"
            )
        ]
    assert set(mine) <= set(seen), "every change of both writers reached the reader"
