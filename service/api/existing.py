"""A filter naming an id that does not exist (`actor=tokayev`, `crisis=kazakstan-2022`)
answers 404 naming the parameter and the ids it may have meant, as a detail route does,
instead of an empty list. Checked only when a first page comes back empty: a filter naming
an existing item costs nothing more."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request

from service.errors import InvalidParam, Problem
from service.queries import lookup


def _empty(items: Any) -> bool:
    if isinstance(items, msgspec.Raw):
        return bytes(items) == b"[]"
    return not items


async def _missing(request: Request[Any, Any, Any], named: dict[str, tuple[str, str]]) -> None:
    pool = request.app.state.pool
    async with pool.connection() as conn:
        missing = await lookup.unknown(conn, named)
        if not missing:
            return
        invalid = []
        for parameter, ident in missing.items():
            what = named[parameter][0]
            near = await lookup.closest(conn, what, ident)
            meant = f"; did you mean {', '.join(near)}?" if near else ""
            invalid.append(InvalidParam(parameter, f"no {what} with id {ident!r}{meant}"))
    detail = "; ".join(f"Parameter '{p.name}': {p.reason}" for p in invalid)
    raise Problem(404, detail, kind="unknown-filter-id", invalid=invalid)


async def check_named(
    request: Request[Any, Any, Any], items: Any, cursor: str | None, **ids: str | None
) -> None:
    """404 when a first page is empty and one of `ids` (parameter=id; the parameter's name
    says what it names, or `speaker`, `claimant`, `sender`: an actor) names nothing."""
    if cursor is not None or not _empty(items):
        return
    named = {
        name: (name if name in lookup.WHAT_TABLE else "actor", ident)
        for name, ident in ids.items()
        if ident is not None
    }
    if named:
        await _missing(request, named)
