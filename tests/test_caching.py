"""Answers kept in memory are dropped the moment a load commits, and only then."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from litestar import Litestar
from litestar.testing import TestClient

from service import engine as write_path
from service.api import reach
from service.api.caching import Answer, ResponseCache, matches
from service.app import create_app
from service.database import NOTIFY_CHANNEL, make_engine
from service.settings import Settings
from service.touched import FactTouched, Touched
from tests.conftest import FIXTURES, copy_fixtures, loaded_database
from tests.waiting import until

PAGE = "/v1/crises/kazakhstan-2022"


class Heard:
    """What the app's dataset listener reports to its answer cache, recorded as it happens."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reports: list[tuple[bool, int | None]] = []
        follow = ResponseCache.follow

        def recording(
            cache: ResponseCache, live: bool, version: int | None, touched: Touched | None = None
        ) -> None:
            follow(cache, live, version, touched)
            self.reports.append((live, version))

        monkeypatch.setattr(ResponseCache, "follow", recording)

    def wait_for_version(self, engine: sa.Engine) -> None:
        """Until the listener has reported the version now committed."""
        with engine.connect() as conn:
            version = conn.execute(sa.text("SELECT version FROM dataset_version")).scalar()
        assert until(lambda: self.reports[-1:] == [(True, version)], 5)

    def wait_for_news_after(self, engine: sa.Engine) -> None:
        """Until the listener has woken up and read the version after a NOTIFY sent now: a
        load's notification committed before it would have been heard by then."""
        heard = len(self.reports)
        with engine.begin() as conn:
            conn.execute(
                sa.text("SELECT pg_notify(:channel, 'probe')"), {"channel": NOTIFY_CHANNEL}
            )
        # two reports: the one under way may have read the version before the NOTIFY
        assert until(lambda: len(self.reports) >= heard + 2, 5)


@pytest.fixture(scope="module")
def caching_url(server_url: str) -> Iterator[str]:
    """A database of its own: these tests commit loads, and each change they make and undo
    leaves the crisis at a later revision than the other tests' examples show."""
    with loaded_database(server_url, "caching", lambda db: write_path.load(db, FIXTURES)) as url:
        yield url


@pytest.fixture(scope="module")
def engine(caching_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(caching_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def settings(settings: Settings, caching_url: str) -> Settings:
    return settings.replace(database_url=caching_url)


@pytest.fixture
def cached_app(
    settings: Settings, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Heard, TestClient[Litestar]]]:
    heard = Heard(monkeypatch)
    with TestClient(create_app(settings)) as client:
        heard.wait_for_version(engine)  # the cache keeps nothing before the listener reports
        yield heard, client


@contextmanager
def renamed_behind_the_cache(engine: sa.Engine, name: str) -> Iterator[None]:
    """The crisis renamed in the database without a load, so without a notification: an
    answer that keeps the old name came from the cache."""
    rename = sa.text("UPDATE crises SET name = :name WHERE id = 'kazakhstan-2022'")
    with engine.begin() as conn:
        old = conn.execute(sa.text("SELECT name FROM crises WHERE id = 'kazakhstan-2022'")).scalar()
        conn.execute(rename, {"name": name})
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(rename, {"name": old})


def test_a_committed_load_replaces_cached_answers(
    cached_app: tuple[Heard, TestClient[Litestar]], engine: sa.Engine, tmp_path: Path
) -> None:
    heard, client = cached_app
    first = client.get(PAGE)
    with renamed_behind_the_cache(engine, "Changed without a load"):
        cached = client.get(PAGE)
        assert cached.json() == first.json(), "the answer kept is served"
        assert cached.headers["etag"] == first.headers["etag"]

        root = copy_fixtures(tmp_path)
        crisis_file = root / "facts" / "kazakhstan-2022" / "crisis.yaml"
        crisis = yaml.safe_load(crisis_file.read_text("utf-8"))
        crisis["name"] = "Renamed by a load"
        crisis_file.write_text(yaml.safe_dump(crisis, allow_unicode=True), "utf-8")
        try:
            write_path.load(engine, root)
            heard.wait_for_version(engine)
            renamed = client.get(PAGE)
            assert renamed.json()["name"] == "Renamed by a load", "the old answer was dropped"
            assert renamed.headers["etag"] != first.headers["etag"]
        finally:
            write_path.load(engine, FIXTURES)
    heard.wait_for_version(engine)
    restored = client.get(PAGE).json()
    assert restored["changed"]["revision"] > first.json()["changed"]["revision"], "changed back"
    assert {**restored, "changed": None} == {**first.json(), "changed": None}


def test_answers_from_the_cache_count_against_the_rate_limit(
    settings: Settings, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The limiter and the cache are stages of one middleware: an answer kept in memory, or
    a 304, is counted and carries the RateLimit headers like one built afresh."""
    heard = Heard(monkeypatch)
    with TestClient(create_app(settings.replace(rate_limit_per_minute=4))) as client:
        heard.wait_for_version(engine)
        first = client.get(PAGE)
        with renamed_behind_the_cache(engine, "Changed without a load"):
            cached = client.get(PAGE)
            assert cached.json() == first.json(), "served from the cache"
            unchanged = client.get(PAGE, headers={"If-None-Match": first.headers["etag"]})
            assert unchanged.status_code == 304
            remaining = [r.headers["ratelimit-remaining"] for r in (first, cached, unchanged)]
            assert remaining == ["3", "2", "1"]
            assert client.get(PAGE).headers["ratelimit-remaining"] == "0"
            refused = client.get(PAGE)
            assert refused.status_code == 429
            assert refused.headers["content-type"] == "application/problem+json"
            assert int(refused.headers["retry-after"]) > 0


def test_a_rolled_back_load_leaves_cached_answers(
    cached_app: tuple[Heard, TestClient[Litestar]], engine: sa.Engine, tmp_path: Path
) -> None:
    heard, client = cached_app
    before = client.get(PAGE).json()
    root = copy_fixtures(tmp_path)
    crisis_file = root / "facts" / "kazakhstan-2022" / "crisis.yaml"
    crisis = yaml.safe_load(crisis_file.read_text("utf-8"))
    crisis["name"] = "Never committed"
    crisis_file.write_text(yaml.safe_dump(crisis, allow_unicode=True), "utf-8")
    with renamed_behind_the_cache(engine, "Changed without a load"):
        with engine.connect() as conn:
            transaction = conn.begin()
            write_path.apply(conn, write_path.read_bundle(root), "load")
            transaction.rollback()
        heard.wait_for_news_after(engine)
        assert client.get(PAGE).json() == before, "the answers kept are still served"


def test_the_cache_is_empty_and_bypassed_while_the_database_is_unknown() -> None:
    cache = ResponseCache(max_entries=2)
    answer = Answer(200, [], b"{}", b'"x"')
    cache.put(b"k", answer, cache.generation)
    assert cache.get(b"k") is None, "nothing is kept before the listener reports"
    cache.follow(True, 3)
    cache.put(b"k", answer, cache.generation)
    assert cache.get(b"k") is answer
    cache.follow(False, None)
    assert cache.get(b"k") is None
    cache.follow(True, 3)
    assert cache.get(b"k") is None, "answers from before an outage are gone"


def test_an_answer_built_before_a_load_is_not_stored_after_it() -> None:
    cache = ResponseCache(max_entries=8)
    cache.follow(True, 1)
    generation = cache.generation
    cache.follow(True, 2)
    cache.put(b"k", Answer(200, [], b"old", b'"o"'), generation)
    assert cache.get(b"k") is None


EDIT = Touched((FactTouched("casualty", "cas-1", "kazakhstan-2022", counted=False),))
STATEMENTS = reach.tag_of("/v1/statements", b"crisis=kazakhstan-2022")


def test_an_answer_built_before_an_edit_is_not_stored_after_it() -> None:
    cache = ResponseCache(max_entries=8)
    cache.follow(True, 1)
    generation = cache.generation
    cache.follow(True, 2, EDIT)
    cache.put(b"k", Answer(200, [], b"old", b'"o"'), generation, STATEMENTS)
    assert cache.get(b"k") is None


def test_news_of_an_edit_after_a_missed_version_drops_every_answer() -> None:
    cache = ResponseCache(max_entries=8)
    cache.follow(True, 1)
    cache.put(b"k", Answer(200, [], b"old", b'"o"'), cache.generation, STATEMENTS)
    cache.follow(True, 2, EDIT)
    assert cache.get(b"k") is not None, "an edit of a casualty leaves statements kept"
    cache.follow(True, 4, EDIT)
    assert cache.get(b"k") is None, "version 3 could have changed anything"


def test_the_cache_is_bounded() -> None:
    cache = ResponseCache(max_entries=2)
    cache.follow(True, 1)
    for key in (b"a", b"b", b"c"):
        cache.put(key, Answer(200, [], key, b'"' + key + b'"'), cache.generation)
    assert cache.get(b"a") is None and cache.get(b"c") is not None


@pytest.mark.parametrize(
    ("header", "expected"),
    [(b'"abc"', True), (b'W/"abc"', True), (b'"x", "abc"', True), (b"*", True), (b'"x"', False)],
)
def test_if_none_match_uses_weak_comparison(header: bytes, expected: bool) -> None:
    assert matches(header, b'"abc"') is expected


def test_the_cache_is_bounded_in_bytes() -> None:
    cache = ResponseCache(max_entries=100, max_bytes=10)
    cache.follow(True, 1)
    for key in (b"a", b"b", b"c"):
        cache.put(key, Answer(200, [], b"12345", b'"e"'), cache.generation)
    assert cache.get(b"a") is None and cache.get(b"b") is not None and cache.get(b"c")
    assert cache.bytes == 10
    cache.put(b"big", Answer(200, [], b"x" * 11, b'"b"'), cache.generation)
    assert cache.get(b"big") is None, "an answer larger than the whole cache is not kept"


XML = {"Accept": "application/xml"}


@pytest.mark.parametrize(
    "path",
    ["/v1/crises", "/v1/crises?", "/v1/crises/", "/v1/crises?limit=1", PAGE, "/v1/sources"],
)
def test_an_accept_that_refuses_json_is_406_also_when_the_answer_is_kept(
    cached_app: tuple[Heard, TestClient[Litestar]], path: str
) -> None:
    """The answer kept for a URL was served to any Accept: `Accept: application/xml` got
    JSON once someone had read the URL, 406 before."""
    _, client = cached_app
    for headers in [XML, {}, XML, {"Accept": "application/json"}, XML]:
        answer = client.get(path, headers=headers)
        if headers is XML:
            assert answer.status_code == 406
            assert answer.headers["content-type"] == "application/problem+json"
            assert "application/json" in answer.json()["detail"]
        else:
            assert answer.status_code == 200
            assert answer.headers["content-type"] == "application/json"
    kept = client.get(path).headers["etag"]
    refused = client.get(path, headers={**XML, "If-None-Match": kept})
    assert refused.status_code == 406, "not a 304 either"
