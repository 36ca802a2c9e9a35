"""Crises, sources, actors, disputes, search and the probes: one class per operation."""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import psycopg
import pytest
from litestar.testing import TestClient

from service import migrations, queries
from service.app import create_app
from service.database import create_database, drop_database, with_database
from service.queries import FACT_RANK_BOUND
from service.settings import Settings
from service.vocabulary import Hedge
from tests.apiclient import (
    CRISIS,
    FACT_LISTS,
    Client,
    Item,
    ids,
    invalid,
    ok,
    problem,
    serve,
    unlimited,
    walk,
)

NATIONWIDE_FILES = {
    "000_fd5757eb49514937.txt": (4266, "exact"),
    "002_41c8b866e3ccfb2d.txt": (4400, "exact"),
    "004_d32f03c80d27b2d2.txt": (4000, "more_than"),
}
"""The nationwide arrest figures the curation records, by article file: 4266, '4 400' and
'more than 4,000'."""


def all_facts(client: Client) -> list[Item]:
    return [fact for path in FACT_LISTS.values() for fact in walk(client, path)]


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[Client]:
    """Overrides conftest's: an app without the rate limit, for thousands of requests."""
    with serve(settings) as client:
        yield client


class TestListCrises:
    def test_lists_the_crisis_with_its_counts(self, client: Client) -> None:
        crises = walk(client, "/v1/crises")
        assert CRISIS in ids(crises)
        crisis = next(c for c in crises if c["id"] == CRISIS)
        assert crisis["country"] == "Kazakhstan"
        for kind, path in FACT_LISTS.items():
            assert crisis["counts"][kind] == len(walk(client, path, crisis=CRISIS)), kind

    def test_bad_limit_is_refused(self, client: Client) -> None:
        invalid(client, "/v1/crises", "limit", limit=0)


class TestGetCrisis:
    def test_reads_back_the_listed_crisis(self, client: Client) -> None:
        listed = next(c for c in walk(client, "/v1/crises") if c["id"] == CRISIS)
        assert ok(client, f"/v1/crises/{CRISIS}") == listed

    def test_unknown_crisis_is_not_found(self, client: Client) -> None:
        problem(client, "/v1/crises/atlantis-1999", 404)

    def test_malformed_id_is_refused(self, client: Client) -> None:
        invalid(client, "/v1/crises/Kazakhstan%202022", "crisis_id")


class TestListSources:
    def test_sources_in_french_and_english_without_text(self, client: Client) -> None:
        sources = walk(client, "/v1/sources")
        assert {s["language"] for s in sources} == {"fr", "en"}
        assert all("text" not in s and s["length"] > 0 for s in sources)
        assert ids(sources) == sorted(ids(sources))
        assert set(NATIONWIDE_FILES) <= {s["file_name"] for s in sources}

    @pytest.mark.parametrize("language", ["fr", "en"])
    def test_language_filter(self, client: Client, language: str) -> None:
        everything = walk(client, "/v1/sources")
        narrowed = walk(client, "/v1/sources", language=language)
        assert narrowed and len(narrowed) < len(everything)
        assert narrowed == [s for s in everything if s["language"] == language]

    def test_crisis_filter(self, client: Client) -> None:
        assert walk(client, "/v1/sources", crisis=CRISIS) == walk(client, "/v1/sources")
        problem(client, "/v1/sources", 404, crisis="no-such-crisis")

    def test_unknown_language_is_refused(self, client: Client) -> None:
        invalid(client, "/v1/sources", "language", language="de")


class TestGetSource:
    def test_full_text_matches_its_summary(self, client: Client) -> None:
        for summary in walk(client, "/v1/sources"):
            source = ok(client, f"/v1/sources/{summary['id']}")
            text = source.pop("text")
            assert source == summary
            assert len(text) == summary["length"]
            assert hashlib.sha256(text.encode()).hexdigest() == summary["sha256"]

    def test_every_citation_is_the_text_between_its_offsets(self, client: Client) -> None:
        """Walks every fact of every list and every dispute, through the API only."""
        texts: dict[str, str] = {}
        citations = [c for fact in all_facts(client) for c in fact["citations"]]
        citations += [v["citation"] for d in walk(client, "/v1/disputes") for v in d["values"]]
        assert citations
        for citation in citations:
            source_id = citation["source_id"]
            if source_id not in texts:
                texts[source_id] = ok(client, f"/v1/sources/{source_id}")["text"]
            text = texts[source_id]
            assert 0 <= citation["start"] < citation["end"] <= len(text)
            assert text[citation["start"] : citation["end"]] == citation["quote"], citation

    def test_unknown_source_is_not_found(self, client: Client) -> None:
        problem(client, "/v1/sources/no-such-source", 404)

    def test_malformed_id_is_refused(self, client: Client) -> None:
        invalid(client, "/v1/sources/Not%20A%20Slug", "source_id")


class TestListActors:
    def test_name_filter_finds_an_alias(self, client: Client) -> None:
        everything = walk(client, "/v1/actors")
        for name in ["Masimov", "masimov", "MASIMOV"]:
            found = walk(client, "/v1/actors", name=name)
            assert "karim-massimov" in ids(found), name
            assert len(found) < len(everything)
            for actor in found:
                spellings = [actor["name"], *(a["name"] for a in actor["aliases"])]
                assert any("masimov" in s.lower() for s in spellings), actor

    def test_name_filter_matches_wildcards_literally(self, client: Client) -> None:
        assert walk(client, "/v1/actors", name="%") == []
        assert walk(client, "/v1/actors", name="_") == []

    def test_kind_filter(self, client: Client) -> None:
        everything = walk(client, "/v1/actors")
        people = walk(client, "/v1/actors", kind="person")
        assert people and len(people) < len(everything)
        assert people == [a for a in everything if a["kind"] == "person"]

    def test_crisis_filter(self, client: Client) -> None:
        problem(client, "/v1/actors", 404, crisis="no-such-crisis")
        assert walk(client, "/v1/actors", crisis=CRISIS) == walk(client, "/v1/actors")

    def test_unknown_kind_is_refused(self, client: Client) -> None:
        invalid(client, "/v1/actors", "kind", kind="alien")

    def test_empty_or_long_name_is_refused(self, client: Client) -> None:
        invalid(client, "/v1/actors", "name", name="")
        invalid(client, "/v1/actors", "name", name="x" * 101)


class TestGetActor:
    def test_massimov_with_aliases_and_fact_counts(self, client: Client) -> None:
        actor = ok(client, "/v1/actors/karim-massimov")
        assert actor["name"] == "Karim Massimov"
        assert "Masimov" in {a["name"] for a in actor["aliases"]}
        assert actor["fact_counts"]["arrest"] >= 1
        for kind, path in FACT_LISTS.items():
            involved = walk(client, path, actor="karim-massimov")
            assert actor["fact_counts"].get(kind, 0) == len(involved), kind

    def test_reads_back_the_listed_actor(self, client: Client) -> None:
        for actor in walk(client, "/v1/actors", limit=10)[:10]:
            assert ok(client, f"/v1/actors/{actor['id']}") == actor

    def test_unknown_actor_is_not_found(self, client: Client) -> None:
        problem(client, "/v1/actors/no-such-actor", 404)

    def test_malformed_id_is_refused(self, client: Client) -> None:
        invalid(client, "/v1/actors/Karim%20Massimov", "actor_id")


def bounds(values: list[Item]) -> tuple[int, int | None, bool]:
    """What a dispute's figures say together: the lowest count, the highest (none when the
    highest is open-ended and is the lowest), and whether no number satisfies them all."""
    lows: list[Fraction] = []
    highs: list[Fraction | float] = []
    tops: list[int] = []
    open_ended = False
    for value in values:
        n, most, hedge = (value["figure"][k] for k in ("count", "count_max", "hedge"))
        low, high = {
            "exact": (n, n),
            "at_least": (n, math.inf),
            "more_than": (n + 1, math.inf),
            "about": (Fraction(9 * n, 10), Fraction(11 * n, 10)),
            "up_to": (0, n),
            "range": (n, most),
        }[hedge]
        lows.append(Fraction(low))
        highs.append(high)
        tops.append(most if most is not None else n)
        open_ended = open_ended or hedge in ("at_least", "more_than")
    lowest = min(value["figure"]["count"] for value in values)
    highest = None if open_ended and max(tops) == lowest else max(tops)
    return lowest, highest, max(lows) > min(highs)


class TestListDisputes:
    def nationwide(self, client: Client) -> Item:
        disputes = walk(client, "/v1/disputes")
        return next(d for d in disputes if d["key"] == "arrests.nationwide")

    def test_nationwide_arrests_show_every_source_figure(self, client: Client) -> None:
        dispute = self.nationwide(client)
        files = {s["id"]: s["file_name"] for s in walk(client, "/v1/sources")}
        figures = {
            files[v["source_id"]]: (v["figure"]["count"], v["figure"]["hedge"])
            for v in dispute["values"]
        }
        assert figures == NATIONWIDE_FILES
        assert dispute["kind"] == "arrest" and dispute["crisis_id"] == CRISIS
        assert dispute["low"] == 4000 and dispute["high"] == 4400
        assert dispute["conflicting"] is True
        for value in dispute["values"]:
            citation = value["citation"]
            assert citation["source_id"] == value["source_id"]
            text = ok(client, f"/v1/sources/{value['source_id']}")["text"]
            assert text[citation["start"] : citation["end"]] == citation["quote"]
            fact = ok(client, f"/v1/arrests/{value['fact_id']}")
            assert fact["quantity_key"] == "arrests.nationwide"
            assert citation in fact["citations"]

    def test_every_dispute_holds_different_figures(self, client: Client) -> None:
        disputes = walk(client, "/v1/disputes")
        assert disputes
        for dispute in disputes:
            figures = {tuple(sorted(v["figure"].items())) for v in dispute["values"]}
            assert len(figures) > 1, dispute["key"]
            counts = [v["figure"]["count"] for v in dispute["values"]]
            assert dispute["low"] == min(counts)
            assert dispute["high"] is None or dispute["high"] >= dispute["low"]

    def test_bounds_follow_the_hedges(
        self, client: Client, settings: Settings, synth_url: str
    ) -> None:
        """`low`, `high` and `conflicting` are decided by the load: they must say what the
        sources' figures say, for the curated disputes and for every hedge of a synthetic
        crisis."""
        hedges: set[str] = set()
        with serve(settings.replace(database_url=synth_url)) as synthetic:
            for source in (client, synthetic):
                for dispute in walk(source, "/v1/disputes"):
                    assert (dispute["low"], dispute["high"], dispute["conflicting"]) == bounds(
                        dispute["values"]
                    ), dispute["key"]
                    hedges.update(v["figure"]["hedge"] for v in dispute["values"])
        assert hedges == {h.value for h in Hedge}

    def test_kind_filter(self, client: Client) -> None:
        everything = walk(client, "/v1/disputes")
        arrests = walk(client, "/v1/disputes", kind="arrest")
        assert arrests == [d for d in everything if d["kind"] == "arrest"]
        assert "arrests.nationwide" in {d["key"] for d in arrests}
        assert walk(client, "/v1/disputes", kind="statement") == []
        problem(client, "/v1/disputes", 404, crisis="no-such-crisis")

    def test_unknown_kind_is_refused(self, client: Client) -> None:
        invalid(client, "/v1/disputes", "kind", kind="rumour")


class TestSearch:
    @pytest.mark.parametrize(("q", "language"), [("arrestations", "fr"), ("arrests", "en")])
    def test_stemming_in_both_languages(self, client: Client, q: str, language: str) -> None:
        hits = walk(client, "/v1/search", q=q)
        assert hits, q
        assert any("<mark>" in hit["snippet"] for hit in hits)
        languages = {s["id"]: s["language"] for s in walk(client, "/v1/sources")}
        assert language in {languages[h["id"]] for h in hits if h["type"] == "source"}
        ranks = [hit["rank"] for hit in hits]
        assert ranks == sorted(ranks, reverse=True)

    @pytest.mark.parametrize(
        "q", ["Massimov", "Kazakhstan", '"Kassym-Jomart Tokayev"', "certains incendiés"]
    )
    def test_ranked_paged_and_marked(self, client: Client, q: str) -> None:
        # Ranking is bounded to the first candidates found (service.queries); what a client
        # sees must still be one ranking, the same over small pages as in one page, and
        # every fact hit must show the words it matched. On two words a fact can outrank
        # the articles (here 0.21 against 0.19 and 0.15: ts_rank weighs how close the
        # words are), so pages full of articles must not leave the facts out.
        hits = walk(client, "/v1/search", q=q)
        assert hits
        assert [h["rank"] for h in hits] == sorted((h["rank"] for h in hits), reverse=True)
        assert len({(h["type"], h["id"]) for h in hits}) == len(hits)
        for limit in (1, 3):
            assert walk(client, "/v1/search", limit=limit, q=q) == hits
        for hit in hits:
            if hit["type"] != "source":
                assert "<mark>" in hit["snippet"], hit

    @pytest.mark.parametrize("q", ["Kazakhstan", "trahison", "arrestations"])
    def test_on_one_word_articles_come_before_facts(self, client: Client, q: str) -> None:
        # A page that articles ranked FACT_RANK_BOUND or more can fill is served without
        # looking the facts up (service.queries): true only while they rank on either side.
        # (A name with other spellings, "Massimov", is searched as all of them: not one word.)
        hits = walk(client, "/v1/search", limit=200, q=q)
        articles = [h["rank"] for h in hits if h["type"] == "source"]
        facts = [h["rank"] for h in hits if h["type"] != "source"]
        assert articles, q
        assert facts, q
        assert max(facts) < FACT_RANK_BOUND <= min(articles)

    def test_no_fact_reaches_the_bound_however_often_it_says_the_word(
        self, db: psycopg.Connection[tuple[Any, ...]]
    ) -> None:
        # Facts' vectors are built as the loader builds them (default weight D); an article
        # saying the word once, in its text (weight C), is at the bound or above.
        row = db.execute(
            "SELECT ts_rank(to_tsvector('english', repeat('protest ', 5000)), q),"
            "       ts_rank(setweight(to_tsvector('english', 'one protest'), 'C'), q)"
            " FROM websearch_to_tsquery('english', 'protests') q"
        ).fetchone()
        assert row is not None
        fact, article = row
        assert fact < FACT_RANK_BOUND <= article

    @pytest.mark.parametrize(
        ("window", "word", "snippet"),
        [
            ("4266 arrestations, dont", "arrestation", "4266 <mark>arrestations</mark>, dont"),
            ("les lessons", "les", "<mark>les</mark> lessons"),
            ("ÉTATS-Unis et états", "états", "<mark>ÉTATS</mark>-Unis et <mark>états</mark>"),
            ("à SuperAlmaty", "almaty", "à Super<mark>Almaty</mark>"),
        ],
    )
    def test_a_one_word_snippet_marks_the_word_as_a_reader_sees_it(
        self, window: str, word: str, snippet: str
    ) -> None:
        # A one-word query's article snippet is marked in Python (service.queries.mark_snippet),
        # not by ts_headline: the word whole first, else the words it starts, else inside one.
        assert queries.mark_snippet(window, word) == snippet

    def test_an_article_opening_with_the_word_is_marked(self, client: Client) -> None:
        source = ok(client, "/v1/sources/" + walk(client, "/v1/sources")[0]["id"])
        word = max((w for w in source["text"][:200].split() if w.isalpha()), key=len)
        hits = walk(client, "/v1/search", q=word, type="source")
        hit = next(h for h in hits if h["id"] == source["id"])
        assert "<mark>" in hit["snippet"], hit

    @pytest.mark.parametrize(("word", "typed"), [("États", "états"), (None, "upper")])
    def test_an_article_is_marked_where_the_word_is(
        self, client: Client, word: str | None, typed: str
    ) -> None:
        # The snippet window is placed on the word however the reader typed its case, also
        # when it sits far from the opening and starts with a capital outside ASCII.
        for listed in walk(client, "/v1/sources"):
            text = ok(client, "/v1/sources/" + listed["id"])["text"]
            words = [word] if word else [w for w in text[1000:].split() if w.isalpha()]
            deep = [w for w in words if len(w) > 4 and w.lower() not in text[:600].lower()]
            if deep and deep[0] in text[600:]:
                break
        else:
            pytest.fail("no article has such a word")
        q = deep[0].upper() if typed == "upper" else typed
        hits = walk(client, "/v1/search", q=q, type="source")
        hit = next(h for h in hits if h["id"] == listed["id"])
        assert "<mark>" in hit["snippet"], (q, hit)

    @pytest.mark.parametrize("q", ["arrested", "arrestation", "killing"])
    def test_an_article_found_by_another_form_of_the_word_is_marked_on_it(
        self, client: Client, q: str
    ) -> None:
        # The text has "arrestations" or "killed", not the word as typed: the snippet is
        # placed on the word's stem instead of falling back to the article's opening.
        hits = walk(client, "/v1/search", q=q, type="source")
        assert hits, q
        for hit in hits:
            assert "<mark>" in hit["snippet"], (q, hit)

    def test_an_article_found_by_a_quoted_name_is_marked_on_that_name(self, client: Client) -> None:
        # "Tokayev" alone occurs before the full name in some articles: the snippet is
        # placed on the phrase, where ts_headline can mark it.
        hits = walk(client, "/v1/search", q='"Kassym-Jomart Tokayev"', type="source")
        assert hits
        for hit in hits:
            assert "<mark>" in hit["snippet"], hit

    def test_stems_match_other_forms(self, client: Client) -> None:
        # "arrestation" (singular) and "arrested" only share their stems with the texts
        assert walk(client, "/v1/search", q="arrestation")
        assert walk(client, "/v1/search", q="arrested")

    def test_hits_link_to_what_they_found(self, client: Client) -> None:
        for hit in walk(client, "/v1/search", q="Massimov")[:20]:
            assert ok(client, hit["href"])["id"] == hit["id"]

    def test_type_filter(self, client: Client) -> None:
        everything = walk(client, "/v1/search", q="Massimov")
        sources = walk(client, "/v1/search", q="Massimov", type="source")
        assert sources == [h for h in everything if h["type"] == "source"]
        assert 0 < len(sources) < len(everything)

    def test_nothing_found_is_an_empty_page(self, client: Client) -> None:
        assert ok(client, "/v1/search", q="xylophonequartet") == {"items": [], "next_cursor": None}

    @pytest.mark.parametrize("q", ["", " ", "\t "])
    def test_empty_query_is_refused(self, client: Client, q: str) -> None:
        invalid(client, "/v1/search", "q", q=q)

    def test_missing_query_is_refused(self, client: Client) -> None:
        body = problem(client, "/v1/search", 400)
        assert "'q'" in body["detail"]

    def test_too_long_query_is_refused(self, client: Client) -> None:
        invalid(client, "/v1/search", "q", q="arrests " * 30)

    def test_nul_in_query_is_refused(self, client: Client) -> None:
        # regression: a NUL in q reached PostgreSQL, which cannot hold one, and answered 500
        problem(client, "/v1/search", 400, q="Massimov\x00")


class TestHealth:
    def test_alive(self, client: Client) -> None:
        response = client.get("/health")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert "no-store" in response.headers["cache-control"]


class TestReady:
    def test_ready_at_the_migration_head(self, client: Client) -> None:
        ready = ok(client, "/ready")
        assert ready["status"] == "ready"
        assert ready["revision"] == migrations.head()
        assert isinstance(ready["dataset_version"], int)

    def test_unmigrated_database_is_not_ready(self, unmigrated: Client) -> None:
        assert unmigrated.get("/health").status_code == 200
        response = unmigrated.get("/ready")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"]
        assert "migrate" in response.json()["detail"]


@pytest.fixture
def unmigrated(server_url: str) -> Iterator[Client]:
    """The app over an empty database that was never migrated."""
    name = f"crisis_facts_test_unmigrated_{uuid.uuid4().hex[:8]}"
    create_database(server_url, name)
    try:
        settings = unlimited(Settings(database_url=with_database(server_url, name)))
        with TestClient(create_app(settings)) as client:
            yield client
    finally:
        drop_database(server_url, name)
