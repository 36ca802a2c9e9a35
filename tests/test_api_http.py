"""HTTP around the answers: ETags and 304, Cache-Control, gzip, CORS, and how many SQL
statements one list request costs."""

from __future__ import annotations

import functools
import gzip
import hashlib
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from service.settings import Settings
from tests.apiclient import Client, ok, serve, walk
from tests.waiting import until


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[Client]:
    """Overrides conftest's: an app without the rate limit, for thousands of requests."""
    with serve(settings) as client:
        yield client


GETS = [
    "/v1/crises",
    "/v1/crises/kazakhstan-2022",
    "/v1/sources",
    "/v1/actors?name=Masimov",
    "/v1/actors/karim-massimov",
    "/v1/statements",
    "/v1/casualties?limit=3",
    "/v1/deployments",
    "/v1/arrests?key=arrests.nationwide",
    "/v1/disputes",
    "/v1/timeline?kind=arrest",
    "/v1/search?q=arrestations",
    "/health",
    "/ready",
    "/openapi.json",
]


def first_id(client: Client, path: str) -> str:
    return str(walk(client, path, limit=1)[0]["id"])


class TestETag:
    @pytest.mark.parametrize("url", GETS)
    def test_every_answer_has_a_strong_etag_and_cache_control(
        self, client: Client, url: str
    ) -> None:
        response = client.get(url)
        assert response.status_code == 200
        etag = response.headers["etag"]
        assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
        assert response.headers["cache-control"]
        assert client.get(url).headers["etag"] == etag

    @pytest.mark.parametrize("url", GETS)
    def test_if_none_match_answers_304_without_a_body(self, client: Client, url: str) -> None:
        etag = client.get(url).headers["etag"]
        for header in [etag, f"W/{etag}", f'"other", {etag}', "*"]:
            response = client.get(url, headers={"If-None-Match": header})
            assert response.status_code == 304, header
            assert response.content == b""
            assert response.headers["etag"] == etag

    def test_a_stale_etag_gets_the_answer(self, client: Client) -> None:
        response = client.get("/v1/crises", headers={"If-None-Match": '"stale"'})
        assert response.status_code == 200
        assert response.json()["items"]

    def test_details_have_etags(self, client: Client) -> None:
        for path in ["/v1/statements", "/v1/casualties", "/v1/deployments", "/v1/arrests"]:
            url = f"{path}/{first_id(client, path)}"
            etag = client.get(url).headers["etag"]
            assert client.get(url, headers={"If-None-Match": etag}).status_code == 304

    def test_a_fact_etag_is_its_revision_and_the_hash_of_its_answer(
        self, client: Client, db: psycopg.Connection[tuple[Any, ...]]
    ) -> None:
        """A fact is tagged by its current revision, with the digest stored with its answer
        (the body's own SHA-256), so that a rebuilt database reusing the number differs."""
        for path in ["/v1/statements", "/v1/casualties", "/v1/deployments", "/v1/arrests"]:
            fact_id = first_id(client, path)
            response = client.get(f"{path}/{fact_id}", headers={"Accept-Encoding": "identity"})
            (revision,) = db.execute(
                "SELECT revision FROM records WHERE id = %s AND kind <> 'crisis'", [fact_id]
            ).fetchone() or (None,)
            digest = hashlib.sha256(response.content).hexdigest()[:32]
            assert response.headers["etag"] == f'"{revision}.{digest}"'

    def test_pages_with_other_facts_or_cursors_have_other_etags(self, client: Client) -> None:
        urls = [
            "/v1/statements?limit=2",
            "/v1/statements?limit=3",
            "/v1/statements?limit=2&crisis=kazakhstan-2022",  # same facts, other cursor
            "/v1/casualties?limit=2",
            "/v1/timeline?limit=2",
            "/v1/timeline?limit=2&kind=statement",
        ]
        answers = [client.get(url) for url in urls]
        bodies = {answer.content for answer in answers}
        assert len(bodies) == len(urls)
        assert len({answer.headers["etag"] for answer in answers}) == len(urls)

    def test_errors_are_not_cached(self, client: Client) -> None:
        response = client.get("/v1/crises/no-such-crisis")
        assert response.status_code == 404
        assert "etag" not in response.headers
        assert response.headers["cache-control"] == "no-store"


class TestCompression:
    def test_large_answers_are_gzipped_when_asked(self, client: Client) -> None:
        zipped = client.get("/v1/statements", headers={"Accept-Encoding": "gzip"})
        plain = client.get("/v1/statements", headers={"Accept-Encoding": "identity"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert "content-encoding" not in plain.headers
        assert zipped.json() == plain.json()
        assert int(zipped.headers["content-length"]) < len(plain.content)
        # two representations, two strong validators, and caches told to keep them apart
        assert zipped.headers["etag"] != plain.headers["etag"]
        # the answer cache keeps one answer per encoding and per origin: caches are told both
        for answer in (zipped, plain):
            assert {"accept-encoding", "origin"} <= set(answer.headers["vary"].lower().split(", "))

    def test_small_answers_are_not(self, client: Client) -> None:
        response = client.get("/health", headers={"Accept-Encoding": "gzip"})
        assert "content-encoding" not in response.headers

    def test_gzip_etag_does_not_change_with_the_clock(self, settings: Settings) -> None:
        """Regression: gzip stamped the current second into its header, so the ETag of a
        gzipped answer changed every second and across workers, and 304s never came."""
        etags = []
        for _ in range(2):
            with serve(settings) as fresh:  # a new app: nothing remembered between the two
                response = fresh.get("/v1/statements", headers={"Accept-Encoding": "gzip"})
                assert response.headers["content-encoding"] == "gzip"
                etags.append(response.headers["etag"])
            # The second answer is zipped a second later: the gzip header's time differs.
            until(functools.partial(second_turned, int(time.time())), 2, "a second passes")
        assert etags[0] == etags[1]

    def test_an_export_streams_gzipped_when_asked(self, client: Client) -> None:
        path = "/v1/export/statements.ndjson"
        with client.stream("GET", path, headers={"Accept-Encoding": "gzip"}) as response:
            assert response.headers["content-encoding"] == "gzip"
            raw = b"".join(response.iter_raw())
        plain = client.get(path, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert gzip.decompress(raw) == plain.content

    def test_the_docs_page_is_sent_plain_with_its_csp(self, client: Client) -> None:
        """The docs page's CSP names the hashes of its inline code, read off its body."""
        page = client.get("/docs", headers={"Accept-Encoding": "gzip"})
        assert page.status_code == 200 and "content-encoding" not in page.headers
        assert "script-src 'self' 'sha256-" in page.headers["content-security-policy"]

    def test_gzip_body_is_valid(self, client: Client) -> None:
        headers = {"Accept-Encoding": "gzip"}
        with client.stream("GET", "/v1/timeline", headers=headers) as response:
            raw = b"".join(response.iter_raw())
        assert gzip.decompress(raw).startswith(b'{"items":')


class TestCORS:
    ALLOWED = "https://dashboard.example"

    def test_allowed_origin_may_read(self, client: Client) -> None:
        response = client.get("/v1/crises", headers={"Origin": self.ALLOWED})
        assert response.headers["access-control-allow-origin"] == self.ALLOWED
        exposed = response.headers["access-control-expose-headers"].lower()
        assert "etag" in exposed and "link" in exposed

    def test_other_origin_may_not(self, client: Client) -> None:
        response = client.get("/v1/crises", headers={"Origin": "https://evil.example"})
        assert response.status_code == 200
        assert "access-control-allow-origin" not in response.headers

    def test_preflight(self, client: Client) -> None:
        headers = {"Origin": self.ALLOWED, "Access-Control-Request-Method": "GET"}
        response = client.options("/v1/crises", headers=headers)
        assert response.status_code in {200, 204}
        assert response.headers["access-control-allow-origin"] == self.ALLOWED
        headers["Origin"] = "https://evil.example"
        response = client.options("/v1/crises", headers=headers)
        assert response.headers.get("access-control-allow-origin") != "https://evil.example"


class StatementCounter:
    """Counts what the app sends to PostgreSQL, by patching the class every connection is an
    instance of (the app runs in the test client's own thread).

    Only the serving pool's connections count: they name themselves `crisis-facts`, while
    the answer caches' listeners (this app's and those of other apps alive in this process)
    read the dataset version now and then on connections of their own. Everything a
    request sends counts, the pool's check of the connection it hands out included."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.statements: list[str] = []
        original = psycopg.AsyncConnection.execute
        counter = self

        async def execute(self: psycopg.AsyncConnection[Any], query: Any, *a: Any, **k: Any) -> Any:
            if self.info.parameter_status("application_name") == "crisis-facts":
                counter.statements.append(query if isinstance(query, str) else repr(query))
            return await original(self, query, *a, **k)

        monkeypatch.setattr(psycopg.AsyncConnection, "execute", execute)

    def during(self, client: Client, url: str) -> int:
        self.statements.clear()
        assert client.get(url).status_code == 200
        return len(self.statements)


@pytest.fixture
def counter(monkeypatch: pytest.MonkeyPatch) -> StatementCounter:
    return StatementCounter(monkeypatch)


LISTS = [
    "/v1/crises",
    "/v1/sources",
    "/v1/actors",
    "/v1/statements",
    "/v1/casualties",
    "/v1/deployments",
    "/v1/arrests",
    "/v1/timeline",
    "/v1/disputes",
    "/v1/search?q=Kazakhstan",
]


class TestRoundTrips:
    @pytest.mark.parametrize("url", LISTS)
    def test_one_list_request_costs_one_or_two_statements(
        self, settings: Settings, counter: StatementCounter, url: str
    ) -> None:
        separator = "&" if "?" in url else "?"
        # A fresh app: no answer of it comes from memory. Its first request opens the
        # pool's connection, which is not the list's cost: warm it up elsewhere first.
        with serve(settings) as fresh:
            ok(fresh, "/v1/crises/kazakhstan-2022")
            counts = {}
            for limit in (1, 200):
                counts[limit] = counter.during(fresh, f"{url}{separator}limit={limit}")
                assert 1 <= counts[limit] <= 2, (limit, counter.statements)
        assert counts[200] == counts[1], counts

    def test_details_cost_one_or_two_statements(
        self, settings: Settings, counter: StatementCounter
    ) -> None:
        with serve(settings) as fresh:
            ok(fresh, "/v1/crises/kazakhstan-2022")
            for url in ["/v1/sources", "/v1/actors", "/v1/arrests"]:
                item_id = first_id(fresh, url)
                assert 1 <= counter.during(fresh, f"{url}/{item_id}") <= 2, counter.statements


def second_turned(since: int) -> bool:
    return int(time.time()) != since
