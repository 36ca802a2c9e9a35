"""fixtures/ -> PostgreSQL: parse, validate, verify every quote, then replace in one transaction.

Nothing touches the database until the whole dataset is valid; every problem is
reported with its file, its record and the reason. The replacement runs in a
single transaction, so readers see the old data or the new, never a mix, and a
killed loader leaves the old data in place.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import msgspec
import psycopg
import sqlalchemy as sa
import yaml
from psycopg import sql

from service.database import NOTIFY_CHANNEL, libpq_url
from service.documents import Documents, digest
from service.fixtures import (
    FACT_FILES,
    ActorSpec,
    ArrestSpec,
    CasualtySpec,
    CrisisSpec,
    DeploymentSpec,
    FactSpec,
    PartialDate,
    PlaceSpec,
    SourceSpec,
    Spec,
    StatementSpec,
    convert,
    parse_partial_date,
)
from service.models import Base
from service.vocabulary import TEXT_SEARCH_CONFIG, ActorRole, FactKind, Hedge, Language

LOAD_LOCK = 727_001
"""pg_advisory_xact_lock key: two loaders never interleave."""

KIND_OF: dict[type[FactSpec], FactKind] = {
    StatementSpec: FactKind.STATEMENT,
    CasualtySpec: FactKind.CASUALTY,
    DeploymentSpec: FactKind.DEPLOYMENT,
    ArrestSpec: FactKind.ARREST,
}


class FixtureError(Exception):
    """The dataset is invalid; `problems` holds one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass
class SourceText:
    spec: SourceSpec
    text: str


@dataclass
class CrisisBundle:
    """One crisis as read from its files, before cross-checking."""

    crisis: CrisisSpec
    actors: list[ActorSpec] = field(default_factory=list)
    places: list[PlaceSpec] = field(default_factory=list)
    # (file, fact); any iterable, read once: `synth` generates its facts as they are read.
    facts: Iterable[tuple[str, FactSpec]] = field(default_factory=list)


@dataclass
class Bundle:
    crises: list[tuple[str, CrisisBundle]] = field(default_factory=list)
    sources: list[tuple[str, SourceText]] = field(default_factory=list)


@dataclass
class Rows:
    """Validated rows per table, in insertion order."""

    crisis_ids: list[str] = field(default_factory=list)
    tables: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.tables.setdefault(table, []).append(row)

    @property
    def fact_count(self) -> int:
        return len(self.tables.get("facts", []))


COLUMNS: dict[str, tuple[str, ...]] = {
    "crises": (
        "id",
        "name",
        "summary",
        "country",
        "start_on",
        "start_precision",
        "end_on",
        "end_precision",
    ),
    "sources": (
        "id",
        "crisis_id",
        "file_name",
        "title",
        "outlet",
        "url",
        "language",
        "published_on",
        "published_precision",
        "published_note",
        "text",
        "text_length",
        "sha256",
    ),
    "source_passages": ("source_id", "n", "text"),
    "actors": ("id", "crisis_id", "kind", "name", "role"),
    "actor_aliases": ("crisis_id", "alias", "actor_id", "language"),
    "places": ("id", "crisis_id", "name", "aliases", "lat", "lon", "coordinates_source"),
    "facts": (
        "id",
        "crisis_id",
        "kind",
        "claimant_id",
        "verification",
        "occurred_on",
        "date_precision",
        "date_note",
        "quantity_key",
        "place_id",
        "note",
    ),
    "statements": ("fact_id", "speaker_id", "content", "mode", "language", "channel"),
    "casualties": ("fact_id", "category", "victim_group", "count", "count_max", "hedge"),
    "deployments": (
        "fact_id",
        "sender_id",
        "status",
        "count",
        "count_max",
        "hedge",
        "framework_id",
        "authorised_by_id",
        "purpose",
    ),
    "arrests": (
        "fact_id",
        "confirmed",
        "person_id",
        "count",
        "count_max",
        "hedge",
        "charge",
        "legal_basis",
        "scope",
    ),
    "fact_actors": ("fact_id", "actor_id", "role", "kind", "occurred_on"),
    "citations": (
        "fact_id",
        "position",
        "source_id",
        "source_length",
        "quote",
        "start_offset",
        "end_offset",
    ),
}


PASSAGE = 400
"""Characters in a passage of an article (`source_passages`): what a search snippet is cut
from, so as long as a snippet's window."""
PASSAGE_STEP = 300
"""Where each passage starts after the one before: passages overlap by PASSAGE - PASSAGE_STEP
characters, so any word shorter than that lies whole in one of them."""


def passages(text: str) -> list[str]:
    """`text` cut into passages; the migration that made the table cut the texts stored then
    the same way in SQL, and a test holds the two to each other."""
    last = max(len(text) - (PASSAGE - PASSAGE_STEP) - 1, 0) // PASSAGE_STEP
    return [text[n * PASSAGE_STEP : n * PASSAGE_STEP + PASSAGE] for n in range(last + 1)]


# ---------------------------------------------------------------- reading files


class _PlainLoader(yaml.SafeLoader):
    """Dates stay strings: a partial date such as 2022-01 must not change type by its length."""


_PlainLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _read_yaml(path: Path, root: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_PlainLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        raise FixtureError([f"{_rel(path, root)}: not valid YAML: {exc}"]) from None
    except UnicodeDecodeError as exc:
        raise FixtureError([f"{_rel(path, root)}: not UTF-8: {exc}"]) from None


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def _record_name(raw: Any, index: int) -> str:
    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
        return f"record {index + 1} (id {raw['id']!r})"
    return f"record {index + 1}"


def _convert_list(raw: Any, spec: type[Spec], where: str, problems: list[str]) -> Iterator[Any]:
    if raw is None:
        return
    if not isinstance(raw, list):
        problems.append(f"{where}: expected a list of records, got {type(raw).__name__}")
        return
    for index, item in enumerate(raw):
        try:
            yield convert(item, spec)
        except msgspec.ValidationError as exc:
            problems.append(f"{where}: {_record_name(item, index)}: {exc}")


def read_bundle(root: Path) -> Bundle:
    """Parse every fixture file under `root`; raise FixtureError listing every problem."""
    root = root.resolve()
    problems: list[str] = []
    bundle = Bundle()
    if not root.is_dir():
        raise FixtureError([f"{root}: no such fixtures folder"])

    sources_file = root / "articles" / "sources.yaml"
    if not sources_file.is_file():
        problems.append(f"{_rel(sources_file, root)}: missing (the list of articles)")
    else:
        where = _rel(sources_file, root)
        for spec in _convert_list(_read_yaml(sources_file, root), SourceSpec, where, problems):
            text_file = sources_file.parent / spec.file
            if not text_file.is_file():
                problems.append(f"{where}: source {spec.id!r}: file {spec.file!r} not found")
                continue
            try:
                text = text_file.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                problems.append(f"{where}: source {spec.id!r}: {spec.file} is not UTF-8: {exc}")
                continue
            bundle.sources.append((where, SourceText(spec, text)))

    facts_root = root / "facts"
    crisis_dirs = (
        sorted(p for p in facts_root.iterdir() if p.is_dir()) if facts_root.is_dir() else []
    )
    if not crisis_dirs:
        problems.append(f"{_rel(facts_root, root)}: no crisis folder")
    for folder in crisis_dirs:
        crisis_file = folder / "crisis.yaml"
        where = _rel(crisis_file, root)
        if not crisis_file.is_file():
            problems.append(f"{where}: missing")
            continue
        try:
            crisis = convert(_read_yaml(crisis_file, root), CrisisSpec)
        except msgspec.ValidationError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if crisis.id != folder.name:
            problems.append(f"{where}: id {crisis.id!r} differs from its folder {folder.name!r}")
        cb = CrisisBundle(crisis)
        for name, spec_type, target in (
            ("actors.yaml", ActorSpec, cb.actors),
            ("places.yaml", PlaceSpec, cb.places),
        ):
            path = folder / name
            if path.is_file():
                w = _rel(path, root)
                target.extend(_convert_list(_read_yaml(path, root), spec_type, w, problems))
        facts: list[tuple[str, FactSpec]] = []
        for name, fact_type in FACT_FILES.items():
            path = folder / name
            if path.is_file():
                w = _rel(path, root)
                for fact in _convert_list(_read_yaml(path, root), fact_type, w, problems):
                    facts.append((w, fact))
        cb.facts = facts
        known = {"crisis.yaml", "actors.yaml", "places.yaml", *FACT_FILES}
        for stray in sorted(p.name for p in folder.iterdir() if p.suffix in {".yaml", ".yml"}):
            if stray not in known:
                problems.append(
                    f"{_rel(folder / stray, root)}: unknown file (expected {sorted(known)})"
                )
        bundle.crises.append((where, cb))
    if problems:
        raise FixtureError(problems)
    return bundle


# ---------------------------------------------------------------- validating


def _date(text: str | None, where: str, problems: list[str]) -> PartialDate | None:
    if text is None:
        return None
    try:
        return parse_partial_date(text)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return None


def _find_span(text: str, quote: str, occurrence: int | None) -> tuple[int, int] | str:
    """(start, end) of the quote in the text, or why it cannot be placed."""
    starts: list[int] = []
    at = text.find(quote)
    while at != -1:
        starts.append(at)
        at = text.find(quote, at + 1)
    if not starts:
        return "quote not found verbatim in the source"
    if occurrence is None:
        if len(starts) > 1:
            return f"quote occurs {len(starts)} times in the source; say which with `occurrence`"
        return starts[0], starts[0] + len(quote)
    if occurrence > len(starts):
        return f"occurrence {occurrence} asked, the quote occurs {len(starts)} time(s)"
    return starts[occurrence - 1], starts[occurrence - 1] + len(quote)


def _figure_problem(count: int | None, count_max: int | None, hedge: Hedge | None) -> str | None:
    if count is None:
        if count_max is not None or hedge is not None:
            return "count_max and hedge need a count"
        return None
    if (hedge == Hedge.RANGE) != (count_max is not None):
        return "a range needs count_max and count_max needs hedge 'range'"
    if count_max is not None and count_max < count:
        return f"count_max {count_max} is below count {count}"
    return None


class FactRows(NamedTuple):
    """One valid fact's rows, and the document its search vector is built from."""

    fact: tuple[Any, ...]
    kind_table: str
    kind: tuple[Any, ...]
    actors: list[tuple[Any, ...]]
    citations: list[tuple[Any, ...]]
    config: str  # text search configuration: the language of its first source
    document: str  # statement content, quotes and note: what full-text search matches


Item = tuple[str, tuple[Any, ...]] | FactRows
"""What `_checked` yields: a (table, row) or a fact with all its rows."""

KIND_TABLE = {
    FactKind.STATEMENT: "statements",
    FactKind.CASUALTY: "casualties",
    FactKind.DEPLOYMENT: "deployments",
    FactKind.ARREST: "arrests",
}


def _checked(bundle: Bundle, problems: list[str]) -> Iterator[Item]:
    """Every row of the bundle as its record passes its checks, parents before children.

    Problems are appended to `problems` as they are found, and a record with a problem
    yields nothing. `validate` collects the rows and raises at the end; `load_bundle`
    writes them as they come, and stops writing at the first problem.
    """
    crisis_ids = {cb.crisis.id for _, cb in bundle.crises}
    for where, cb in bundle.crises:
        if sum(1 for _, other in bundle.crises if other.crisis.id == cb.crisis.id) > 1:
            problems.append(f"{where}: duplicate crisis id {cb.crisis.id!r}")

    # Crises go first into the database, but their problems are reported with the rest
    # of their folder, after the sources'.
    crisis_problems: list[list[str]] = []
    for where, cb in bundle.crises:
        crisis = cb.crisis
        found: list[str] = []
        crisis_problems.append(found)
        start = _date(crisis.start, where, found)
        end = _date(crisis.end, where, found)
        if start is not None:
            yield (
                "crises",
                (
                    crisis.id,
                    crisis.name,
                    crisis.summary,
                    crisis.country,
                    start.value,
                    start.precision,
                    end.value if end else None,
                    end.precision if end else None,
                ),
            )

    sources: dict[str, SourceText] = {}
    for where, st in bundle.sources:
        spec = st.spec
        name = f"{where}: source {spec.id!r}"
        if spec.id in sources:
            problems.append(f"{name}: duplicate id")
            continue
        if spec.crisis not in crisis_ids:
            problems.append(f"{name}: unknown crisis {spec.crisis!r}")
        sources[spec.id] = st
        published = _date(spec.published, name, problems)
        if published is None or spec.crisis not in crisis_ids:
            continue
        yield (
            "sources",
            (
                spec.id,
                spec.crisis,
                spec.file,
                spec.title,
                spec.outlet,
                spec.url,
                spec.language.value,
                published.value,
                published.precision,
                spec.published_note,
                st.text,
                len(st.text),
                hashlib.sha256(st.text.encode()).hexdigest(),
            ),
        )
        for n, passage in enumerate(passages(st.text)):
            yield "source_passages", (spec.id, n, passage)

    fact_ids: dict[str, str] = {}
    actor_crisis: dict[str, str] = {}
    place_crisis: dict[str, str] = {}
    used: set[str] = set()
    for (where, cb), found in zip(bundle.crises, crisis_problems, strict=True):
        problems.extend(found)
        folder = where.rsplit("/", 1)[0]
        crisis = cb.crisis

        spellings: dict[str, str] = {}
        for actor in cb.actors:
            name = f"{folder}/actors.yaml: actor {actor.id!r}"
            if actor.id in actor_crisis:
                problems.append(f"{name}: duplicate id")
                continue
            actor_crisis[actor.id] = crisis.id
            yield "actors", (actor.id, crisis.id, actor.kind.value, actor.name, actor.role)
            for alias in actor.aliases:
                owner = spellings.get(alias.name)
                if alias.name == actor.name or owner is not None:
                    problems.append(
                        f"{name}: alias {alias.name!r} already names actor {owner or actor.id!r}"
                    )
                    continue
                spellings[alias.name] = actor.id
                yield (
                    "actor_aliases",
                    (
                        crisis.id,
                        alias.name,
                        actor.id,
                        alias.language.value if alias.language else None,
                    ),
                )
        for actor in cb.actors:
            owner = spellings.get(actor.name)
            if owner is not None and owner != actor.id:
                problems.append(
                    f"{folder}/actors.yaml: actor {actor.id!r}: its name {actor.name!r} "
                    f"is an alias of {owner!r}"
                )

        for place in cb.places:
            name = f"{folder}/places.yaml: place {place.id!r}"
            if place.id in place_crisis:
                problems.append(f"{name}: duplicate id")
                continue
            place_crisis[place.id] = crisis.id
            coords = place.coordinates
            yield (
                "places",
                (
                    place.id,
                    crisis.id,
                    place.name,
                    [a.name for a in place.aliases],
                    coords.lat if coords else None,
                    coords.lon if coords else None,
                    coords.source if coords else None,
                ),
            )

        for file, fact in cb.facts:
            name = f"{file}: fact {fact.id!r}"
            if fact.id in fact_ids:
                problems.append(f"{name}: duplicate id (first in {fact_ids[fact.id]})")
                continue
            fact_ids[fact.id] = file
            rows = _fact_rows(fact, crisis.id, name, sources, actor_crisis, place_crisis, problems)
            if rows is not None:
                used.update(row[1] for row in rows.actors)
                yield rows

    for actor_id, crisis_id in actor_crisis.items():
        if actor_id not in used:
            problems.append(
                f"fixtures/facts/{crisis_id}/actors.yaml: actor {actor_id!r}: used by no fact"
            )


def validate(bundle: Bundle) -> Rows:
    """Cross-check the bundle and turn it into rows; raise FixtureError listing every problem."""
    problems: list[str] = []
    rows = Rows()
    add = rows.add
    for item in _checked(bundle, problems):
        if isinstance(item, FactRows):
            add("facts", item.fact)
            add(item.kind_table, item.kind)
            for row in item.actors:
                add("fact_actors", row)
            for row in item.citations:
                add("citations", row)
        else:
            table, row = item
            if table == "crises":
                rows.crisis_ids.append(row[0])
            add(table, row)
    if problems:
        raise FixtureError(problems)
    return rows


def _fact_rows(
    fact: FactSpec,
    crisis_id: str,
    name: str,
    sources: dict[str, SourceText],
    actor_crisis: dict[str, str],
    place_crisis: dict[str, str],
    problems: list[str],
) -> FactRows | None:
    """Check one fact: its rows when clean, else None with its problems in `problems`."""
    found: list[str] = []
    involved: list[tuple[str, ActorRole]] = []

    def actor(ref: str | None, role: ActorRole) -> str | None:
        if ref is None:
            return None
        if actor_crisis.get(ref) != crisis_id:
            found.append(f"{name}: unknown actor {ref!r} (as {role.value})")
        involved.append((ref, role))
        return ref

    claimant = actor(fact.claimant, ActorRole.CLAIMANT)
    for ref in fact.actors:
        actor(ref, ActorRole.MENTIONED)
    if fact.place is not None and place_crisis.get(fact.place) != crisis_id:
        found.append(f"{name}: unknown place {fact.place!r}")
    when = _date(fact.date, name, found)

    kind = KIND_OF[type(fact)]
    kind_row: tuple[Any, ...]
    if isinstance(fact, StatementSpec):
        speaker = actor(fact.speaker, ActorRole.SPEAKER)
        cited = [sources[c.source].text for c in fact.citations if c.source in sources]
        if cited and not any(fact.content in text for text in cited):
            found.append(f"{name}: content not found verbatim in any cited source")
        kind_row = (
            fact.id,
            speaker,
            fact.content,
            fact.mode.value,
            fact.language.value,
            fact.channel.value if fact.channel else None,
        )
    elif isinstance(fact, CasualtySpec):
        problem = _figure_problem(fact.count, fact.count_max, fact.hedge)
        if problem:
            found.append(f"{name}: {problem}")
        kind_row = (
            fact.id,
            fact.category.value,
            fact.victim_group.value,
            fact.count,
            fact.count_max,
            fact.hedge.value,
        )
    elif isinstance(fact, DeploymentSpec):
        sender = actor(fact.sender, ActorRole.SENDER)
        framework = actor(fact.framework, ActorRole.FRAMEWORK)
        authoriser = actor(fact.authorised_by, ActorRole.AUTHORISER)
        problem = _figure_problem(fact.count, fact.count_max, fact.hedge)
        if problem:
            found.append(f"{name}: {problem}")
        kind_row = (
            fact.id,
            sender,
            fact.status.value,
            fact.count,
            fact.count_max,
            fact.hedge.value if fact.hedge else None,
            framework,
            authoriser,
            fact.purpose,
        )
    elif isinstance(fact, ArrestSpec):
        person = actor(fact.person, ActorRole.PERSON)
        if fact.person is None and fact.count is None:
            found.append(f"{name}: an arrest names a person or gives a count")
        problem = _figure_problem(fact.count, fact.count_max, fact.hedge)
        if problem:
            found.append(f"{name}: {problem}")
        kind_row = (
            fact.id,
            fact.confirmed,
            person,
            fact.count,
            fact.count_max,
            fact.hedge.value if fact.hedge else None,
            fact.charge,
            fact.legal_basis,
            fact.scope,
        )
    else:  # pragma: no cover - FACT_FILES names every kind
        raise TypeError(type(fact))

    citation_rows = []
    for position, citation in enumerate(fact.citations):
        source = sources.get(citation.source)
        if source is None:
            found.append(f"{name}: citation {position + 1}: unknown source {citation.source!r}")
            continue
        if source.spec.crisis != crisis_id:
            found.append(
                f"{name}: citation {position + 1}: source {citation.source!r} "
                f"belongs to crisis {source.spec.crisis!r}"
            )
            continue
        span = _find_span(source.text, citation.quote, citation.occurrence)
        if isinstance(span, str):
            found.append(
                f"{name}: citation {position + 1} ({citation.source}): {span}: "
                f"{citation.quote[:80]!r}"
            )
            continue
        citation_rows.append(
            (fact.id, position, citation.source, len(source.text), citation.quote, span[0], span[1])
        )
    if found:
        problems.extend(found)
        return None
    quotes = " ".join(row[4] for row in citation_rows)
    first_source = sources[min(row[2] for row in citation_rows)].spec
    content = fact.content if isinstance(fact, StatementSpec) else ""
    return FactRows(
        fact=(
            fact.id,
            crisis_id,
            kind.value,
            claimant,
            fact.verification.value,
            when.value if when else None,
            when.precision if when else None,
            fact.date_note,
            fact.key,
            fact.place,
            fact.note,
        ),
        kind_table=KIND_TABLE[kind],
        kind=kind_row,
        actors=[
            (fact.id, ref, role.value, kind.value, when.value if when else None)
            for ref, role in dict.fromkeys(involved)
        ],
        citations=citation_rows,
        config=TEXT_SEARCH_CONFIG[first_source.language],
        document=f"{content} {quotes} {fact.note or ''}",
    )


def read(root: Path) -> Rows:
    """Parse and validate the fixtures folder."""
    return validate(read_bundle(root))


# ---------------------------------------------------------------- writing

INSERT_ORDER = (
    "crises",
    "sources",
    "source_passages",
    "actors",
    "actor_aliases",
    "places",
    "facts",
    "statements",
    "casualties",
    "deployments",
    "arrests",
    "fact_actors",
    "citations",
)
"""Every table after the tables it references."""

CHUNK = 20_000
"""Facts written per round of COPYs when streaming: bounds memory, not speed."""

Progress = Callable[[str, int], None]
"""Called with a table name and how many rows were just written."""

Cursor = psycopg.Cursor[tuple[Any, ...]]
TEXT_OID = 25
BYTEA_OID = 17

Answer = tuple[str, str, str, bytes]
"""A fact's row of fact_documents: id, kind, its answer as the API serves it, its digest."""

WRITTEN = (*INSERT_ORDER, "fact_documents")
"""Every table a load COPYs into."""


def _foreign_keys() -> Iterator[tuple[str, str, list[str], list[str]]]:
    """Each foreign key of the tables a load writes, as the models declare it (a test holds
    the migrations to them): table, referenced table, their columns in order."""
    for table in WRITTEN:
        for key in Base.metadata.tables[table].foreign_key_constraints:
            columns = [element.parent.name for element in key.elements]
            referenced = [element.column.name for element in key.elements]
            yield table, key.referred_table.name, columns, referenced


def _orphan_query(table: str, parent: str, columns: list[str], keys: list[str]) -> sql.Composed:
    """One row of `table` whose `columns` are set but name no row of `parent`."""
    own = [sql.SQL("t.{}").format(sql.Identifier(c)) for c in columns]
    return sql.SQL(
        "SELECT {own} FROM {table} t WHERE {set} "
        "AND NOT EXISTS (SELECT FROM {parent} p WHERE {match}) LIMIT 1"
    ).format(
        own=sql.SQL(", ").join(own),
        table=sql.Identifier(table),
        set=sql.SQL(" AND ").join(sql.SQL("{} IS NOT NULL").format(o) for o in own),
        parent=sql.Identifier(parent),
        match=sql.SQL(" AND ").join(
            sql.SQL("p.{} = {}").format(sql.Identifier(k), o)
            for k, o in zip(keys, own, strict=True)
        ),
    )


_DELETE = (
    # What hangs off the facts goes first, one statement per table: left to the cascade,
    # each fact would delete its rows one fact at a time.
    *(
        f"DELETE FROM {table} t USING facts f "
        "WHERE t.fact_id = f.id AND f.crisis_id = ANY(%(crises)s)"
        for table in ("fact_documents", "citations", "fact_actors", *KIND_TABLE.values())
    ),
    # Then facts: they reference actors, places and sources, which go with the crisis.
    "DELETE FROM facts WHERE crisis_id = ANY(%(crises)s)",
    # Passages hang off the articles: one statement, not a cascade article by article.
    "DELETE FROM source_passages p USING sources s "
    "WHERE p.source_id = s.id AND s.crisis_id = ANY(%(crises)s)",
    # What the crisis owns, each table by itself: a bulk replacement deletes with the
    # foreign-key triggers off, so no cascade would do it.
    *(
        f"DELETE FROM {table} WHERE crisis_id = ANY(%(crises)s)"
        for table in ("sources", "actor_aliases", "actors", "places", "disputed_quantities")
    ),
    "DELETE FROM crises WHERE id = ANY(%(crises)s)",
)

DISPUTES_SQL = """
INSERT INTO disputed_quantities (crisis_id, quantity_key, kind, document)
WITH figures AS MATERIALIZED (
    SELECT f.id, f.crisis_id, f.kind, f.quantity_key, f.verification, f.occurred_on,
           f.date_precision, f.claimant_id,
           coalesce(ca.count, de.count, ar.count) AS count,
           coalesce(ca.count_max, de.count_max, ar.count_max) AS count_max,
           coalesce(ca.hedge, de.hedge, ar.hedge) AS hedge
    FROM facts f
    LEFT JOIN casualties ca ON ca.fact_id = f.id
    LEFT JOIN deployments de ON de.fact_id = f.id
    LEFT JOIN arrests ar ON ar.fact_id = f.id
    WHERE (f.crisis_id = ANY(%(crises)s)) AND f.quantity_key IS NOT NULL
      AND coalesce(ca.count, de.count, ar.count) IS NOT NULL
),
disputed AS (
    SELECT crisis_id, quantity_key, min(kind) AS kind FROM figures
    GROUP BY crisis_id, quantity_key
    HAVING count(DISTINCT (count, count_max, hedge)) > 1
),
bounded AS (
    -- The values each figure admits: 'more than 4,000' is [4001, inf),
    -- 'about N' is N give or take a tenth.
    SELECT g.*,
           CASE g.hedge WHEN 'more_than' THEN g.count + 1 WHEN 'about' THEN g.count * 0.9
                        WHEN 'up_to' THEN 0 ELSE g.count END::numeric AS lowest,
           CASE g.hedge WHEN 'at_least' THEN 'Infinity' WHEN 'more_than' THEN 'Infinity'
                        WHEN 'about' THEN g.count * 1.1
                        WHEN 'range' THEN coalesce(g.count_max, g.count)
                        ELSE g.count END::numeric AS highest
    FROM figures g
)
SELECT d.crisis_id, d.quantity_key, d.kind, json_build_object(
    'key', d.quantity_key, 'crisis_id', d.crisis_id, 'kind', d.kind,
    'values', json_agg(json_build_object(
        'fact_id', g.id, 'kind', g.kind, 'source_id', c.source_id,
        'figure', json_build_object('count', g.count, 'count_max', g.count_max,
                                    'hedge', g.hedge),
        'claimant', CASE WHEN a.id IS NULL THEN NULL
                          ELSE json_build_object('id', a.id, 'name', a.name) END,
        'date', CASE WHEN g.occurred_on IS NULL THEN NULL
                     ELSE json_build_object('value', g.occurred_on,
                                            'precision', g.date_precision) END,
        'verification', g.verification,
        'citation', json_build_object('source_id', c.source_id, 'quote', c.quote,
                                      'start', c.start_offset, 'end', c.end_offset)
    ) ORDER BY g.count, g.id),
    'low', min(g.count),
    -- No upper bound when the highest figure is open-ended ('more than N') and is the lowest.
    'high', CASE WHEN bool_or(g.hedge IN ('at_least', 'more_than'))
                      AND max(coalesce(g.count_max, g.count)) = min(g.count) THEN NULL
                 ELSE max(coalesce(g.count_max, g.count)) END,
    -- Conflicting when no single number satisfies every source's figure.
    'conflicting', max(g.lowest) > min(g.highest)
)::text
FROM disputed d
JOIN bounded g ON g.crisis_id = d.crisis_id AND g.quantity_key = d.quantity_key
JOIN citations c ON c.fact_id = g.id AND c.position = 0
LEFT JOIN actors a ON a.id = g.claimant_id
GROUP BY d.crisis_id, d.quantity_key, d.kind
"""
"""The quantity keys of the crises just written whose facts give different figures, each
with its answer as /v1/disputes serves it: a page then reads 50 ready answers instead of
joining and encoding every fact of 50 keys. The answer's `low`, `high` and `conflicting`
are decided here, once per load."""
DISPUTE_TABLES = ("facts", *KIND_TABLE.values(), "citations", "actors")
"""What DISPUTES_SQL reads: analyzed in the load's transaction before it runs."""


class _Writer:
    """Binary COPY into the tables, with facts' search vectors made in the same INSERT."""

    def __init__(self, cursor: Cursor, progress: Progress | None) -> None:
        self.cursor = cursor
        self.progress = progress
        self.counts = dict.fromkeys(WRITTEN, 0)
        allowed = cursor.execute(
            "SELECT has_parameter_privilege('session_replication_role', 'SET')"
        ).fetchone()
        self.may_defer = allowed is not None and bool(allowed[0])
        self.deferred = False
        rows = cursor.execute(
            "SELECT c.relname, a.attname, a.atttypid::int FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid "
            "WHERE c.oid = ANY(%s::regclass[]) AND a.attnum > 0 AND NOT a.attisdropped",
            [list(INSERT_ORDER)],
        ).fetchall()
        types = {(table, column): name for table, column, name in rows}
        self.types = {t: [types[t, c] for c in COLUMNS[t]] for t in INSERT_ORDER}
        # A staging table for facts: PostgreSQL turns each document into its search vector
        # while inserting the fact, instead of updating every fact afterwards.
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS loading_facts "
            "(LIKE facts INCLUDING DEFAULTS, config text, document text) ON COMMIT DROP"
        )
        cursor.execute("TRUNCATE loading_facts")

    def replace(self, crisis_ids: list[str]) -> None:
        """Lock out other loaders, then delete the crises about to be written.

        Replacing a crisis of at least a chunk of facts defers foreign keys from here on:
        each row deleted would otherwise run a trigger per key that references its table
        (PostgreSQL's cascades and checks), though every table is emptied of the crises
        by its own statement; `finish` still finds a row anywhere that referenced one of
        the deleted rows. Replacing 1M facts with 1M: the deletes took 126 s with the triggers
        (68 s of them deleting the crisis row) and 37 s without; the whole load 282 -> 167 s."""
        self.cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOAD_LOCK])
        self.crisis_ids = crisis_ids
        bulk = self.cursor.execute(
            "SELECT FROM facts WHERE crisis_id = ANY(%s) OFFSET %s LIMIT 1",
            [crisis_ids, CHUNK - 1],
        ).fetchone()
        if bulk is not None:
            self.defer_references()
        for statement in _DELETE:
            self.cursor.execute(statement, {"crises": crisis_ids})

    def defer_references(self) -> None:
        """For a bulk load: PostgreSQL checks each copied row's foreign keys by a trigger
        per row and key; with them off until `finish`, which checks each key once by one
        join over its whole table, 1M facts loaded in 164 s instead of 194 s (100k: 11.8 s
        instead of 16.3 s). The joins cost 4.6 s next to 1M facts, so a small load keeps
        the triggers. Only a role allowed to set session_replication_role (superusers
        are) can defer; for any other, rows are checked as they come."""
        if self.may_defer and not self.deferred:
            self.cursor.execute("SET LOCAL session_replication_role = replica")
            self.deferred = True

    def _check_references(self) -> None:
        """Raise FixtureError for the first row written whose reference leads nowhere."""
        self.cursor.execute("SET LOCAL session_replication_role = origin")
        self.deferred = False
        for table, parent, columns, keys in _foreign_keys():
            orphan = self.cursor.execute(_orphan_query(table, parent, columns, keys)).fetchone()
            if orphan is not None:
                named = ", ".join(f"{c}={v!r}" for c, v in zip(columns, orphan, strict=True))
                raise FixtureError([f"{table} row with {named}: no such row in {parent}"])

    def copy(self, table: str, rows: Iterable[tuple[Any, ...]]) -> None:
        """COPY rows into `table`; facts go through `facts` instead."""
        columns = ", ".join(COLUMNS[table])
        count = 0
        with self.cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(self.types[table])
            for row in rows:
                copy.write_row(row)
                count += 1
        self._done(table, count)

    def facts(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Facts rows each followed by (config, document), into facts with their vectors."""
        columns = ", ".join(COLUMNS["facts"])
        count = 0
        statement = f"COPY loading_facts ({columns}, config, document) FROM STDIN (FORMAT BINARY)"
        with self.cursor.copy(statement) as copy:
            copy.set_types([*self.types["facts"], TEXT_OID, TEXT_OID])
            for row in rows:
                copy.write_row(row)
                count += 1
        self.cursor.execute(
            f"INSERT INTO facts ({columns}, search) "
            f"SELECT {columns}, to_tsvector(config::regconfig, document) FROM loading_facts"
        )
        self.cursor.execute("TRUNCATE loading_facts")
        self._done("facts", count)

    def documents(self, rows: Iterable[Answer]) -> None:
        """(fact id, kind, answer, digest) of facts already written, into fact_documents."""
        count = 0
        statement = (
            "COPY fact_documents (fact_id, kind, document, digest) FROM STDIN (FORMAT BINARY)"
        )
        with self.cursor.copy(statement) as copy:
            copy.set_types([TEXT_OID, TEXT_OID, TEXT_OID, BYTEA_OID])
            for row in rows:
                copy.write_row(row)
                count += 1
        self._done("fact_documents", count)

    def _done(self, table: str, count: int) -> None:
        self.counts[table] += count
        if self.progress is not None and count:
            self.progress(table, count)

    def finish(self) -> int:
        """Find the disputed quantities, bump the dataset version and tell every server;
        the caller commits."""
        # The planner must know what this load wrote: with the statistics of the tables as
        # they were (empty, for a first load), PostgreSQL 18 picked nested loops that took
        # 101 s for the disputes of 100k facts.
        # Deferred foreign keys' joins need the statistics of every table written (answers'
        # text is left to VACUUM ANALYZE); after a small load, analyzing them all cost 1 s
        # next to 1M facts, so it analyzes only what DISPUTES_SQL reads.
        written = (*INSERT_ORDER, "fact_documents (fact_id, kind)")
        self.cursor.execute(f"ANALYZE {', '.join(written if self.deferred else DISPUTE_TABLES)}")
        if self.deferred:
            self._check_references()
        self.cursor.execute(DISPUTES_SQL, {"crises": self.crisis_ids})
        row = self.cursor.execute(
            "INSERT INTO dataset_version (id, version) VALUES (1, 1) "
            "ON CONFLICT (id) DO UPDATE SET version = dataset_version.version + 1, "
            "loaded_at = now() RETURNING version"
        ).fetchone()
        assert row is not None
        self.cursor.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, str(row[0])])
        return int(row[0])


def _raw(connection: sa.Connection) -> psycopg.Connection[tuple[Any, ...]]:
    raw = connection.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    return raw


def write(connection: sa.Connection, rows: Rows, progress: Progress | None = None) -> int:
    """Replace the crises in `rows` inside the caller's transaction; return the new version."""
    with _raw(connection).cursor() as cursor:
        writer = _Writer(cursor, progress)
        writer.replace(rows.crisis_ids)
        search = _search_texts(rows)
        for table in INSERT_ORDER:
            batch = rows.tables.get(table, [])
            if table != "facts":
                writer.copy(table, batch)
                continue
            for start in range(0, len(batch), CHUNK):
                end = start + CHUNK
                chunk = zip(batch[start:end], search[start:end], strict=True)
                writer.facts((*fact, *text) for fact, text in chunk)
        writer.documents(_answers(rows))
        return writer.finish()


def _search_texts(rows: Rows) -> list[tuple[str, str]]:
    """(config, document) of every fact in `rows`, as `_fact_rows` builds them."""
    language = {row[0]: row[6] for row in rows.tables.get("sources", [])}
    content = {row[0]: row[2] for row in rows.tables.get("statements", [])}
    quotes: dict[str, list[str]] = {}
    first: dict[str, str] = {}
    for row in rows.tables.get("citations", []):  # in position order within a fact
        quotes.setdefault(row[0], []).append(row[4])
        first[row[0]] = min(first.get(row[0], row[2]), row[2])
    return [
        (
            TEXT_SEARCH_CONFIG[Language(language[first[fact[0]]])],
            f"{content.get(fact[0], '')} {' '.join(quotes[fact[0]])} {fact[10] or ''}",
        )
        for fact in rows.tables.get("facts", [])
    ]


def _answer(fact_id: str, kind: str, answer: bytes) -> Answer:
    return fact_id, kind, answer.decode(), digest(answer)


def _answers(rows: Rows) -> Iterator[Answer]:
    """The fact_documents row of every fact in `rows`."""
    documents = Documents()
    for row in rows.tables.get("actors", []):
        documents.actor(row)
    for row in rows.tables.get("places", []):
        documents.place(row)
    by_fact: dict[str, tuple[Any, ...]] = {}
    for table in KIND_TABLE.values():
        by_fact.update((row[0], row) for row in rows.tables.get(table, []))
    actors: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows.tables.get("fact_actors", []):
        actors.setdefault(row[0], []).append(row)
    citations: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows.tables.get("citations", []):
        citations.setdefault(row[0], []).append(row)
    for fact in rows.tables.get("facts", []):
        fact_id = fact[0]
        answer = documents.document(
            fact, by_fact[fact_id], actors.get(fact_id, []), citations.get(fact_id, [])
        )
        yield _answer(fact_id, fact[2], answer)


class _Chunk:
    """Rows to write together, per table, with the answers of their facts."""

    def __init__(self) -> None:
        self.tables: dict[str, list[tuple[Any, ...]]] = {table: [] for table in INSERT_ORDER}
        self.answers: list[Answer] = []

    def write(self, writer: _Writer) -> None:
        if len(self.tables["facts"]) >= CHUNK:
            writer.defer_references()  # a full chunk: a bulk load
        for table, batch in self.tables.items():
            if batch:
                writer.facts(batch) if table == "facts" else writer.copy(table, batch)
        if self.answers:
            writer.documents(self.answers)


class _Background:
    """Writes chunks on a thread of its own: PostgreSQL stores one chunk while Python
    checks the next, so on two cores a load takes about the longer of the two instead
    of their sum. One chunk at most waits its turn, which keeps memory bounded."""

    def __init__(self, writer: _Writer) -> None:
        self.writer = writer
        self.queue: queue.Queue[_Chunk | None] = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="loader-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (chunk := self.queue.get()) is not None:
            if self.error is None:  # after a failure, chunks are taken and dropped
                try:
                    chunk.write(self.writer)
                except BaseException as exc:  # raised again by the loading thread
                    self.error = exc

    def put(self, chunk: _Chunk) -> None:
        self.raise_error()
        self.queue.put(chunk)

    def stop(self) -> None:
        """Wait for the chunks handed over to be written (or dropped after a failure)."""
        self.queue.put(None)
        self.thread.join()

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error


def load_bundle(
    connection: sa.Connection, bundle: Bundle, progress: Progress | None = None
) -> tuple[dict[str, int], int]:
    """Validate and write `bundle` in one pass inside the caller's transaction.

    For datasets too big to hold as `Rows` (`crisis-facts synth`): rows go into COPY a
    chunk at a time as they pass `validate`'s checks, so memory stays bounded, and while
    one chunk is written the next is checked. At the first problem writing stops;
    checking goes on, and FixtureError lists every problem as `validate` would. The
    caller must then roll back, which leaves the old data. Returns the rows written per
    table and the new dataset version.
    """
    problems: list[str] = []
    documents = Documents()
    with _raw(connection).cursor() as cursor:
        writer = _Writer(cursor, progress)
        writer.replace([cb.crisis.id for _, cb in bundle.crises])
        background = _Background(writer)
        chunk = _Chunk()

        def flush() -> None:
            nonlocal chunk
            if not problems:  # nothing more is written once the dataset is known to be bad
                background.put(chunk)
            chunk = _Chunk()

        try:
            for item in _checked(bundle, problems):
                if isinstance(item, FactRows):
                    facts = chunk.tables["facts"]
                    facts.append((*item.fact, item.config, item.document))
                    chunk.tables[item.kind_table].append(item.kind)
                    chunk.tables["fact_actors"].extend(item.actors)
                    chunk.tables["citations"].extend(item.citations)
                    if not problems:
                        answer = documents.document(
                            item.fact, item.kind, item.actors, item.citations
                        )
                        chunk.answers.append(_answer(item.fact[0], item.fact[2], answer))
                    if len(facts) >= CHUNK:
                        flush()
                else:
                    table, row = item
                    batch = chunk.tables[table]
                    batch.append(row)
                    if table == "actors":
                        documents.actor(row)
                    elif table == "places":
                        documents.place(row)
                    elif table == "sources" and len(batch) >= CHUNK // 10:
                        flush()  # texts are large
            flush()
        finally:
            background.stop()
        background.raise_error()
        if problems:
            raise FixtureError(problems)
        return writer.counts, writer.finish()


def load(engine: sa.Engine, root: Path, progress: Progress | None = None) -> tuple[Rows, int]:
    """Read, validate and write the fixtures under `root` in one transaction."""
    rows = read(root)
    with engine.begin() as connection:
        version = write(connection, rows, progress)
    return rows, version


def summary(rows: Rows) -> dict[str, int]:
    return {table: len(rows.tables.get(table, [])) for table in INSERT_ORDER}


def tidy(url: str) -> None:
    """After a committed load: VACUUM ANALYZE what it rewrote, so the planner knows the new
    sizes and index-only page scans need not visit the heap (seen at 1M facts: a deep page
    at 96 req/s straight after a load, 1,574 once autovacuum had passed)."""
    tables = [*INSERT_ORDER, "fact_documents", "disputed_quantities"]
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")
