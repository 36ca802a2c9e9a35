"""Change sets of articles and actors: a curator's new source, a new or edited actor.

Checked with the loader's rules and words (`check.source_record`, `check.actor_record`)
against the stored records of the crisis, then applied by the one write path (`Applier`),
which compares, writes, logs a revision and bumps the dataset version, as for a fact.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import msgspec
from psycopg.rows import namedtuple_row

from service.engine import store
from service.engine.answers import Names
from service.engine.check import (
    Known,
    actor_record,
    fact_record,
    name_problem,
    source_record,
    taken_name_problem,
)
from service.engine.diff import Applier
from service.engine.outcome import Outcome
from service.engine.read import FixtureError, SourceText
from service.engine.rows import FactRecord
from service.engine.specs import ActorSpec, SourceSpec, convert
from service.engine.write import Cursor
from service.vocabulary import FactKind


def source_file(source_id: str) -> str:
    """The file an export writes an article's text to: its id is a slug, so a safe name."""
    return f"{source_id}.txt"


def create_source(
    cursor: Cursor, spec: SourceSpec, text: str, author: str, message: str | None
) -> Outcome:
    """Store a new article; FixtureError names what breaks a rule."""
    problems: list[str] = []
    known = Known(crises=store.crises(cursor, {spec.crisis}))
    name = f"source {spec.id!r}"
    owner = cursor.execute("SELECT id FROM sources WHERE file_name = %s", [spec.file]).fetchone()
    if owner is not None:
        problems.append(f"{name}: file {spec.file!r} is the text of source {owner[0]!r}")
    record = source_record(SourceText(spec, text), name, known, problems)
    if problems or record is None:
        raise FixtureError(problems)
    applier = Applier(cursor, [], author, message, only=[("source", spec.id)])
    try:
        applier.take(record)
        return applier.finish()
    finally:
        applier.background.stop()


def actor_spec(cursor: Cursor, actor_id: str) -> tuple[str, ActorSpec] | None:
    """A stored actor as the spec that would write it again, and its crisis."""
    with cursor.connection.cursor(row_factory=namedtuple_row) as named:
        row: Any = named.execute("SELECT * FROM actors WHERE id = %s", [actor_id]).fetchone()
        if row is None:
            return None
        aliases: list[Any] = named.execute(
            "SELECT alias, language FROM actor_aliases WHERE actor_id = %s ORDER BY alias",
            [actor_id],
        ).fetchall()
    raw = {
        "id": row.id,
        "kind": row.kind,
        "name": row.name,
        "role": row.role,
        "aliases": [{"name": a.alias, "language": a.language} for a in aliases],
    }
    return row.crisis_id, convert(raw, ActorSpec)


def write_actor(
    cursor: Cursor,
    crisis: str,
    spec: ActorSpec,
    author: str,
    message: str | None,
    expect: dict[tuple[str, str], int] | None = None,
) -> Outcome:
    """Create or rewrite an actor. A new name is rewritten into the answers of the facts
    that involve the actor, in the same change."""
    name = f"actor {spec.id!r}"
    if not store.crises(cursor, {crisis}):
        raise FixtureError([f"{name}: unknown crisis {crisis!r}"])
    problems: list[str] = []
    spellings, names = _spellings(cursor, crisis, spec.id)
    record = actor_record(spec, crisis, name, spellings, problems)
    problem = name_problem(spec.id, spec.name, spellings) or taken_name_problem(
        spec.id, spec.name, names
    )
    if problem is not None:
        problems.append(f"{name}: {problem}")
    for other_id, other_name in names.items():
        problem = name_problem(other_id, other_name, spellings)
        if problem is not None:
            problems.append(f"actor {other_id!r}: {problem}")
    stored = actor_spec(cursor, spec.id)
    renamed = stored is not None and stored[1].name != spec.name
    facts, names_used = _involving(cursor, spec.id, problems) if renamed else ([], Names())
    if problems:
        raise FixtureError(problems)
    only = [("actor", spec.id), *((f.row.kind, f.row.id) for f in facts)]
    applier = Applier(cursor, [], author, message, only=only, expect=expect)
    applier.names = names_used  # what the facts' answers embed; the actor's name is taken
    try:
        applier.take(record)
        for fact in facts:
            applier.take(fact)
        applier.fact_counts[spec.id] = _fact_counts(cursor, spec.id)
        return applier.finish()
    finally:
        applier.background.stop()


def _spellings(cursor: Cursor, crisis: str, actor_id: str) -> tuple[dict[str, str], dict[str, str]]:
    """The other actors of the crisis: alias -> actor, and actor -> name."""
    aliases = cursor.execute(
        "SELECT alias, actor_id FROM actor_aliases WHERE crisis_id = %s AND actor_id <> %s",
        [crisis, actor_id],
    ).fetchall()
    names = cursor.execute(
        "SELECT id, name FROM actors WHERE crisis_id = %s AND id <> %s", [crisis, actor_id]
    ).fetchall()
    return dict(aliases), dict(names)


def _involving(
    cursor: Cursor, actor_id: str, problems: list[str]
) -> tuple[list[FactRecord], Names]:
    """The facts that involve the actor, checked again to be rewritten with its new name."""
    found = cursor.execute(
        "SELECT DISTINCT kind, fact_id FROM fact_actors WHERE actor_id = %s", [actor_id]
    ).fetchall()
    specs = []
    for kind in FactKind:
        ids = sorted(fact_id for of, fact_id in found if of == kind.value)
        if not ids:
            continue
        try:
            specs += store.fact_specs(cursor, kind, ids)
        except msgspec.ValidationError as exc:
            problems.append(
                f"a stored {kind.value} of actor {actor_id!r} breaks the fixture format "
                f"({exc}); correct it in the fixtures and load them"
            )
    known, names = store.context(cursor, [spec for _, spec in specs])
    records = []
    for crisis, spec in specs:
        record = fact_record(spec, crisis, f"fact {spec.id!r}", known, problems)
        if record is not None:
            records.append(record)
    return records, names


def _fact_counts(cursor: Cursor, actor_id: str) -> Counter[str]:
    """Published facts per kind that involve the actor, as its answer counts them for the
    public (the changes feed, its history)."""
    rows = cursor.execute(
        "SELECT fa.kind, count(DISTINCT fa.fact_id) FROM fact_actors fa "
        "JOIN facts f ON f.id = fa.fact_id "
        "WHERE fa.actor_id = %s AND f.review_status = 'published' GROUP BY fa.kind",
        [actor_id],
    ).fetchall()
    return Counter({kind: int(n) for kind, n in rows})
