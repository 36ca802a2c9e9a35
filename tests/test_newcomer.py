"""What a newcomer stumbled on (issue 23): partial dates that read as first days, citations
that need a second request, misspelt parameters answered as if absent, and a `key` filter
the README promised on /v1/disputes."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from service.settings import Settings
from tests.apiclient import CRISIS, FACT_LISTS, Client, Item, invalid, ok, serve, walk

PARTIAL = re.compile(r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$")
DIGITS = {"year": 4, "month": 7, "day": 10}


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[Client]:
    """An app of this module's own, closed with it (the session's would keep its pool open
    under test_reliability's count of connections left), without the rate limit."""
    with serve(settings) as client:
        yield client


def every_fact(client: Client) -> list[Item]:
    return [item for path in FACT_LISTS.values() for item in walk(client, path)]


def month_dated(client: Client) -> list[Item]:
    found = [i for i in every_fact(client) if i["date"] and i["date"]["precision"] == "month"]
    assert found, "the fixtures have facts known to the month only"
    return found


class TestPartialDates:
    def test_a_date_shows_only_what_is_known(self, client: Client) -> None:
        """A month-precision date is `2022-01`, never `2022-01-01` (read as 1 January)."""
        dates = [i["date"] for i in every_fact(client) if i["date"]]
        dates += [s["published"] for s in walk(client, "/v1/sources")]
        dates += [c["start"] for c in walk(client, "/v1/crises")]
        dates += [v["date"] for d in walk(client, "/v1/disputes") for v in d["values"] if v["date"]]
        assert {d["precision"] for d in dates} >= {"day", "month"}
        for date in dates:
            assert PARTIAL.match(date["value"]), date
            assert len(date["value"]) == DIGITS[date["precision"]], date

    def test_since_and_until_take_a_month(self, client: Client) -> None:
        month = month_dated(client)[0]
        value = month["date"]["value"]
        path = FACT_LISTS[month["kind"]]
        within = {i["id"] for i in walk(client, path, since=value, until=value)}
        assert month["id"] in within
        # until=2022-01 reaches the month's last day: every fact dated in it is included
        by_day = {i["id"] for i in walk(client, path, since=f"{value}-01", until=f"{value}-31")}
        assert within == by_day
        year = value[:4]
        assert within <= {i["id"] for i in walk(client, path, since=year, until=year)}

    @pytest.mark.parametrize("value", ["2022-13", "yesterday", "2022-02-30", "22-01-05"])
    def test_a_bad_date_shows_an_accepted_one(self, client: Client, value: str) -> None:
        body = invalid(client, "/v1/statements", "since", since=value)
        reason = body["invalid_params"][0]["reason"]
        assert "YYYY-MM-DD" in reason and "2022-01" in reason, reason


class TestCitations:
    def test_a_citation_says_who_published_it_where_and_when(self, client: Client) -> None:
        sources = {s["id"]: s for s in walk(client, "/v1/sources")}
        facts = every_fact(client)
        disputed = [v["citation"] for d in walk(client, "/v1/disputes") for v in d["values"]]
        citations = [c for f in facts for c in f["citations"]] + disputed
        assert disputed and len(citations) > len(facts)
        for citation in citations:
            source = sources[citation["source_id"]]
            assert citation["source"] == {
                "id": source["id"],
                "title": source["title"],
                "outlet": source["outlet"],
                "published": source["published"],
                "language": source["language"],
            }


class TestUnknownParameters:
    @pytest.mark.parametrize(
        ("path", "query", "name"),
        [
            ("/v1/casualties", {"limt": 5}, "limt"),
            ("/v1/statements", {"sinse": "2022-01-05"}, "sinse"),
            ("/v1/arrests", {"format": "csv"}, "format"),
            (f"/v1/crises/{CRISIS}", {"expand": "all"}, "expand"),
            ("/v1/disputes", {"crisis": CRISIS, "keys": "x"}, "keys"),
        ],
    )
    def test_are_refused_with_the_accepted_names(
        self, client: Client, path: str, query: dict[str, object], name: str
    ) -> None:
        body = invalid(client, path, name, **query)
        reason = body["invalid_params"][0]["reason"]
        if path == "/v1/casualties":
            assert "accepted: " in reason and "limit" in reason and "since" in reason
        assert "crisis" in reason or path.startswith("/v1/crises/")

    def test_known_ones_still_answer(self, client: Client) -> None:
        ok(client, "/v1/casualties", limit=5, since="2022-01-05", crisis=CRISIS)


class TestDisputesByKey:
    def test_key_narrows_to_that_quantity(self, client: Client) -> None:
        every = walk(client, "/v1/disputes")
        assert len(every) > 1
        for dispute in every:
            (only,) = walk(client, "/v1/disputes", key=dispute["key"])
            assert only == dispute

    def test_a_key_nothing_disputes_is_an_empty_list(self, client: Client) -> None:
        assert walk(client, "/v1/disputes", key="no.such.key") == []


class TestEnumerations:
    @pytest.mark.parametrize(
        ("path", "params", "name", "allowed"),
        [
            ("/v1/casualties", {"category": "killd"}, "category", "killed, injured"),
            ("/v1/statements", {"verification": "confirmd"}, "verification", "confirmed"),
            ("/v1/timeline", {"kind": ["statement", "fakt"]}, "kind", "statement, casualty"),
        ],
    )
    def test_a_value_not_in_the_list_is_named_with_the_values_it_could_be(
        self, client: Client, path: str, params: dict[str, object], name: str, allowed: str
    ) -> None:
        assert allowed in invalid(client, path, name, **params)["detail"]
