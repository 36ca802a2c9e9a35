"""Answers kept in memory are dropped the moment a load commits, and only then."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from litestar import Litestar
from litestar.testing import TestClient

from service import engine as write_path
from service.api.caching import Answer, ResponseCache, matches
from service.app import create_app
from service.settings import Settings
from tests.conftest import FIXTURES, copy_fixtures

PAGE = "/v1/crises/kazakhstan-2022"


def wait_for(predicate: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def cached_app(settings: Settings) -> Iterator[tuple[Litestar, TestClient[Litestar]]]:
    app = create_app(settings)
    with TestClient(app) as client:
        assert wait_for(lambda: app.state.get("listener") is not None)
        yield app, client


def test_a_committed_load_replaces_cached_answers(
    cached_app: tuple[Litestar, TestClient[Litestar]], engine: sa.Engine, tmp_path: Path
) -> None:
    app, client = cached_app
    first = client.get(PAGE)
    assert client.get(PAGE).headers["etag"] == first.headers["etag"]

    root = copy_fixtures(tmp_path)
    crisis_file = root / "facts" / "kazakhstan-2022" / "crisis.yaml"
    crisis = yaml.safe_load(crisis_file.read_text("utf-8"))
    crisis["name"] = "Renamed by a load"
    crisis_file.write_text(yaml.safe_dump(crisis, allow_unicode=True), "utf-8")
    try:
        write_path.load(engine, root)
        assert wait_for(lambda: client.get(PAGE).json()["name"] == "Renamed by a load")
        assert client.get(PAGE).headers["etag"] != first.headers["etag"]
    finally:
        write_path.load(engine, FIXTURES)
    assert wait_for(lambda: client.get(PAGE).json()["name"] == first.json()["name"])


def test_a_rolled_back_load_leaves_cached_answers(
    cached_app: tuple[Litestar, TestClient[Litestar]], connection: sa.Connection, tmp_path: Path
) -> None:
    _, client = cached_app
    before = client.get(PAGE).json()
    root = copy_fixtures(tmp_path)
    crisis_file = root / "facts" / "kazakhstan-2022" / "crisis.yaml"
    crisis = yaml.safe_load(crisis_file.read_text("utf-8"))
    crisis["name"] = "Never committed"
    crisis_file.write_text(yaml.safe_dump(crisis, allow_unicode=True), "utf-8")
    write_path.apply(connection, write_path.read_bundle(root), "load")  # rolled back by the fixture
    time.sleep(1.2)
    assert client.get(PAGE).json() == before


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
