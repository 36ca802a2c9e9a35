"""Facts their sources do not date (issue 23, stumble 3): left out of the timeline and of
date filters unless `undated=true`, which places each at the publication date of the
first article citing it, its `date` still null."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from service.settings import Settings
from tests.apiclient import FACT_LISTS, Client, Item, invalid, ok, serve, walk


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[Client]:
    with serve(settings) as client:
        yield client


def first_day(value: str) -> str:
    """A partial date as the day it counts as: `2022-01` -> `2022-01-01`."""
    return (value + "-01-01")[:10] if len(value) == 4 else (value + "-01")[:10]


def placed(fact: Item) -> str:
    if fact["date"] is not None:
        return first_day(fact["date"]["value"])
    return min(first_day(c["source"]["published"]["value"]) for c in fact["citations"])


@pytest.fixture(scope="module")
def every_fact(client: Client) -> list[Item]:
    return [fact for path in FACT_LISTS.values() for fact in walk(client, path)]


def test_the_timeline_leaves_undated_facts_out(client: Client, every_fact: list[Item]) -> None:
    dated = sorted((placed(f), f["id"]) for f in every_fact if f["date"] is not None)
    assert len(dated) < len(every_fact), "the fixtures have undated facts"
    assert [f["id"] for f in walk(client, "/v1/timeline")] == [i for _, i in dated]


def test_include_undated_places_them_at_their_articles_date(
    client: Client, every_fact: list[Item]
) -> None:
    expected = [i for _, i in sorted((placed(f), f["id"]) for f in every_fact)]
    answered = walk(client, "/v1/timeline", undated="true")
    assert [f["id"] for f in answered] == expected
    # the mark: an undated fact keeps its null date
    by_id = {f["id"]: f for f in every_fact}
    assert [f["date"] for f in answered] == [by_id[f["id"]]["date"] for f in answered]
    # page after page, the same order
    assert [f["id"] for f in walk(client, "/v1/timeline", limit=7, undated="true")] == expected


def test_date_filters_compare_the_placed_date(client: Client, every_fact: list[Item]) -> None:
    days = sorted({placed(f) for f in every_fact})
    middle = days[len(days) // 2]
    since = walk(client, "/v1/timeline", undated="true", since=middle)
    assert [f["id"] for f in since] == [
        i for d, i in sorted((placed(f), f["id"]) for f in every_fact) if d >= middle
    ]
    assert any(f["date"] is None for f in since)


def test_a_cursor_does_not_cross_between_the_two(client: Client) -> None:
    cursor = ok(client, "/v1/timeline", limit=1)["next_cursor"]
    invalid(client, "/v1/timeline", "cursor", undated="true", cursor=cursor)


def test_undated_is_true_or_false(client: Client) -> None:
    invalid(client, "/v1/timeline", "undated", undated="everything")


def test_the_timeline_export_places_them_as_the_timeline_does(client: Client) -> None:
    dated = [f["id"] for f in walk(client, "/v1/timeline")]
    every = [f["id"] for f in walk(client, "/v1/timeline", undated="true")]
    asked: dict[str, str]
    for asked, listed in (({}, dated), ({"undated": "true"}, every)):
        exported = client.get("/v1/export/timeline.ndjson", params=asked)
        assert exported.status_code == 200, exported.text
        lines = [json.loads(line) for line in exported.content.splitlines() if line]
        assert [item["id"] for item in lines[:-1]] == listed, asked
        assert lines[-1]["count"] == len(listed)
