"""A search hit's title and snippet (issue 23, stumble 10): a fact's title is its words cut
after a whole word, with an ellipsis, never mid-word ("vaincr"); every snippet marks why
the hit matched, and says so when that is a translation or a note rather than the text."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from service.queries.search import TITLE_LENGTH
from service.settings import Settings
from tests.apiclient import FACT_LISTS, Client, serve, walk


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[Client]:
    with serve(settings) as client:
        yield client


def full_title(fact: dict[str, object]) -> str:
    content = fact.get("content")
    if isinstance(content, str):
        return content
    citations = fact["citations"]
    assert isinstance(citations, list)
    return " … ".join(c["quote"] for c in citations)


@pytest.mark.parametrize("q", ["Kazakhstan", "Tokayev", "arrestations", "police"])
def test_fact_titles_end_on_a_whole_word(client: Client, q: str) -> None:
    facts = {f["id"]: f for path in FACT_LISTS.values() for f in walk(client, path)}
    hits = [h for h in walk(client, "/v1/search", q=q) if h["type"] != "source"]
    assert hits
    cut = 0
    for hit in hits:
        whole = full_title(facts[hit["id"]])
        if hit["title"] == whole:
            continue
        cut += 1
        shown = hit["title"].removesuffix("…")
        assert hit["title"].endswith("…") and whole.startswith(shown), hit
        assert len(shown) <= TITLE_LENGTH
        assert not whole[len(shown)].isalnum(), (hit["id"], shown[-20:], whole[len(shown) :][:20])
    assert cut or all(len(full_title(facts[h["id"]])) <= TITLE_LENGTH for h in hits)


def fragments(snippet: str) -> list[str]:
    """The passages of a snippet (`ts_headline` joins them with " ... "), marks taken out."""
    return snippet.replace("<mark>", "").replace("</mark>", "").split(" ... ")


@pytest.mark.parametrize(
    "q", ["arrestations", "arrested", "Armenia", "Arménie", "Nazarbayev", "police killed"]
)
def test_every_hit_marks_what_matched(client: Client, q: str) -> None:
    hits = walk(client, "/v1/search", q=q)
    assert hits
    unmarked = [hit["id"] for hit in hits if "<mark>" not in hit["snippet"]]
    assert unmarked == []


def test_a_french_fact_found_in_english_shows_its_translation_marked(client: Client) -> None:
    hits = {hit["id"]: hit for hit in walk(client, "/v1/search", q="arrestations")}
    massimov = hits["arr-000-massimov"]
    assert massimov["snippet_from"] == "translation"
    assert "<mark>arrested</mark>" in massimov["snippet"]
    fact = client.get("/v1/arrests/arr-000-massimov").json()
    translated = " ".join(t["text"] for t in fact["translations"] if t["language"] == "en")
    assert all(fragment in translated for fragment in fragments(massimov["snippet"]))
    assert hits["arr-000-nationwide-4266"]["snippet_from"] == "text"


def test_a_fact_found_by_its_note_says_so(client: Client) -> None:
    hits = {hit["id"]: hit for hit in walk(client, "/v1/search", q="arrestations")}
    masimov = hits["arr-002-masimov"]
    assert masimov["snippet_from"] == "note"
    fact = client.get("/v1/arrests/arr-002-masimov").json()
    assert "<mark>arrest</mark>" in masimov["snippet"]
    assert (
        masimov["snippet"].replace("<mark>", "").replace("</mark>", "").strip(" .…") in fact["note"]
    )


@pytest.mark.parametrize(
    "q",
    [
        "the",  # a French fact's English note, indexed as French: "the" is no French stop word
        "soldats",  # a French word
        "shot",  # an English word only in a French fact's translation
        "Tokayev",  # an actor, by one of his names
        "Almaty",  # a place
    ],
)
def test_every_fact_hit_marks_where_it_matched(client: Client, q: str) -> None:
    hits = [hit for hit in walk(client, "/v1/search", q=q) if hit["type"] != "source"]
    assert hits
    unmarked = [(hit["id"], hit["snippet_from"]) for hit in hits if "<mark>" not in hit["snippet"]]
    assert unmarked == []


def test_a_word_found_only_in_a_note_is_marked_there(client: Client) -> None:
    hits = [hit for hit in walk(client, "/v1/search", q="the") if hit["type"] != "source"]
    assert {hit["snippet_from"] for hit in hits} == {"note"}
    jihadists = next(hit for hit in hits if hit["id"] == "cas-002-jihadists-killed")
    assert "<mark>the</mark>" in jihadists["snippet"]
    note = client.get("/v1/casualties/cas-002-jihadists-killed").json()["note"]
    assert all(fragment.strip(" .…") in note for fragment in fragments(jihadists["snippet"]))


def test_an_article_found_by_a_word_typed_without_its_accent_marks_it(client: Client) -> None:
    """Regression: `q=siege` found an article through its stem, but looked for the stem in
    passages as written ("siège"), found none, and showed its opening with nothing marked."""
    hits = walk(client, "/v1/search", q="siege", type="source")
    assert hits
    assert [hit["id"] for hit in hits if "<mark>siège</mark>" not in hit["snippet"]] == []


@pytest.mark.parametrize("q", ["-police", "Massimov -police", "arrested -police"])
def test_what_a_query_excludes_is_never_marked(client: Client, q: str) -> None:
    """Regression: `-police` excludes every name of the police, "Kazakh police" among them,
    and snippets marked "Kazakh" as if it had been looked for."""
    hits = walk(client, "/v1/search", q=q)
    assert hits
    marked = {m.lower() for hit in hits for m in re.findall(r"<mark>(.*?)</mark>", hit["snippet"])}
    assert [word for word in marked if word.startswith(("kazakh", "polic"))] == []
    if not q.startswith("-"):
        assert all("<mark>" in hit["snippet"] for hit in hits)
