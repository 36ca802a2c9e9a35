"""A filter naming an id that does not exist (`actor=tokayev`, `crisis=kazakstan-2022`)
answers 404 naming the parameter and the ids it may have meant, as a detail route does,
instead of an empty list. Checked only when a first page comes back empty: a filter naming
an existing item costs nothing more. An export, whose rows are streamed after its status,
checks before it starts."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request

from service.errors import InvalidParam, Problem
from service.queries import FactFilter, lookup


def _empty(items: Any) -> bool:
    if isinstance(items, msgspec.Raw):
        return bytes(items) == b"[]"
    return not items


async def unknown_ids(
    request: Request[Any, Any, Any], named: dict[str, tuple[str, str]]
) -> list[InvalidParam]:
    """Of `named` (parameter -> (what it names, id)), each naming nothing, with the ids it
    may have meant."""
    pool = request.app.state.pool
    invalid = []
    async with pool.connection() as conn:
        missing = await lookup.unknown(conn, named)
        for parameter, ident in missing.items():
            what = named[parameter][0]
            near = await lookup.closest(conn, what, ident)
            meant = f"; did you mean {', '.join(near)}?" if near else ""
            invalid.append(InvalidParam(parameter, f"no {what} with id {ident!r}{meant}"))
    return invalid


async def check_ids(request: Request[Any, Any, Any], **ids: str | None) -> None:
    """404 when one of `ids` (parameter=id; the parameter's name says what it names, or
    `speaker`, `claimant`, `sender`: an actor) names nothing."""
    named = {
        name: (name if name in lookup.WHAT_TABLE else "actor", ident)
        for name, ident in ids.items()
        if ident is not None
    }
    if not named:
        return
    invalid = await unknown_ids(request, named)
    if invalid:
        detail = "; ".join(f"Parameter '{p.name}': {p.reason}" for p in invalid)
        raise Problem(404, detail, kind="unknown-filter-id", invalid=invalid)


async def check_named(
    request: Request[Any, Any, Any], items: Any, cursor: str | None, **ids: str | None
) -> None:
    """As `check_ids`, only when a first page is empty."""
    if cursor is None and _empty(items):
        await check_ids(request, **ids)


def named_ids(filters: FactFilter) -> dict[str, str | None]:
    """The ids a fact list's filters name, by parameter."""
    return {
        "crisis": filters.crisis,
        "actor": filters.actor,
        "source": filters.source,
        "claimant": filters.claimant,
        "speaker": filters.kind_filters.get("speaker_id"),
        "sender": filters.kind_filters.get("sender_id"),
    }
