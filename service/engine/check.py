"""Stage two: a Bundle -> named records, every reference and every quote checked.

Problems are appended to a list as they are found, each naming its file, record and
reason; a record with a problem yields nothing, and the caller refuses the whole
change when the list is not empty.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from service.engine import notices
from service.engine import rows as r
from service.engine.read import Bundle, CrisisBundle, SourceText
from service.engine.specs import (
    ActorSpec,
    ArrestSpec,
    CasualtySpec,
    CrisisSpec,
    DeploymentSpec,
    FactSpec,
    PartialDate,
    StatementSpec,
    parse_partial_date,
)
from service.vocabulary import TEXT_SEARCH_CONFIG, ActorRole, FactKind, Hedge, ReviewStatus

PASSAGE = 400
"""Characters in a passage of an article (`source_passages`): what a search snippet is cut
from, so as long as a snippet's window."""
PASSAGE_STEP = 300
"""Where each passage starts after the one before: passages overlap by PASSAGE - PASSAGE_STEP
characters, so any word shorter than that lies whole in one of them."""

KIND_OF: dict[type[FactSpec], FactKind] = {
    StatementSpec: FactKind.STATEMENT,
    CasualtySpec: FactKind.CASUALTY,
    DeploymentSpec: FactKind.DEPLOYMENT,
    ArrestSpec: FactKind.ARREST,
}


def passages(text: str) -> list[str]:
    """`text` cut into passages; the migration that made the table cut the texts stored then
    the same way in SQL, and a test holds the two to each other."""
    last = max(len(text) - (PASSAGE - PASSAGE_STEP) - 1, 0) // PASSAGE_STEP
    return [text[n * PASSAGE_STEP : n * PASSAGE_STEP + PASSAGE] for n in range(last + 1)]


def _date(text: str | None, where: str, problems: list[str]) -> PartialDate | None:
    if text is None:
        return None
    try:
        return parse_partial_date(text)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return None


def quote_starts(text: str, quote: str) -> list[int]:
    """Where the quote starts in the text, every time, overlaps included."""
    starts: list[int] = []
    at = text.find(quote)
    while at != -1:
        starts.append(at)
        at = text.find(quote, at + 1)
    return starts


def find_span(text: str, quote: str, occurrence: int | None) -> tuple[int, int] | str:
    """(start, end) of the quote in the text, or why it cannot be placed."""
    starts = quote_starts(text, quote)
    if not starts:
        return "quote not found verbatim in the source"
    if occurrence is None:
        if len(starts) > 1:
            return f"quote occurs {len(starts)} times in the source; say which with `occurrence`"
        return starts[0], starts[0] + len(quote)
    if occurrence > len(starts):
        return f"occurrence {occurrence} asked, the quote occurs {len(starts)} time(s)"
    return starts[occurrence - 1], starts[occurrence - 1] + len(quote)


def figure_problem(count: int | None, count_max: int | None, hedge: Hedge | None) -> str | None:
    if count is None:
        if count_max is not None or hedge is not None:
            return "count_max and hedge need a count"
        return None
    if hedge is None:
        return f"a count needs a hedge ({', '.join(h.value for h in Hedge)})"
    if (hedge == Hedge.RANGE) != (count_max is not None):
        return "a range needs count_max and count_max needs hedge 'range'"
    if count_max is not None and count_max < count:
        return f"count_max {count_max} is below count {count}"
    return None


@dataclass
class Known:
    """What the records checked so far define, for the references of those after them."""

    crises: set[str] = field(default_factory=set)
    sources: dict[str, SourceText] = field(default_factory=dict)
    actors: dict[str, str] = field(default_factory=dict)  # actor id -> crisis id
    places: dict[str, str] = field(default_factory=dict)  # place id -> crisis id
    facts: dict[str, str] = field(default_factory=dict)  # fact id -> its file
    used: set[str] = field(default_factory=set)  # actors some fact involves


def checked(bundle: Bundle, problems: list[str]) -> Iterator[r.Record]:
    """Every record of the bundle that passes its checks, parents before children."""
    known = Known(crises={cb.crisis.id for _, cb in bundle.crises})
    crisis_problems: list[list[str]] = []
    for where, cb in bundle.crises:
        if sum(1 for _, other in bundle.crises if other.crisis.id == cb.crisis.id) > 1:
            problems.append(f"{where}: duplicate crisis id {cb.crisis.id!r}")
        # A crisis goes first into the database, but its problems are reported with the
        # rest of its folder, after the sources'.
        found: list[str] = []
        crisis_problems.append(found)
        crisis = _crisis(cb, where, found)
        if crisis is not None:
            yield crisis
    yield from _sources(bundle, known, problems)
    folders: dict[str, str] = {}  # crisis id -> its folder, as the problems name it
    for (where, cb), found in zip(bundle.crises, crisis_problems, strict=True):
        problems.extend(found)
        folder = folders[cb.crisis.id] = where.rsplit("/", 1)[0]
        yield from _actors(cb, folder, known, problems)
        yield from _places(cb, folder, known, problems)
        for file, fact in cb.facts:
            name = f"{file}: fact {fact.id!r}"
            if fact.id in known.facts:
                problems.append(f"{name}: duplicate id (first in {known.facts[fact.id]})")
                continue
            known.facts[fact.id] = file
            record = fact_record(fact, cb.crisis.id, name, known, problems)
            if record is not None:
                known.used.update(row.actor_id for row in record.actors)
                yield record
    for actor_id, crisis_id in known.actors.items():
        if actor_id not in known.used:
            problems.append(
                f"{folders[crisis_id]}/actors.yaml: actor {actor_id!r}: used by no fact"
            )


def _crisis(cb: CrisisBundle, where: str, problems: list[str]) -> r.CrisisRecord | None:
    crisis = cb.crisis
    start = _date(crisis.start, where, problems)
    end = _date(crisis.end, where, problems)
    if start is None:
        return None
    return r.CrisisRecord(
        r.CrisisRow(
            id=crisis.id,
            name=crisis.name,
            summary=crisis.summary,
            country=crisis.country,
            start_on=start.value,
            start_precision=start.precision,
            end_on=end.value if end else None,
            end_precision=end.precision if end else None,
            corrections=notices.corrections(crisis.corrections, CrisisSpec, where, problems),
        )
    )


def _sources(bundle: Bundle, known: Known, problems: list[str]) -> Iterator[r.SourceRecord]:
    for where, st in bundle.sources:
        name = f"{where}: source {st.spec.id!r}"
        if st.spec.id in known.sources:
            problems.append(f"{name}: duplicate id")
            continue
        known.sources[st.spec.id] = st
        record = source_record(st, name, known, problems)
        if record is not None:
            yield record


def source_record(
    st: SourceText, name: str, known: Known, problems: list[str]
) -> r.SourceRecord | None:
    """Check one article: its record, else None with its problems in `problems`."""
    spec = st.spec
    if spec.crisis not in known.crises:
        problems.append(f"{name}: unknown crisis {spec.crisis!r}")
    published = _date(spec.published, name, problems)
    if published is None or spec.crisis not in known.crises:
        return None
    row = r.SourceRow(
        id=spec.id,
        crisis_id=spec.crisis,
        file_name=spec.file,
        title=spec.title,
        outlet=spec.outlet,
        url=spec.url,
        language=spec.language.value,
        published_on=published.value,
        published_precision=published.precision,
        published_note=spec.published_note,
        text=st.text,
        text_length=len(st.text),
        sha256=hashlib.sha256(st.text.encode()).hexdigest(),
        translations=notices.translations(
            spec.translations, {None: ("title", spec.language.value)}, name, problems
        ),
    )
    cut = [r.PassageRow(source_id=spec.id, n=n, text=p) for n, p in enumerate(passages(st.text))]
    return r.SourceRecord(row, cut)


def _actors(
    cb: CrisisBundle, folder: str, known: Known, problems: list[str]
) -> Iterator[r.ActorRecord]:
    crisis_id = cb.crisis.id
    spellings: dict[str, str] = {}
    for actor in cb.actors:
        name = f"{folder}/actors.yaml: actor {actor.id!r}"
        if actor.id in known.actors:
            problems.append(f"{name}: duplicate id")
            continue
        known.actors[actor.id] = crisis_id
        yield actor_record(actor, crisis_id, name, spellings, problems)
    names: dict[str, str] = {}
    for actor in cb.actors:
        problem = name_problem(actor.id, actor.name, spellings) or taken_name_problem(
            actor.id, actor.name, names
        )
        if problem is not None:
            problems.append(f"{folder}/actors.yaml: actor {actor.id!r}: {problem}")
        names.setdefault(actor.id, actor.name)


def actor_record(
    actor: ActorSpec, crisis_id: str, name: str, spellings: dict[str, str], problems: list[str]
) -> r.ActorRecord:
    """One actor's record; an alias that is its name or names another actor of the crisis
    (`spellings`: alias -> actor, to which its own are added) is a problem."""
    aliases = []
    for alias in actor.aliases:
        owner = spellings.get(alias.name)
        if alias.name == actor.name or owner is not None:
            problems.append(
                f"{name}: alias {alias.name!r} already names actor {owner or actor.id!r}"
            )
            continue
        spellings[alias.name] = actor.id
        language = alias.language.value if alias.language else None
        aliases.append(
            r.AliasRow(crisis_id=crisis_id, alias=alias.name, actor_id=actor.id, language=language)
        )
    row = r.ActorRow(
        id=actor.id,
        crisis_id=crisis_id,
        kind=actor.kind.value,
        name=actor.name,
        role=actor.role,
        corrections=notices.corrections(actor.corrections, ActorSpec, name, problems),
    )
    return r.ActorRecord(row, aliases)


def name_problem(actor_id: str, actor_name: str, spellings: dict[str, str]) -> str | None:
    """Why an actor's name cannot be its name: it is another actor's alias."""
    owner = spellings.get(actor_name)
    if owner is not None and owner != actor_id:
        return f"its name {actor_name!r} is an alias of {owner!r}"
    return None


def taken_name_problem(actor_id: str, actor_name: str, names: dict[str, str]) -> str | None:
    """Why an actor's name cannot be its name: another actor of the crisis has it (`names`:
    actor -> name), and a name says which actor a reader means."""
    for other_id, other_name in names.items():
        if other_name == actor_name and other_id != actor_id:
            return f"its name {actor_name!r} is the name of actor {other_id!r}"
    return None


def _places(
    cb: CrisisBundle, folder: str, known: Known, problems: list[str]
) -> Iterator[r.PlaceRecord]:
    for place in cb.places:
        name = f"{folder}/places.yaml: place {place.id!r}"
        if place.id in known.places:
            problems.append(f"{name}: duplicate id")
            continue
        known.places[place.id] = cb.crisis.id
        coords = place.coordinates
        yield r.PlaceRecord(
            r.PlaceRow(
                id=place.id,
                crisis_id=cb.crisis.id,
                name=place.name,
                aliases=[a.name for a in place.aliases],
                lat=coords.lat if coords else None,
                lon=coords.lon if coords else None,
                coordinates_source=coords.source if coords else None,
            )
        )


class _Involved:
    """The actors a fact names, each checked to belong to the fact's crisis."""

    def __init__(self, crisis_id: str, name: str, known: Known, found: list[str]) -> None:
        self.crisis_id, self.name, self.known, self.found = crisis_id, name, known, found
        self.refs: dict[tuple[str, ActorRole], None] = {}

    def __call__(self, ref: str | None, role: ActorRole) -> str | None:
        if ref is None:
            return None
        if self.known.actors.get(ref) != self.crisis_id:
            self.found.append(f"{self.name}: unknown actor {ref!r} (as {role.value})")
        self.refs[ref, role] = None
        return ref


def fact_record(
    fact: FactSpec, crisis_id: str, name: str, known: Known, problems: list[str]
) -> r.FactRecord | None:
    """Check one fact: its record when clean, else None with its problems in `problems`."""
    found: list[str] = []
    involved = _Involved(crisis_id, name, known, found)
    claimant = involved(fact.claimant, ActorRole.CLAIMANT)
    for ref in fact.actors:
        involved(ref, ActorRole.MENTIONED)
    if fact.place is not None and known.places.get(fact.place) != crisis_id:
        found.append(f"{name}: unknown place {fact.place!r}")
    when = _date(fact.date, name, found)
    kind = KIND_OF[type(fact)]
    detail = _detail(fact, kind, name, involved, known, found)
    citations = _citations(fact, crisis_id, name, known, found)
    review = _review(fact, name, found)
    languages = [str(known.sources[c.source_id].spec.language) for c in citations]
    originals = notices.fact_originals(fact, languages)
    if len(citations) < len(fact.citations):  # a bad citation is already a problem
        originals = {k: v for k, v in originals.items() if k is None}
        originals.update({n: ("quote", "") for n in range(1, len(fact.citations) + 1)})
    translated = notices.translations(fact.translations, originals, name, found)
    corrected = notices.corrections(fact.corrections, type(fact), name, found)
    if found:
        problems.extend(found)
        return None
    first_source = known.sources[min(row.source_id for row in citations)].spec
    content = fact.content if isinstance(fact, StatementSpec) else ""
    quotes = " ".join(row.quote for row in citations)
    on = when.value if when else None
    return r.FactRecord(
        row=r.FactRow(
            id=fact.id,
            crisis_id=crisis_id,
            kind=kind.value,
            claimant_id=claimant,
            verification=fact.verification.value,
            occurred_on=on,
            date_precision=when.precision if when else None,
            date_note=fact.date_note,
            quantity_key=fact.key,
            place_id=fact.place,
            note=fact.note,
            **review,
            translations=translated,
            corrections=corrected,
        ),
        detail=detail,
        actors=[
            r.FactActorRow(
                fact_id=fact.id, actor_id=ref, role=role.value, kind=kind.value, occurred_on=on
            )
            for ref, role in involved.refs
        ],
        citations=citations,
        config=TEXT_SEARCH_CONFIG[first_source.language],
        document=f"{content} {quotes} {fact.note or ''}",
    )


def _review(fact: FactSpec, name: str, found: list[str]) -> dict[str, Any]:
    """The fact's review columns: a fact without a review (a fixture's) is published. A
    retraction says why; nothing else has a reason."""
    review = fact.review
    if review is not None and (review.status is ReviewStatus.RETRACTED) != bool(review.reason):
        found.append(f"{name}: a retracted fact needs a reason, and only a retracted fact has one")
    return {
        "review_status": ReviewStatus.PUBLISHED.value if review is None else review.status.value,
        "review_reason": None if review is None else review.reason,
        "reviewed_by": None if review is None else review.by,
        "reviewed_at": None if review is None or review.at is None else review.at.astimezone(UTC),
    }


def _detail(
    fact: FactSpec,
    kind: FactKind,
    name: str,
    involved: _Involved,
    known: Known,
    found: list[str],
) -> Any:
    """The row of the fact's kind table."""
    common = {"fact_id": fact.id, "kind": kind.value}
    row = r.KINDS[kind].row
    if isinstance(fact, StatementSpec):
        speaker = involved(fact.speaker, ActorRole.SPEAKER)
        cited = [known.sources[c.source].text for c in fact.citations if c.source in known.sources]
        if cited and not any(fact.content in text for text in cited):
            found.append(f"{name}: content not found verbatim in any cited source")
        channel = fact.channel.value if fact.channel else None
        return row(
            **common,
            speaker_id=speaker,
            content=fact.content,
            mode=fact.mode.value,
            language=fact.language.value,
            channel=channel,
        )
    assert isinstance(fact, CasualtySpec | DeploymentSpec | ArrestSpec)
    problem = figure_problem(fact.count, fact.count_max, fact.hedge)
    if problem:
        found.append(f"{name}: {problem}")
    figure = {
        "count": fact.count,
        "count_max": fact.count_max,
        "hedge": fact.hedge.value if fact.hedge else None,
    }
    if isinstance(fact, CasualtySpec):
        return row(
            **common, **figure, category=fact.category.value, victim_group=fact.victim_group.value
        )
    if isinstance(fact, DeploymentSpec):
        return row(
            **common,
            **figure,
            sender_id=involved(fact.sender, ActorRole.SENDER),
            status=fact.status.value,
            framework_id=involved(fact.framework, ActorRole.FRAMEWORK),
            authorised_by_id=involved(fact.authorised_by, ActorRole.AUTHORISER),
            purpose=fact.purpose,
        )
    person = involved(fact.person, ActorRole.PERSON)
    if fact.person is None and fact.count is None:
        found.append(f"{name}: an arrest names a person or gives a count")
    return row(
        **common,
        **figure,
        confirmed=fact.confirmed,
        person_id=person,
        charge=fact.charge,
        legal_basis=fact.legal_basis,
        scope=fact.scope,
    )


def _citations(
    fact: FactSpec, crisis_id: str, name: str, known: Known, found: list[str]
) -> list[Any]:
    rows = []
    for position, citation in enumerate(fact.citations):
        source = known.sources.get(citation.source)
        where = f"{name}: citation {position + 1}"
        if source is None:
            found.append(f"{where}: unknown source {citation.source!r}")
            continue
        if source.spec.crisis != crisis_id:
            found.append(
                f"{where}: source {citation.source!r} belongs to crisis {source.spec.crisis!r}"
            )
            continue
        span = find_span(source.text, citation.quote, citation.occurrence)
        if isinstance(span, str):
            found.append(f"{where} ({citation.source}): {span}: {citation.quote[:80]!r}")
            continue
        rows.append(
            r.CitationRow(
                fact_id=fact.id,
                position=position,
                source_id=citation.source,
                source_length=len(source.text),
                quote=citation.quote,
                start_offset=span[0],
                end_offset=span[1],
            )
        )
    return rows
