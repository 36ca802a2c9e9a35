"""Derived after the facts: the quantity keys whose sources give different figures.

PostgreSQL selects the figures of the keys a change touched; which of them disagree, and
each dispute's answer, are decided here from `schemas.Dispute`, then stored in
`disputed_quantities` for /v1/disputes to serve as they are.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

import msgspec
import psycopg
from psycopg import sql
from psycopg.rows import class_row

from service import schemas
from service.engine.answers import UNSTAMPED, encode, partial_date
from service.engine.write import Cursor
from service.vocabulary import VISIBILITIES, FactKind, Hedge, Language, Verification

_FIGURES = """
SELECT f.id, f.crisis_id, f.kind, f.quantity_key, f.verification, f.occurred_on,
       f.date_precision, f.claimant_id, a.name AS claimant_name,
       coalesce(ca.count, de.count, ar.count) AS count,
       coalesce(ca.count_max, de.count_max, ar.count_max) AS count_max,
       coalesce(ca.hedge, de.hedge, ar.hedge) AS hedge,
       c.source_id, c.quote, c.start_offset, c.end_offset,
       s.title AS source_title, s.outlet AS source_outlet, s.language AS source_language,
       s.published_on AS source_published_on,
       s.published_precision AS source_published_precision, f.review_status,
       d.revision, v.made_at
FROM facts f
LEFT JOIN casualties ca ON ca.fact_id = f.id
LEFT JOIN deployments de ON de.fact_id = f.id
LEFT JOIN arrests ar ON ar.fact_id = f.id
LEFT JOIN actors a ON a.id = f.claimant_id
JOIN citations c ON c.fact_id = f.id AND c.position = 0
JOIN sources s ON s.id = c.source_id
LEFT JOIN fact_documents d ON d.fact_id = f.id
LEFT JOIN revisions v ON v.revision = d.revision
WHERE f.quantity_key IS NOT NULL AND coalesce(ca.count, de.count, ar.count) IS NOT NULL
  AND {scope}
ORDER BY f.crisis_id, f.quantity_key, count, f.id
"""

_BY_CRISIS = sql.SQL("f.crisis_id = ANY(%(crises)s)")
_BY_KEY = sql.SQL(
    "(f.crisis_id, f.quantity_key) IN (SELECT * FROM unnest(%(crises)s::text[], %(keys)s::text[]))"
)


@dataclass(frozen=True, slots=True)
class Figure:  # the columns _FIGURES selects, by name
    """One fact's figure for a quantity key, with what a dispute shows of it."""

    id: str
    crisis_id: str
    kind: str
    quantity_key: str
    verification: str
    occurred_on: Any
    date_precision: str | None
    claimant_id: str | None
    claimant_name: str | None
    count: int
    count_max: int | None
    hedge: str
    source_id: str
    quote: str
    start_offset: int
    end_offset: int
    source_title: str
    source_outlet: str | None
    source_language: str
    source_published_on: Any
    source_published_precision: str
    review_status: str
    revision: int | None  # the fact's last change; none while an edit is rewriting it
    made_at: dt.datetime | None

    @property
    def changed(self) -> schemas.Changed | None:
        if self.revision is None or self.made_at is None:
            return None
        return schemas.Changed(revision=self.revision, at=self.made_at)


def _lowest(f: Figure) -> Decimal:
    """The smallest value a figure admits: 'more than 4,000' is 4,001."""
    if f.hedge == Hedge.MORE_THAN:
        return Decimal(f.count + 1)
    if f.hedge == Hedge.ABOUT:
        return Decimal(f.count) * Decimal("0.9")
    if f.hedge == Hedge.UP_TO:
        return Decimal(0)
    return Decimal(f.count)


def _highest(f: Figure) -> Decimal:
    """The largest value a figure admits: 'about N' is N give or take a tenth."""
    if f.hedge in (Hedge.AT_LEAST, Hedge.MORE_THAN):
        return Decimal("Infinity")
    if f.hedge == Hedge.ABOUT:
        return Decimal(f.count) * Decimal("1.1")
    if f.hedge == Hedge.RANGE:
        return Decimal(f.count if f.count_max is None else f.count_max)
    return Decimal(f.count)


def dispute(figures: list[Figure]) -> schemas.Dispute | None:
    """The dispute of one key's figures (ordered by count, then fact id), or None when
    every source gives the same figure."""
    if len({(f.count, f.count_max, f.hedge) for f in figures}) < 2:
        return None
    low = min(f.count for f in figures)
    top = max(f.count if f.count_max is None else f.count_max for f in figures)
    open_ended = any(f.hedge in (Hedge.AT_LEAST, Hedge.MORE_THAN) for f in figures)
    first = figures[0]
    return schemas.Dispute(
        key=first.quantity_key,
        crisis_id=first.crisis_id,
        kind=FactKind(min(f.kind for f in figures)),
        values=[_value(f) for f in figures],
        low=low,
        # No upper bound when the highest figure is open-ended and is also the lowest.
        high=None if open_ended and top == low else top,
        conflicting=max(map(_lowest, figures)) > min(map(_highest, figures)),
        **UNSTAMPED,
    )


def _value(f: Figure) -> schemas.DisputeValue:
    claimant = None
    if f.claimant_id is not None and f.claimant_name is not None:
        claimant = schemas.Ref(id=f.claimant_id, name=f.claimant_name)
    return schemas.DisputeValue(
        fact_id=f.id,
        kind=FactKind(f.kind),
        source_id=f.source_id,
        figure=schemas.Figure(count=f.count, count_max=f.count_max, hedge=Hedge(f.hedge)),
        claimant=claimant,
        date=partial_date(f.occurred_on, f.date_precision),
        verification=Verification(f.verification),
        citation=schemas.Citation(
            source_id=f.source_id,
            source=_source(f),
            quote=f.quote,
            start=f.start_offset,
            end=f.end_offset,
        ),
    )


def _source(f: Figure) -> schemas.CitedSource:
    published = partial_date(f.source_published_on, f.source_published_precision)
    assert published is not None
    return schemas.CitedSource(
        id=f.source_id,
        title=f.source_title,
        outlet=f.source_outlet,
        published=published,
        language=Language(f.source_language),
    )


BY_CRISIS_FROM = 1000
"""Keys touched from which a crisis's disputes are all found again in one pass."""


def refresh(cursor: Cursor, keys: Iterable[tuple[str, str]]) -> int:
    """Recompute the disputes of each (crisis, quantity key) in `keys`; return how many of
    them are disputed now. A bulk change recomputes its crises whole. A dispute that now
    shows a reader something else says it `changed` with the last change that altered what
    it shows; one that shows the same keeps the change it had."""
    pairs = sorted(set(keys))
    if not pairs:
        return 0
    if len(pairs) >= BY_CRISIS_FROM:
        params: dict[str, Any] = {"crises": sorted({c for c, _ in pairs})}
        where, scope = sql.SQL("crisis_id = ANY(%(crises)s)"), _BY_CRISIS
    else:
        params = {"crises": [c for c, _ in pairs], "keys": [k for _, k in pairs]}
        where = sql.SQL(
            "(crisis_id, quantity_key) IN "
            "(SELECT * FROM unnest(%(crises)s::text[], %(keys)s::text[]))"
        )
        scope = _BY_KEY
    before: dict[tuple[str, str], list[_Old]] = {}
    for crisis, key, document, views, ids, revisions, times in cursor.execute(
        sql.SQL(_DELETED).format(where), params
    ):
        facts = {
            i: schemas.Changed(revision=n, at=at)
            for i, n, at in zip(ids or (), revisions or (), times or (), strict=True)
        }
        before.setdefault((crisis, key), []).append(_Old(document, views, facts))
    query = sql.SQL(_FIGURES).format(scope=scope)
    return _insert(cursor, query, params, bulk=scope is _BY_CRISIS, stamp=_Stamp(before))


_DELETED = """
WITH gone AS (
  DELETE FROM disputed_quantities WHERE {} RETURNING crisis_id, quantity_key, document, views
)
SELECT g.crisis_id, g.quantity_key, g.document, g.views, l.ids, l.revisions, l.times
FROM gone g, LATERAL (
  SELECT array_agg(r.id) AS ids, array_agg(r.revision) AS revisions, array_agg(v.made_at) AS times
  FROM jsonb_array_elements(g.document::jsonb -> 'values') e
  JOIN records r ON r.kind = e ->> 'kind' AND r.id = e ->> 'fact_id'
  JOIN revisions v ON v.revision = r.revision
) l
"""
"""The disputes taken out, each with the last change of every fact it showed: the change
that took a fact out of a dispute is the one that altered it."""


class _Old(NamedTuple):
    """A dispute as stored before the change: its answer, the readers it is for, and the
    last change of each fact it shows (known to a load, not to an edit)."""

    document: str
    views: int
    facts: dict[str, schemas.Changed]


def _per_reader(figures: list[Figure], stamp: _Stamp) -> list[tuple[str, str, str, str, int]]:
    """One key's dispute for each kind of reader (the figures they see), a row for each
    different answer with the bits of the readers it is for (one row for most keys)."""
    answers: dict[bytes, tuple[schemas.Dispute, int]] = {}
    for reader in VISIBILITIES:
        seen = [f for f in figures if f.review_status in reader.statuses]
        found = dispute(seen)
        if found is not None:
            found = stamp(found, seen, reader.bit)
            document = encode(found)
            _, views = answers.get(document, (found, 0))
            answers[document] = (found, views | reader.bit)
    return [
        (found.crisis_id, found.key, found.kind.value, document.decode(), views)
        for document, (found, views) in answers.items()
    ]


@dataclass(frozen=True, slots=True)
class _Stamp:
    """The disputes as they were (by crisis and key, one per different view), and the edit
    making this change, if one is: it is what altered each dispute that shows something new."""

    before: dict[tuple[str, str], list[_Old]]
    edit: schemas.Changed | None = None

    def __call__(self, found: schemas.Dispute, seen: list[Figure], bit: int) -> schemas.Dispute:
        """`found`, the dispute of the figures a reader sees (`bit`), saying when it last
        changed: as it was, if that reader saw the same."""
        old = next(
            (o for o in self.before.get((found.crisis_id, found.key), []) if o.views & bit), None
        )
        was = None if old is None else _decode_dispute(old.document)
        if was is not None and msgspec.structs.replace(was, **UNSTAMPED) == found:
            return was
        if self.edit is not None:
            return msgspec.structs.replace(found, changed=self.edit)
        return msgspec.structs.replace(found, changed=_altered(found, seen, was, old))


def _altered(
    found: schemas.Dispute, seen: list[Figure], was: schemas.Dispute | None, old: _Old | None
) -> schemas.Changed:
    """The last change among those of its facts that altered the dispute a reader sees:
    one that changed what it shows of a fact, or took a fact out of it."""
    shown = [f.changed for f in seen if f.changed is not None]
    if was is None or old is None:
        return max(shown, key=_revision)
    before = {value.fact_id: value for value in was.values}
    now = {value.fact_id for value in found.values}
    altered = [
        changed
        for figure, value in zip(seen, found.values, strict=True)
        if before.get(figure.id) != value and (changed := figure.changed) is not None
    ]
    altered += [old.facts[i] for i in before.keys() - now if i in old.facts]
    return max(altered or shown, key=_revision)


def _revision(changed: schemas.Changed) -> int:
    return changed.revision


_decode_dispute = msgspec.json.Decoder(schemas.Dispute).decode


def _insert(
    cursor: Cursor, query: sql.Composed, params: dict[str, Any], bulk: bool, stamp: _Stamp
) -> int:
    rows: list[tuple[str, str, str, str, int]] = []
    count = 0
    # A bulk change's figures are read a batch at a time by a server-side cursor; a few
    # keys' in one round trip (a server-side cursor cost 6-10 ms more for one key).
    conn, rows_as = cursor.connection, class_row(Figure)
    opened: psycopg.Cursor[Figure]
    if bulk:
        server = conn.cursor(name="figures", row_factory=rows_as)
        server.itersize = FIGURES_PER_FETCH
        opened = server
    else:
        opened = conn.cursor(row_factory=rows_as)
    with opened as figures:
        figures.execute(query, params)
        for _, group in itertools.groupby(figures, key=lambda f: (f.crisis_id, f.quantity_key)):
            rows.extend(_per_reader(list(group), stamp))
            if len(rows) >= COPY_EVERY:  # between two fetches of the cursor
                count += _copy(cursor, rows)
                rows = []
    return count + _copy(cursor, rows)


_FIGURES_BY_KEY = sql.SQL(sql.SQL(_FIGURES).format(scope=_BY_KEY).as_string(None))
"""Rendered once: a write runs it every time."""


@dataclass(frozen=True, slots=True)
class Reread:
    """A few keys' disputes taken out and their figures read, to be stored again once the
    change that touched them has its revision (`store`)."""

    before: dict[tuple[str, str], list[_Old]]
    figures: list[list[Figure]]  # each key's, ordered as `dispute` wants them


def reread(cursor: Cursor, keys: Iterable[tuple[str, str]]) -> Callable[[], Reread]:
    """Delete the disputes of a few (crisis, quantity key)s and read their figures as the
    change being made leaves them. Hold their keys' locks (service.engine.edits) until the
    commit: the figures must stay what is read here. Asked now, read when the function
    returned is called: in a pipeline, with the next round trip rather than one of its own."""
    pairs = sorted(set(keys))
    params = {"crises": [c for c, _ in pairs], "keys": [k for _, k in pairs]}
    conn = cursor.connection
    deleted = conn.execute(
        "DELETE FROM disputed_quantities WHERE (crisis_id, quantity_key) IN "
        "(SELECT * FROM unnest(%(crises)s::text[], %(keys)s::text[])) "
        "RETURNING crisis_id, quantity_key, document, views",
        params,
        prepare=True,
    )
    read = conn.cursor(row_factory=class_row(Figure))
    read.execute(_FIGURES_BY_KEY, params, prepare=True)

    def found() -> Reread:
        with read:
            before: dict[tuple[str, str], list[_Old]] = {}
            for crisis, key, document, views in deleted.fetchall():
                before.setdefault((crisis, key), []).append(_Old(document, views, {}))
            figures = read.fetchall()
        groups = itertools.groupby(figures, key=lambda f: (f.crisis_id, f.quantity_key))
        return Reread(before, [list(group) for _, group in groups])

    return found


def store(cursor: Cursor, found: Reread, changed: schemas.Changed) -> int:
    """Store the disputes `reread` found, those that show something new saying they
    `changed` with this change; by statements, which a pipeline carries (a COPY is not)."""
    stamp = _Stamp(found.before, edit=changed)
    rows = [row for figures in found.figures for row in _per_reader(figures, stamp)]
    if rows:
        cursor.executemany(
            "INSERT INTO disputed_quantities (crisis_id, quantity_key, kind, document, views) "
            "VALUES (%s, %s, %s, %s, %s)",
            rows,
        )
    return len(rows)


FIGURES_PER_FETCH = 10_000
"""Figures a bulk change's server-side cursor reads at a time."""
COPY_EVERY = 5_000
"""Disputes copied at a time: a bulk change's disputes never all sit in memory."""


def _copy(cursor: Cursor, rows: list[tuple[str, str, str, str, int]]) -> int:
    if rows:
        with cursor.copy(
            "COPY disputed_quantities (crisis_id, quantity_key, kind, document, views) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
    return len(rows)
