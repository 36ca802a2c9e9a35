"""What a change set needs of what is stored: the records it refers to, and a fact's spec.

A curator's write names a few records; the checks and answers that a load draws from the
fixtures it has read are drawn from the database here instead, for just those records.
"""

from __future__ import annotations

from typing import Any

import msgspec
from psycopg import sql
from psycopg.rows import namedtuple_row

from service.engine.answers import DATE_FORMAT, Names
from service.engine.check import KIND_OF, Known, quote_starts
from service.engine.read import SourceText
from service.engine.rows import KINDS, ActorRow, PlaceRow
from service.engine.specs import FactSpec, SourceSpec, convert
from service.engine.write import Cursor
from service.vocabulary import FactKind, Precision, ReviewStatus

SPEC_OF = {kind: spec for spec, kind in KIND_OF.items()}


def refs(fact: FactSpec) -> tuple[set[str], set[str], set[str]]:
    """The actors, places and sources a fact names."""
    actors = {fact.claimant, *fact.actors}
    for name in ("speaker", "sender", "framework", "authorised_by", "person"):
        actors.add(getattr(fact, name, None))
    actors.discard(None)
    places = {fact.place} - {None}
    return {a for a in actors if a}, {p for p in places if p}, {c.source for c in fact.citations}


def context(cursor: Cursor, facts: list[FactSpec]) -> tuple[Known, Names]:
    """The stored actors, places and articles that `facts` name, for their checks and answers."""
    actors: set[str] = set()
    places: set[str] = set()
    sources: set[str] = set()
    for fact in facts:
        a, p, s = refs(fact)
        actors |= a
        places |= p
        sources |= s
    known, names = Known(), Names()
    conn = cursor.connection
    # All three asked before any is read: in a pipeline, one round trip.
    with (
        conn.cursor(row_factory=namedtuple_row) as stored_actors,
        conn.cursor(row_factory=namedtuple_row) as stored_places,
        conn.cursor(row_factory=namedtuple_row) as stored_sources,
    ):
        stored_actors.execute(
            "SELECT id, crisis_id, kind, name, role, corrections FROM actors WHERE id = ANY(%s)",
            [list(actors)],
        )
        stored_places.execute(
            "SELECT id, crisis_id, name, aliases, lat, lon, coordinates_source FROM places "
            "WHERE id = ANY(%s)",
            [list(places)],
        )
        stored_sources.execute(
            "SELECT id, crisis_id, file_name, title, outlet, url, language, published_note, "
            "published_on, published_precision, text FROM sources WHERE id = ANY(%s)",
            [list(sources)],
        )
        row: Any
        for row in stored_actors.fetchall():
            known.actors[row.id] = row.crisis_id
            names.actor(ActorRow(**row._asdict()))
        for row in stored_places.fetchall():
            known.places[row.id] = row.crisis_id
            names.place(PlaceRow(**row._asdict()))
        for row in stored_sources.fetchall():
            spec = SourceSpec(
                id=row.id,
                file=row.file_name,
                crisis=row.crisis_id,
                title=row.title,
                language=row.language,
                published=partial_text(row.published_on, row.published_precision) or "",
                published_note=row.published_note,
                outlet=row.outlet,
                url=row.url,
            )
            known.sources[row.id] = SourceText(spec, row.text)
            names.source(row)  # its citations show the article's title, outlet and date
    return known, names


LOADERS = ("load", "synth")
"""Authors of whole-crisis changes; every other author wrote through the API."""


def edited_since_load(cursor: Cursor, crises: list[str]) -> dict[tuple[str, str], tuple[str, int]]:
    """Records of `crises` changed through the API after the last load of them: (kind, id)
    -> (author, revision) of the latest such change."""
    rows = cursor.execute(
        "SELECT kind, record_id, author, revision FROM revisions "
        "WHERE crisis_id = ANY(%(crises)s) AND author <> ALL(%(loaders)s) AND revision > "
        "(SELECT coalesce(max(revision), 0) FROM revisions "
        " WHERE crisis_id = ANY(%(crises)s) AND author = ANY(%(loaders)s)) "
        "ORDER BY revision",
        {"crises": crises, "loaders": list(LOADERS)},
    ).fetchall()
    return {(kind, record_id): (author, revision) for kind, record_id, author, revision in rows}


def crises(cursor: Cursor, ids: set[str]) -> set[str]:
    """Which of `ids` are stored crises."""
    found = cursor.execute("SELECT id FROM crises WHERE id = ANY(%s)", [list(ids)]).fetchall()
    return {row[0] for row in found}


def kind_of(cursor: Cursor, fact_id: str) -> str | None:
    """The kind of the stored fact `fact_id`, whatever kind was asked for."""
    row = cursor.execute("SELECT kind FROM facts WHERE id = %s", [fact_id]).fetchone()
    return None if row is None else str(row[0])


def partial_text(value: Any, precision: str | None) -> str | None:
    """A stored partial date as the fixtures write it: 2022, 2022-01 or 2022-01-08."""
    if value is None:
        return None
    text: str = value.strftime(DATE_FORMAT[Precision(precision or "day")])
    return text


FACT_COLUMNS = (
    "id, crisis_id, claimant_id, verification, occurred_on, date_precision, date_note, "
    "quantity_key, place_id, note, review_status, review_reason, reviewed_by, reviewed_at, "
    "translations, corrections"
)
"""What a spec is made from: every column of `facts` but its search vector, which PostgreSQL
would print and the driver parse for nothing."""


def fact_spec(cursor: Cursor, kind: FactKind, fact_id: str) -> tuple[str, FactSpec] | None:
    """A stored fact as the spec that would write it again, and its crisis; None if there
    is no such fact of that kind."""
    found = fact_specs(cursor, kind, [fact_id])
    return found[0] if found else None


def fact_specs(cursor: Cursor, kind: FactKind, ids: list[str]) -> list[tuple[str, FactSpec]]:
    """Stored facts of one kind as the specs that would write them again, with their crises,
    in id order: a few set queries, however many facts (an actor's rename rewrites all of
    its facts). Raises msgspec.ValidationError when one breaks the fixture format."""
    conn = cursor.connection
    # Every query asked before any is read: in a pipeline, one round trip.
    with (
        conn.cursor(row_factory=namedtuple_row) as stored_facts,
        conn.cursor(row_factory=namedtuple_row) as stored_details,
        conn.cursor(row_factory=namedtuple_row) as stored_mentions,
        conn.cursor(row_factory=namedtuple_row) as stored_citations,
        conn.cursor(row_factory=namedtuple_row) as stored_texts,
    ):
        stored_facts.execute(
            f"SELECT {FACT_COLUMNS} FROM facts WHERE id = ANY(%s) AND kind = %s ORDER BY id",
            [ids, kind.value],
        )
        stored_details.execute(
            sql.SQL("SELECT * FROM {} WHERE fact_id = ANY(%s)").format(
                sql.Identifier(KINDS[kind].table)
            ),
            [ids],
        )
        stored_mentions.execute(
            "SELECT fact_id, actor_id FROM fact_actors WHERE fact_id = ANY(%s) "
            "AND role = 'mentioned' ORDER BY fact_id, actor_id",
            [ids],
        )
        stored_citations.execute(
            "SELECT fact_id, source_id, quote, start_offset FROM citations "
            "WHERE fact_id = ANY(%s) ORDER BY fact_id, position",
            [ids],
        )
        stored_texts.execute(
            "SELECT id, text FROM sources "
            "WHERE id IN (SELECT source_id FROM citations WHERE fact_id = ANY(%s))",
            [ids],
        )
        row: Any
        facts: list[Any] = stored_facts.fetchall()
        details: dict[str, Any] = {}
        for row in stored_details.fetchall():
            details[row.fact_id] = row
        mentioned: dict[str, list[str]] = {}
        for row in stored_mentions.fetchall():
            mentioned.setdefault(row.fact_id, []).append(row.actor_id)
        citations: dict[str, list[Any]] = {}
        for row in stored_citations.fetchall():
            citations.setdefault(row.fact_id, []).append(row)
        texts: dict[str, str] = {}
        for row in stored_texts.fetchall():
            texts[row.id] = row.text
    found = []
    for fact in facts:
        raw: dict[str, Any] = {
            "id": fact.id,
            "citations": [
                _citation(c.source_id, c.quote, c.start_offset, texts[c.source_id])
                for c in citations.get(fact.id, [])
            ],
            "claimant": fact.claimant_id,
            "verification": fact.verification,
            "date": partial_text(fact.occurred_on, fact.date_precision),
            "date_note": fact.date_note,
            "key": fact.quantity_key,
            "place": fact.place_id,
            "actors": mentioned.get(fact.id, []),
            "note": fact.note,
            **_detail(kind, details[fact.id]),
            "review": _review(fact),
            "translations": translation_specs(fact.translations),
            "corrections": correction_specs(fact.corrections),
        }
        found.append((fact.crisis_id, convert(raw, SPEC_OF[kind])))
    return found


def _review(fact: Any) -> dict[str, Any] | None:
    """A stored fact's review as the fixtures write it: none for a fact a load published."""
    if fact.review_status == ReviewStatus.PUBLISHED and fact.reviewed_by is None:
        return None
    return {
        "status": fact.review_status,
        "reason": fact.review_reason,
        "by": fact.reviewed_by,
        "at": fact.reviewed_at,
    }


def translation_specs(stored: str) -> list[dict[str, Any]]:
    """Stored translations as the fixtures write them."""
    return [{k: v for k, v in item.items() if k != "of"} for item in msgspec.json.decode(stored)]


def correction_specs(stored: str) -> list[dict[str, Any]]:
    """Stored correction notices as the fixtures write them."""
    found: list[dict[str, Any]] = msgspec.json.decode(stored)
    return found


def _citation(source: str, quote: str, start: int, text: str) -> dict[str, Any]:
    """A citation as the fixtures write it: which occurrence, only when the quote repeats."""
    starts = quote_starts(text, quote)
    cited: dict[str, Any] = {"source": source, "quote": quote}
    if len(starts) > 1:
        cited["occurrence"] = starts.index(start) + 1
    return cited


def _detail(kind: FactKind, d: Any) -> dict[str, Any]:
    """The fields of a fact's own kind, from its kind table's row."""
    if kind is FactKind.STATEMENT:
        return {
            "speaker": d.speaker_id,
            "content": d.content,
            "mode": d.mode,
            "language": d.language,
            "channel": d.channel,
        }
    figure = {"count": d.count, "count_max": d.count_max, "hedge": d.hedge}
    if kind is FactKind.CASUALTY:
        return {**figure, "category": d.category, "victim_group": d.victim_group}
    if kind is FactKind.DEPLOYMENT:
        return {
            **figure,
            "sender": d.sender_id,
            "status": d.status,
            "framework": d.framework_id,
            "authorised_by": d.authorised_by_id,
            "purpose": d.purpose,
        }
    return {
        **figure,
        "confirmed": d.confirmed,
        "person": d.person_id,
        "charge": d.charge,
        "legal_basis": d.legal_basis,
        "scope": d.scope,
    }
