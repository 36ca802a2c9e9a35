"""Crises, sources, actors, disputes and search."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get
from litestar.params import Parameter

from service import queries, schemas
from service.api.existing import check_named
from service.api.paging import fetch, paged
from service.api.params import (
    CrisisId,
    Cursor,
    Including,
    InCrisis,
    InLanguage,
    Limit,
    Measuring,
    Named,
    OfActorKind,
    PageCursor,
    PageSize,
    PathId,
)
from service.api.querystring import decode, takes
from service.api.readers import Include, visibility
from service.errors import not_found
from service.queries.revised import get_revised
from service.vocabulary import FactKind, SearchType


class CrisisQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    limit: PageSize = 50
    cursor: PageCursor | None = None


class SourceQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    crisis: InCrisis | None = None
    language: InLanguage | None = None
    limit: PageSize = 50
    cursor: PageCursor | None = None


class ActorQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    crisis: InCrisis | None = None
    kind: OfActorKind | None = None
    name: Named | None = None
    limit: PageSize = 50
    cursor: PageCursor | None = None


class DisputeQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    crisis: InCrisis | None = None
    kind: (
        Annotated[
            FactKind, msgspec.Meta(description="Only quantities measured by facts of this kind.")
        ]
        | None
    ) = None
    key: Measuring | None = None
    limit: PageSize = 50
    cursor: PageCursor | None = None
    include: Including | None = None


SEARCH_MAX_LENGTH = 200


@get(
    "/v1/crises",
    operation_id="ListCrises",
    summary="List crises",
    tags=["crises"],
    **takes(CrisisQuery),
)
async def list_crises(request: Request[Any, Any, Any]) -> Response[schemas.Page[schemas.Crisis]]:
    """Every crisis the service holds, with how many facts of each kind it has: the
    published ones, drafts too with an API key, as the fact lists show them."""
    query = decode(request, CrisisQuery)
    seen = await visibility(request, None)
    page = await fetch(request, queries.list_crises, query.limit, query.cursor, seen)
    return paged(request, page)


@get(
    "/v1/crises/{crisis_id:str}", operation_id="GetCrisis", summary="Get a crisis", tags=["crises"]
)
async def get_crisis(request: Request[Any, Any, Any], crisis_id: PathId) -> schemas.Crisis:
    """One crisis with its fact counts: published facts, drafts too with an API key, as
    the fact lists show them."""
    crisis = await fetch(request, queries.get_crisis, crisis_id, await visibility(request, None))
    if crisis is None:
        raise not_found("crisis", crisis_id)
    return crisis


@get(
    "/v1/sources",
    operation_id="ListSources",
    summary="List sources",
    tags=["sources"],
    **takes(SourceQuery),
)
async def list_sources(
    request: Request[Any, Any, Any],
) -> Response[schemas.Page[schemas.SourceSummary]]:
    """The articles facts are drawn from, with how each publication date was determined."""
    q = decode(request, SourceQuery)
    page = await fetch(request, queries.list_sources, q.crisis, q.language, q.limit, q.cursor)
    await check_named(request, page.items, q.cursor, crisis=q.crisis)
    return paged(request, page)


@get(
    "/v1/sources/{source_id:str}",
    operation_id="GetSource",
    summary="Get a source",
    tags=["sources"],
)
async def get_source(
    request: Request[Any, Any, Any], source_id: PathId
) -> Response[schemas.Source]:
    """One article with its full text: every citation's `start`/`end` index into `text`."""
    source = await fetch(request, get_revised, "source", source_id)
    if source is None:
        raise not_found("source", source_id)
    return Response(source.value, headers={"ETag": source.etag})


@get(
    "/v1/actors",
    operation_id="ListActors",
    summary="List actors",
    tags=["actors"],
    **takes(ActorQuery),
)
async def list_actors(request: Request[Any, Any, Any]) -> Response[schemas.Page[schemas.Actor]]:
    """People, organizations, states and groups, with every spelling the sources use, and
    how many facts of each kind involve them (those the reader's lists show)."""
    q = decode(request, ActorQuery)
    seen = await visibility(request, None)
    page = await fetch(
        request, queries.list_actors, q.crisis, q.kind, q.name, q.limit, q.cursor, seen
    )
    await check_named(request, page.items, q.cursor, crisis=q.crisis)
    return paged(request, page)


@get("/v1/actors/{actor_id:str}", operation_id="GetActor", summary="Get an actor", tags=["actors"])
async def get_actor(request: Request[Any, Any, Any], actor_id: PathId) -> Response[schemas.Actor]:
    """One actor with aliases and how many facts of each kind involve it: published, and
    drafts too with an API key, as the fact lists show them."""
    actor = await fetch(request, get_revised, "actor", actor_id, await visibility(request, None))
    if actor is None:
        raise not_found("actor", actor_id)
    return Response(actor.value, headers={"ETag": actor.etag})


@get(
    "/v1/disputes",
    operation_id="ListDisputes",
    summary="List disputed quantities",
    tags=["disputes"],
    **takes(DisputeQuery),
)
async def list_disputes(
    request: Request[Any, Any, Any],
) -> Response[schemas.Page[schemas.Dispute]]:
    """Every quantity that sources report differently, each source's figure side by side:
    among published facts, drafts too with an API key, retracted ones with
    `include=retracted`."""
    q = decode(request, DisputeQuery)
    seen = await visibility(request, q.include)
    page = await fetch(
        request, queries.list_disputes, q.crisis, q.kind, q.key, q.limit, q.cursor, seen
    )
    await check_named(request, page.items, q.cursor, crisis=q.crisis)
    return paged(request, page)


@get("/v1/search", operation_id="Search", summary="Full-text search", tags=["search"])
async def search(
    request: Request[Any, Any, Any],
    q: Annotated[
        str,
        Parameter(
            min_length=1,
            max_length=SEARCH_MAX_LENGTH,
            # a character that is not a space, and no NUL (PostgreSQL text cannot hold one)
            pattern=r"^[^\x00]*[^\s\x00][^\x00]*$",
            description="Words to find in statements, citations and article texts "
            '(French and English stemming; "quotes" for a phrase, -word '
            "to exclude).",
        ),
    ],
    crisis: CrisisId = None,
    type: Annotated[
        list[SearchType] | None,
        Parameter(description="Only hits of these types (repeat the parameter for several)."),
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    include: Include = None,
) -> Response[schemas.Page[schemas.SearchHit]]:
    """Sources and facts matching `q`, best first, with the matched words marked: published
    facts, drafts too with an API key, retracted ones with `include=retracted`."""
    types = tuple(sorted({t.value for t in type})) if type else tuple(t.value for t in SearchType)
    seen = await visibility(request, include)
    page = await fetch(request, queries.search, q, crisis, types, limit, cursor, seen)
    await check_named(request, page.items, cursor, crisis=crisis)
    return paged(request, page)
