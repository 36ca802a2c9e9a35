"""A search hit's title (issue 23, stumble 10): a fact's is its words cut after a whole
word, with an ellipsis, never mid-word ("vaincr")."""

from __future__ import annotations

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
