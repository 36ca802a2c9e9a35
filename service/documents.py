"""Each fact's answer as the API serves it, built by the loader from the rows it writes.

A page of facts reads this ready JSON from `fact_documents` (service.queries), so the
bytes must be the answer itself: the keys of `service.schemas` in their order, nulls
included, in the layout PostgreSQL's `json_build_object` gives (`"key" : value, ...`),
which is what the loads before this module stored and served. Strings are escaped by
msgspec, which escapes exactly as PostgreSQL does; a test compares every document with
the SQL that used to build them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import Any

import msgspec

_encode = msgspec.json.Encoder().encode

NULL = b"null"


def digest(answer: bytes) -> bytes:
    """What `fact_documents.digest` holds: 16 bytes of the answer's SHA-256."""
    return hashlib.sha256(answer).digest()[:16]


def _json(value: Any) -> bytes:
    return NULL if value is None else _encode(value)


class _Memo(dict[Any, bytes]):
    """Encoded values of a column with few distinct values (enumerations, dates)."""

    def __missing__(self, value: Any) -> bytes:
        encoded = self[value] = _json(value)
        return encoded


def _figure(count: int | None, count_max: int | None, hedge: bytes) -> bytes:
    if count is None:
        return NULL
    high = NULL if count_max is None else b"%d" % count_max
    return b'{"count" : %d, "count_max" : %b, "hedge" : %b}' % (count, high, hedge)


class Documents:
    """Builds fact documents; told the crisis' actors and places before their facts."""

    def __init__(self) -> None:
        self.refs: dict[str | None, bytes] = {None: NULL}  # actor id -> {"id", "name"}
        self.actor_names: dict[str, bytes] = {}
        self.places: dict[str | None, bytes] = {None: NULL}
        self.involved: dict[tuple[str, str], bytes] = {}  # (actor id, role) -> actors item
        self.memo = _Memo()
        self.dates: dict[tuple[dt.date | None, str | None], bytes] = {}

    def actor(self, row: tuple[Any, ...]) -> None:
        """An `actors` row: (id, crisis_id, kind, name, role)."""
        actor_id, name = _encode(row[0]), _encode(row[3])
        self.actor_names[row[0]] = name
        self.refs[row[0]] = b'{"id" : %b, "name" : %b}' % (actor_id, name)

    def place(self, row: tuple[Any, ...]) -> None:
        """A `places` row: (id, crisis_id, name, ...)."""
        self.places[row[0]] = b'{"id" : %b, "name" : %b}' % (_encode(row[0]), _encode(row[2]))

    def _date(self, value: dt.date | None, precision: str | None) -> bytes:
        key = (value, precision)
        encoded = self.dates.get(key)
        if encoded is None:
            encoded = NULL
            if value is not None:
                encoded = b'{"value" : %b, "precision" : %b}' % (_encode(value), _json(precision))
            self.dates[key] = encoded
        return encoded

    def _actor_item(self, actor_id: str, role: str) -> bytes:
        item = self.involved.get((actor_id, role))
        if item is None:
            item = self.involved[actor_id, role] = b'{"id" : %b, "name" : %b, "role" : %b}' % (
                _encode(actor_id),
                self.actor_names[actor_id],
                _encode(role),
            )
        return item

    def document(
        self,
        fact: tuple[Any, ...],
        kind: tuple[Any, ...],
        actors: Iterable[tuple[Any, ...]],
        citations: Iterable[tuple[Any, ...]],
    ) -> bytes:
        """The answer of one fact from its `facts` row, its kind table's row, its
        `fact_actors` rows and its `citations` rows in position order."""
        memo = self.memo
        (fact_id, crisis_id, kind_name, claimant, verification, occurred_on, precision) = fact[:7]
        date_note, quantity_key, place, note = fact[7:11]
        quoted = b", ".join(
            [
                b'{"source_id" : %b, "quote" : %b, "start" : %d, "end" : %d}'
                % (_encode(c[2]), _encode(c[4]), c[5], c[6])
                for c in citations
            ]
        )
        # Ordered by role, then actor id, by code point: the same on every server.
        involved = b", ".join(
            [self._actor_item(a[1], a[2]) for a in sorted(actors, key=lambda a: (a[2], a[1]))]
        )
        common = (
            b'{"kind" : %b, "id" : %b, "crisis_id" : %b, "verification" : %b, "date" : %b, '
            b'"date_note" : %b, "quantity_key" : %b, "note" : %b, "claimant" : %b, '
            b'"place" : %b, "citations" : [%b], "actors" : [%b], '
            % (
                memo[kind_name],
                _encode(fact_id),
                memo[crisis_id],
                memo[verification],
                self._date(occurred_on, precision),
                _json(date_note),
                _json(quantity_key),
                _json(note),
                self.refs[claimant],
                self.places[place],
                quoted,
                involved,
            )
        )
        refs = self.refs
        if kind_name == "statement":
            _, speaker, content, mode, language, channel = kind
            own = (
                b'"speaker" : %b, "content" : %b, "mode" : %b, "language" : %b, "channel" : %b}'
                % (refs[speaker], _encode(content), memo[mode], memo[language], memo[channel])
            )
        elif kind_name == "casualty":
            _, category, victim_group, count, count_max, hedge = kind
            own = b'"category" : %b, "victim_group" : %b, "figure" : %b}' % (
                memo[category],
                memo[victim_group],
                _figure(count, count_max, memo[hedge]),
            )
        elif kind_name == "deployment":
            _, sender, status, count, count_max, hedge, framework, authoriser, purpose = kind
            own = (
                b'"sender" : %b, "status" : %b, "figure" : %b, "framework" : %b, '
                b'"authorised_by" : %b, "purpose" : %b}'
                % (
                    refs[sender],
                    memo[status],
                    _figure(count, count_max, memo[hedge]),
                    refs[framework],
                    refs[authoriser],
                    _json(purpose),
                )
            )
        else:  # arrest
            _, confirmed, person, count, count_max, hedge, charge, legal_basis, scope = kind
            own = (
                b'"confirmed" : %b, "person" : %b, "figure" : %b, "charge" : %b, '
                b'"legal_basis" : %b, "scope" : %b}'
                % (
                    b"true" if confirmed else b"false",
                    refs[person],
                    _figure(count, count_max, memo[hedge]),
                    _json(charge),
                    _json(legal_basis),
                    _json(scope),
                )
            )
        return common + own
