"""A curator's edit drops, in every worker, the kept answers that could show the fact, and
only those: the writer reads its write at once, the other workers as soon as the change's
notification reaches them, and the pages of other kinds stay warm (bench/hitrate.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import msgspec
import psycopg
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from service import engine, keys
from service.api.caching import ResponseCache
from service.app import create_app
from service.settings import Settings
from service.vocabulary import Role
from tests.conftest import FIXTURES, loaded_database
from tests.waiting import until

CRISIS = "kazakhstan-2022"
UNTOUCHED = [f"/v1/statements?crisis={CRISIS}", f"/v1/crises/{CRISIS}", "/v1/crises"]
"""Answers an edit of a casualty cannot change: another kind, and counts an edit keeps."""


@pytest.fixture(scope="module")
def url(server_url: str) -> Iterator[str]:
    with loaded_database(server_url, "cache_writes", lambda db: engine.load(db, FIXTURES)) as url:
        yield url


@pytest.fixture(scope="module")
def token(url: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        return keys.create(conn, "cache-desk", Role.CURATOR)


@pytest.fixture
def workers(settings: Settings, url: str) -> Iterator[tuple[TestClient[Litestar], ...]]:
    """Two workers of one deployment, each with its answer cache, following the dataset."""
    settings = settings.replace(database_url=url)
    with TestClient(create_app(settings)) as one, TestClient(create_app(settings)) as two:
        caches: list[ResponseCache] = [one.app.state.answer_cache, two.app.state.answer_cache]
        until(lambda: all(cache.live for cache in caches), what="the workers follow the dataset")
        yield one, two


def surfaces(client: TestClient[Litestar]) -> tuple[str, dict[str, str]]:
    """A disputed casualty's path, and every public answer that shows its figure."""
    disputes = client.get("/v1/disputes", params={"crisis": CRISIS, "kind": "casualty"})
    disputed = next(d for d in disputes.json()["items"] if d["kind"] == "casualty")
    path = f"/v1/casualties/{disputed['values'][0]['fact_id']}"
    return path, {
        "detail": path,
        "list": f"/v1/casualties?crisis={CRISIS}&limit=200",
        "list of every crisis": "/v1/casualties?limit=200",
        "timeline": f"/v1/timeline?crisis={CRISIS}&limit=200",
        "disputes": f"/v1/disputes?crisis={CRISIS}&limit=200",
    }


def shows(client: TestClient[Litestar], pages: dict[str, str], text: str) -> list[str]:
    """The pages whose answer holds `text`."""
    found = []
    for name, page in pages.items():
        answer = client.get(page)
        assert answer.status_code == 200, answer.text
        if text in answer.text:
            found.append(name)
    return found


def hits(client: TestClient[Litestar], pages: list[str]) -> int:
    """How many of `pages` this worker answers from memory."""
    cache = client.app.state.answer_cache
    before = cache.hits
    for page in pages:
        assert client.get(page).status_code == 200
    return int(cache.hits - before)


def edit(client: TestClient[Litestar], token: str, path: str, change: dict[str, Any]) -> None:
    etag = client.get(path).headers["etag"]
    headers = {
        "Authorization": f"Bearer {token}",
        "If-Match": etag,
        "Content-Type": "application/merge-patch+json",
    }
    answer = client.patch(path, content=msgspec.json.encode(change), headers=headers)
    assert answer.status_code == 200, answer.text


async def _cancel(task: Any) -> None:
    task.cancel()


def test_an_edit_is_read_everywhere_it_shows_and_other_answers_stay_kept(
    workers: tuple[TestClient[Litestar], ...], token: str
) -> None:
    writer, other = workers
    path, pages = surfaces(writer)
    count = str(900_000 + secrets.randbelow(99_999))  # a figure nothing else shows
    for worker in workers:
        assert shows(worker, pages, count) == []
        hits(worker, UNTOUCHED)
        assert hits(worker, [*pages.values(), *UNTOUCHED]) == len(pages) + len(UNTOUCHED)
    # The writer hears no notification: what it reads back is its own doing.
    writer.blocking_portal.call(_cancel, writer.app.state.listener)

    edit(writer, token, path, {"count": int(count)})

    assert shows(writer, pages, count) == list(pages), "the writer reads its write at once"
    until(
        lambda: shows(other, pages, count) == list(pages),
        what="another worker shows the edit in every answer once the notification comes",
    )
    for worker in workers:
        assert hits(worker, UNTOUCHED) == len(UNTOUCHED), "other kinds and counts stay kept"
