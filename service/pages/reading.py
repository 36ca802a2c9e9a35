"""What a page reads, through the same functions of service.queries as the API: the
crisis, its figures, its disputes and its timeline, decoded into the API's Structs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from service import queries, schemas
from service.pages import views
from service.queries import Conn, FactFilter
from service.vocabulary import FactKind

T = TypeVar("T")

PAGE_ITEMS = 200
"""At most this many facts of each kind, disputes and timeline entries on a page: a crisis
of a million facts keeps a page that loads; the JSON links lead to the rest."""

FACT_TYPES: dict[FactKind, Any] = {
    FactKind.CASUALTY: schemas.Casualty,
    FactKind.DEPLOYMENT: schemas.Deployment,
    FactKind.ARREST: schemas.Arrest,
}


def decoded(items: Any, item_type: type[T]) -> list[T]:
    """A page's items, stored as JSON (msgspec.Raw) or already Structs."""
    if isinstance(items, msgspec.Raw):
        return msgspec.json.decode(items, type=list[item_type])  # type: ignore[valid-type]
    return list(items)


@dataclass(frozen=True, slots=True)
class Glance:
    """A crisis at a glance: what the landing page and a crisis's page show."""

    crisis: schemas.Crisis
    headlines: list[views.Headline]
    disputes: list[views.DisputeView]
    timeline: list[views.Entry]
    timeline_more: bool
    truncated: bool
    """True when a kind had more facts with figures than a page shows."""

    @property
    def undated(self) -> int:
        return sum(1 for e in self.timeline if e.undated)

    @property
    def total(self) -> int:
        return sum(self.crisis.counts.values())


async def featured(conn: Conn) -> tuple[str | None, list[schemas.Crisis]]:
    """The crisis the landing page shows (the latest to start) and every crisis."""
    crises = decoded((await queries.list_crises(conn, PAGE_ITEMS, None)).items, schemas.Crisis)
    if not crises:
        return None, []
    latest = max(crises, key=lambda c: (c.start.value, c.id))
    return latest.id, crises


async def figures(conn: Conn, crisis_id: str) -> tuple[list[Any], bool]:
    """Every fact of the kinds that carry figures (a page of each), and whether any kind
    had more."""
    facts: list[Any] = []
    more = False
    for kind in views.FIGURE_KINDS:
        page = (
            await queries.list_facts(conn, kind, FactFilter(crisis=crisis_id), PAGE_ITEMS, None)
        ).value
        facts += decoded(page.items, FACT_TYPES[kind])
        more = more or page.next_cursor is not None
    return facts, more


async def disputes(conn: Conn, crisis_id: str, key: str | None = None) -> list[schemas.Dispute]:
    page = await queries.list_disputes(conn, crisis_id, None, key, PAGE_ITEMS, None)
    return decoded(page.items, schemas.Dispute)


async def glance(conn: Conn, crisis_id: str) -> Glance | None:
    crisis = await queries.get_crisis(conn, crisis_id)
    if crisis is None:
        return None
    facts, truncated = await figures(conn, crisis_id)
    found = await disputes(conn, crisis_id)
    headlines = views.headlines(facts, {d.key for d in found})
    labels = {h.key: h.label for h in headlines}
    stored = await queries.timeline(
        conn, FactFilter(crisis=crisis_id), tuple(FactKind), PAGE_ITEMS, None, undated=True
    )
    dated: list[schemas.AnyFact] = decoded(stored.value.items, schemas.AnyFact)  # type: ignore[arg-type]
    return Glance(
        crisis=crisis,
        headlines=headlines,
        disputes=[views.dispute_view(d, labels) for d in found],
        timeline=[views.entry(f) for f in dated],
        timeline_more=stored.value.next_cursor is not None,
        truncated=truncated,
    )


async def dispute(conn: Conn, crisis_id: str, key: str) -> views.DisputeView | None:
    """One disputed quantity, labelled as the crisis's page labels it (from one of its facts)."""
    found = await disputes(conn, crisis_id, key)
    if not found:
        return None
    labels: dict[str, str] = {}
    fact_type = FACT_TYPES.get(found[0].kind)
    if fact_type is not None:
        narrowed = FactFilter(crisis=crisis_id, key=key)
        page = (await queries.list_facts(conn, found[0].kind, narrowed, 1, None)).value
        labels = {f.quantity_key: views.label_of(f) for f in decoded(page.items, fact_type)}
    return views.dispute_view(found[0], labels)
