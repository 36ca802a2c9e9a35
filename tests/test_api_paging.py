"""Keyset pagination of every list: cursors walk each item exactly once, and a cursor the
API did not issue for this list is refused."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.settings import Settings
from service.vocabulary import ActorKind, FactKind, Language, SearchType, Verification
from tests.apiclient import Client, ids, invalid, ok, serve, walk


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[Client]:
    """Overrides conftest's: an app without the rate limit, for thousands of requests."""
    with serve(settings) as client:
        yield client


FACT_FILTERS = {
    "language": st.sampled_from([v.value for v in Language]),
    "verification": st.sampled_from([v.value for v in Verification]),
    "since": st.sampled_from(["2022-01-05", "2022-01-07", "2022-01-08"]),
}

# Every list, its required parameters, and filters hypothesis may add.
LISTS: dict[str, tuple[dict[str, Any], dict[str, st.SearchStrategy[Any]]]] = {
    "/v1/crises": ({}, {}),
    "/v1/sources": ({}, {"language": FACT_FILTERS["language"]}),
    "/v1/actors": ({}, {"kind": st.sampled_from([v.value for v in ActorKind])}),
    "/v1/statements": ({}, FACT_FILTERS),
    "/v1/casualties": ({}, FACT_FILTERS),
    "/v1/deployments": ({}, FACT_FILTERS),
    "/v1/arrests": ({}, FACT_FILTERS),
    "/v1/timeline": (
        {},
        {**FACT_FILTERS, "kind": st.lists(st.sampled_from([k.value for k in FactKind]))},
    ),
    "/v1/disputes": ({}, {"kind": st.sampled_from([k.value for k in FactKind])}),
    "/v1/search": (
        {"q": "Kazakhstan"},
        {"type": st.lists(st.sampled_from([t.value for t in SearchType]), max_size=2)},
    ),
}


def key(item: dict[str, Any]) -> str:
    """What identifies an item in its list (disputes have no id of their own)."""
    return item.get("id") or f"{item['crisis_id']}/{item['key']}"


@st.composite
def list_requests(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    path = draw(st.sampled_from(sorted(LISTS)))
    required, filters = LISTS[path]
    chosen = draw(st.sets(st.sampled_from(sorted(filters)))) if filters else set()
    return path, {**required, **{name: draw(filters[name]) for name in sorted(chosen)}}


@given(request=list_requests(), limit=st.integers(min_value=1, max_value=7))
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_cursor_walk_returns_every_item_exactly_once(
    client: Client, request: tuple[str, dict[str, Any]], limit: int
) -> None:
    path, params = request
    one_page = ok(client, path, **params, limit=200)
    assert one_page["next_cursor"] is None, "the curated lists fit in one page of 200"
    walked = walk(client, path, limit=limit, **params)
    assert [key(i) for i in walked] == [key(i) for i in one_page["items"]]
    assert len({key(i) for i in walked}) == len(walked)


@pytest.mark.parametrize("path", sorted(LISTS))
def test_every_list_pages(client: Client, path: str) -> None:
    """The property above is only meaningful if every list has more than one page."""
    required, _ = LISTS[path]
    first = ok(client, path, **required, limit=1)
    if len(walk(client, path, **required)) > 1:
        assert first["next_cursor"]
    assert len(first["items"]) == 1


class TestLinkHeader:
    def test_link_names_the_next_page_with_the_same_filters(self, client: Client) -> None:
        response = client.get("/v1/arrests", params={"limit": 2, "confirmed": "true"})
        page = response.json()
        link = response.headers["link"]
        assert link.endswith('>; rel="next"')
        url = urlsplit(link[1 : link.index(">")])
        assert url.path == "/v1/arrests"
        query = dict(parse_qsl(url.query))
        assert query == {"limit": "2", "confirmed": "true", "cursor": page["next_cursor"]}
        following = client.get(link[1 : link.index(">")])
        assert following.status_code == 200
        assert following.json() == ok(client, "/v1/arrests", **query)

    def test_link_keeps_escaped_values_and_replaces_the_cursor(self, client: Client) -> None:
        """A query with escapes (words with spaces and a quote) is re-encoded, not copied."""
        first = client.get("/v1/search", params={"q": "forces de l'ordre", "limit": 1})
        second = client.get(first.headers["link"][1 : first.headers["link"].index(">")])
        link = second.headers["link"]
        assert "<" not in link[1:] and " " not in link[: link.index(">")]
        query = parse_qsl(urlsplit(link[1 : link.index(">")]).query)
        assert query == [
            ("q", "forces de l'ordre"),
            ("limit", "1"),
            ("cursor", second.json()["next_cursor"]),
        ]

    def test_last_page_has_no_link(self, client: Client) -> None:
        response = client.get("/v1/crises", params={"limit": 200})
        assert response.json()["next_cursor"] is None
        assert "link" not in response.headers

    def test_walking_links_visits_every_item(self, client: Client) -> None:
        seen: list[str] = []
        url: str | None = "/v1/statements?limit=7"
        while url:
            response = client.get(url)
            seen += ids(response.json()["items"])
            link = response.headers.get("link")
            url = link[1 : link.index(">")] if link else None
        assert seen == ids(walk(client, "/v1/statements"))


def cursor_of(client: Client, path: str, **params: Any) -> str:
    cursor: str = ok(client, path, **params, limit=1)["next_cursor"]
    assert cursor
    return cursor


def forge(parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def unpack(cursor: str) -> list[Any]:
    parts: list[Any] = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return parts


class TestBadCursors:
    @pytest.mark.parametrize("path", sorted(LISTS))
    def test_forged_cursor(self, client: Client, path: str) -> None:
        required, _ = LISTS[path]
        for forged in ["abc", forge(["casualty", "x"]), forge([]), forge({"a": 1}), "A" * 512]:
            invalid(client, path, "cursor", **required, cursor=forged)

    @pytest.mark.parametrize("path", sorted(set(LISTS) - {"/v1/crises"}))
    def test_truncated_cursor(self, client: Client, path: str) -> None:
        required, _ = LISTS[path]
        cursor = cursor_of(client, path, **required)
        for cut in [cursor[:-1], cursor[:-4], cursor[: len(cursor) // 2]]:
            invalid(client, path, "cursor", **required, cursor=cut)

    def test_a_list_of_one_item_issues_no_cursor(self, client: Client) -> None:
        page = ok(client, "/v1/crises", limit=1)
        assert len(page["items"]) == 1 and page["next_cursor"] is None

    def test_cursor_of_another_list(self, client: Client) -> None:
        from_casualties = cursor_of(client, "/v1/casualties")
        for path in ["/v1/arrests", "/v1/statements", "/v1/deployments", "/v1/timeline"]:
            invalid(client, path, "cursor", cursor=from_casualties)
        invalid(client, "/v1/actors", "cursor", cursor=cursor_of(client, "/v1/sources"))

    def test_cursor_of_other_filters(self, client: Client) -> None:
        cursor = cursor_of(client, "/v1/statements", language="fr")
        invalid(client, "/v1/statements", "cursor", cursor=cursor)
        invalid(client, "/v1/statements", "cursor", cursor=cursor, language="en")
        assert ok(client, "/v1/statements", cursor=cursor, language="fr")["items"]

    def test_tampered_cursor_of_the_right_list(self, client: Client) -> None:
        parts = unpack(cursor_of(client, "/v1/timeline"))
        scope = parts[0]
        for tampered in [[scope, "2022-13-45", "x"], [scope, 5, "x"], [scope, None, None]]:
            invalid(client, "/v1/timeline", "cursor", cursor=forge(tampered))
        parts = unpack(cursor_of(client, "/v1/search", q="Kazakhstan"))
        invalid(
            client,
            "/v1/search",
            "cursor",
            q="Kazakhstan",
            cursor=forge([*parts[:1], "nan?", "x", "y"]),
        )


class TestBadLimits:
    @pytest.mark.parametrize("path", sorted(LISTS))
    @pytest.mark.parametrize("limit", ["0", "201", "-1", "abc", "1.5", ""])
    def test_refused(self, client: Client, path: str, limit: str) -> None:
        required, _ = LISTS[path]
        invalid(client, path, "limit", **required, limit=limit)

    @pytest.mark.parametrize("limit", [1, 200])
    def test_bounds_are_accepted(self, client: Client, limit: int) -> None:
        assert len(ok(client, "/v1/statements", limit=limit)["items"]) <= limit
