"""Small helpers the API tests share: GET and check, walk a list, check a problem."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from service.app import create_app
from service.settings import Settings

Client = TestClient[Litestar]
Item = dict[str, Any]

FACT_LISTS = {
    "statement": "/v1/statements",
    "casualty": "/v1/casualties",
    "deployment": "/v1/deployments",
    "arrest": "/v1/arrests",
}
CRISIS = "kazakhstan-2022"


def unlimited(settings: Settings) -> Settings:
    """The test settings without the rate limit (these tests ask thousands of questions a
    minute) and answering the test clients' Host headers."""
    hosts = (*settings.allowed_hosts, "testserver.local", "testserver")
    return settings.replace(rate_limit_per_minute=0, allowed_hosts=hosts)


@contextmanager
def serve(settings: Settings) -> Iterator[Client]:
    """A client of an app of its own, over the session's loaded database."""
    with TestClient(create_app(unlimited(settings))) as client:
        yield client


def ok(client: Client, path: str, /, **params: Any) -> Any:
    """GET that must answer 200 with JSON; the decoded body."""
    response = client.get(path, params=params)
    assert response.status_code == 200, (path, params, response.text)
    return response.json()


def problem(client: Client, path: str, status: int, /, **params: Any) -> Item:
    """GET that must answer `status` as problem+json; the decoded body."""
    response = client.get(path, params=params)
    assert response.status_code == status, (path, params, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    body: Item = response.json()
    assert body["status"] == status
    return body


def invalid(client: Client, path: str, name: str, /, **params: Any) -> Item:
    """GET that must answer 400 naming the parameter `name`."""
    body = problem(client, path, 400, **params)
    assert name in {p["name"] for p in body.get("invalid_params", [])}, body
    assert name in body["detail"]
    return body


def walk(client: Client, path: str, /, limit: int = 200, **params: Any) -> list[Item]:
    """Every item of a list, following `next_cursor` page after page."""
    items: list[Item] = []
    cursor = None
    for _ in range(10_000):
        page = ok(client, path, **params, limit=limit, **({"cursor": cursor} if cursor else {}))
        assert set(page) == {"items", "next_cursor"}
        assert len(page["items"]) <= limit
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert page["items"], "a page with a next cursor is never empty"
    raise AssertionError(f"{path} never ends")


def ids(items: list[Item]) -> list[str]:
    return [item["id"] for item in items]
