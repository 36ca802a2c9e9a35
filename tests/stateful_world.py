"""The world the stateful contract tests write into, and the bodies they send: generated
ones with what must name stored records (the crisis, actors, quoted articles) naming them,
and one valid record of each family."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from litestar import Litestar

from service.settings import Settings
from service.vocabulary import Language, Verification


@dataclass
class World:
    """What a valid write names: the app, a key, and records that exist."""

    app: Litestar | None = None
    settings: Settings | None = None
    token: str = ""
    crisis: str = ""
    actors: list[str] = field(default_factory=list)
    quotes: list[dict[str, str]] = field(default_factory=list)  # {source, quote}, each unique
    answered: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


world = World()


def unique_quotes(answers: list[dict[str, Any]], texts: dict[str, str]) -> list[dict[str, str]]:
    """Cited quotes found once in their article: a fact may cite them without `occurrence`."""
    quotes = {
        (citation["source"]["id"], citation["quote"])
        for answer in answers
        for citation in answer["citations"]
    }
    return [
        {"source": source, "quote": quote}
        for source, quote in sorted(quotes)
        if texts[source].count(quote) == 1
    ]


ACTOR = st.deferred(lambda: st.sampled_from(world.actors))
CRISIS = st.deferred(lambda: st.just(world.crisis))
CITATION = st.deferred(lambda: st.sampled_from(world.quotes))
WORDS = st.text(st.characters(codec="utf-8", categories=["L", "N", "Zs"]), min_size=1, max_size=60)
DATE = st.sampled_from(["2022", "2022-01", "2022-01-06"])
NO_FIGURE = {"count_max": st.none(), "hedge": st.none()}  # a range's rules are the loader's tests'
KIND_REFS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "Statement": {"speaker": ACTOR},
    "Casualty": {"count_max": st.none(), "hedge": st.just("exact")},
    "Deployment": {"sender": ACTOR, "framework": st.none(), "authorised_by": st.none() | ACTOR,
                   "count": st.none(), **NO_FIGURE},
    "Arrest": {"person": ACTOR, **NO_FIGURE},
}  # fmt: skip


def fact_references(noun: str) -> st.SearchStrategy[dict[str, Any]]:
    """The members of a new fact that name stored records or follow the data's rules, which
    generated values rarely do; the rest stays generated."""
    references = st.fixed_dictionaries(
        {
            "crisis": CRISIS,
            "citations": st.lists(CITATION, min_size=1, max_size=2, unique_by=str),
            "claimant": st.none() | ACTOR,
            "actors": st.lists(ACTOR, max_size=2, unique=True),
            "date": st.none() | DATE,
            "place": st.none(),
            "translations": st.just([]),
            "corrections": st.just([]),
            # published first: most scenarios can then retract what they posted
            "review": st.sampled_from([{"status": "published"}, None, {"status": "draft"}]),
            **KIND_REFS[noun],
        }
    )
    if noun == "Statement":  # the words said are words of a cited article
        return references.map(lambda refs: refs | {"content": refs["citations"][0]["quote"]})
    return references


FACT_PATCH = st.fixed_dictionaries(
    {},
    optional={
        "note": st.none() | WORDS,
        "verification": st.sampled_from([v.value for v in Verification]),
        "date": st.none() | DATE,
        "claimant": st.none() | ACTOR,
        "actors": st.lists(ACTOR, max_size=2, unique=True),
    },
)
ACTOR_PATCH = st.fixed_dictionaries(
    {},
    optional={
        "role": st.none() | WORDS,
        "aliases": st.lists(
            st.fixed_dictionaries(
                {"name": WORDS, "language": st.sampled_from([x.value for x in Language])}
            ),
            max_size=2,
            unique_by=lambda alias: alias["name"],
        ),
    },
)


def fresh(body: dict[str, Any], *members: str) -> dict[str, Any]:
    """The body with its id (and `members`) made its own: a scenario Hypothesis replays then
    meets the answers it met the first time (a 201, not a 409 for an id taken since)."""
    mark = uuid.uuid4().hex[:10]
    body = {**body, "id": f"{mark}.{body['id']}"[:120].rstrip("-.")}
    return body | {name: f"{body[name]} {mark}" for name in members if name in body}


def realistic_body(operation_id: str, body: Any) -> st.SearchStrategy[Any]:
    """A generated body with what must name stored records naming them; a patch is a
    valid merge patch, or now and then the generated (likely refused) one."""
    if operation_id == "CreateSource":
        sourced = st.fixed_dictionaries({"crisis": CRISIS, "published": DATE})
        return sourced.map(lambda refs: fresh(body) | refs | {"url": None})
    if operation_id == "CreateActor":
        refs: dict[str, Any] = {"aliases": [], "corrections": []}
        return CRISIS.map(lambda crisis: fresh(body, "name") | refs | {"crisis": crisis})
    if operation_id == "EditActor":
        return ACTOR_PATCH | st.just(body)
    verb, noun = operation_id[:6], operation_id[6:]
    if verb == "Create" and noun in KIND_REFS:
        return fact_references(noun).map(lambda refs: fresh(body) | refs)
    if operation_id.startswith("Edit") and operation_id[4:] in KIND_REFS:
        return FACT_PATCH | st.just(body)
    if operation_id.startswith("Retract"):
        return st.fixed_dictionaries({"reason": WORDS}) | st.just(body)
    return st.just(body)


def new_record(noun: str) -> dict[str, Any]:
    """A valid new record of each family, as a curator posts it."""
    mark = uuid.uuid4().hex[:10]
    actor, citation = world.actors[0], world.quotes[0]
    common: dict[str, Any] = {"id": f"walk-{mark}", "crisis": world.crisis}
    fact = common | {"citations": [citation]}
    records: dict[str, dict[str, Any]] = {
        "Source": common | {"title": "A walk", "language": "en", "published": "2022-01",
                            "published_note": "Written for the test.", "text": f"Words {mark}."},
        "Actor": common | {"kind": "person", "name": f"Walker {mark}"},
        "Statement": fact | {"speaker": actor, "content": citation["quote"], "mode": "direct",
                             "language": "fr"},
        "Casualty": fact | {"category": "killed", "victim_group": "police", "count": 3},
        "Deployment": fact | {"sender": actor, "status": "announced"},
        "Arrest": fact | {"confirmed": True, "person": actor},
    }  # fmt: skip
    return records[noun]
