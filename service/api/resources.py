"""Crises, sources, actors, disputes and search."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.params import Parameter

from service import queries, schemas
from service.api.existing import check_named
from service.api.params import (
    ActorKindFilter,
    ActorName,
    CrisisId,
    Cursor,
    LanguageFilter,
    Limit,
    PathId,
    QuantityKey,
    fetch,
    paged,
)
from service.api.readers import Include, visibility
from service.errors import not_found
from service.queries.revised import get_revised
from service.vocabulary import FactKind, SearchType

SEARCH_MAX_LENGTH = 200


@get("/v1/crises", operation_id="ListCrises", summary="List crises", tags=["crises"])
async def list_crises(
    request: Request[Any, Any, Any], limit: Limit = 50, cursor: Cursor = None
) -> Response[schemas.Page[schemas.Crisis]]:
    """Every crisis the service holds, with how many facts of each kind it has."""
    return paged(request, await fetch(request, queries.list_crises, limit, cursor))


@get(
    "/v1/crises/{crisis_id:str}", operation_id="GetCrisis", summary="Get a crisis", tags=["crises"]
)
async def get_crisis(request: Request[Any, Any, Any], crisis_id: PathId) -> schemas.Crisis:
    """One crisis with its fact counts."""
    crisis = await fetch(request, queries.get_crisis, crisis_id)
    if crisis is None:
        raise not_found("crisis", crisis_id)
    return crisis


@get("/v1/sources", operation_id="ListSources", summary="List sources", tags=["sources"])
async def list_sources(
    request: Request[Any, Any, Any],
    crisis: CrisisId = None,
    language: LanguageFilter = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response[schemas.Page[schemas.SourceSummary]]:
    """The articles facts are drawn from, with how each publication date was determined."""
    page = await fetch(request, queries.list_sources, crisis, language, limit, cursor)
    await check_named(request, page.items, cursor, crisis=crisis)
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


@get("/v1/actors", operation_id="ListActors", summary="List actors", tags=["actors"])
async def list_actors(
    request: Request[Any, Any, Any],
    crisis: CrisisId = None,
    kind: ActorKindFilter = None,
    name: ActorName = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response[schemas.Page[schemas.Actor]]:
    """People, organizations, states and groups, with every spelling the sources use."""
    page = await fetch(request, queries.list_actors, crisis, kind, name, limit, cursor)
    await check_named(request, page.items, cursor, crisis=crisis)
    return paged(request, page)


@get("/v1/actors/{actor_id:str}", operation_id="GetActor", summary="Get an actor", tags=["actors"])
async def get_actor(request: Request[Any, Any, Any], actor_id: PathId) -> Response[schemas.Actor]:
    """One actor with aliases and how many facts of each kind involve it."""
    actor = await fetch(request, get_revised, "actor", actor_id)
    if actor is None:
        raise not_found("actor", actor_id)
    return Response(actor.value, headers={"ETag": actor.etag})


@get(
    "/v1/disputes",
    operation_id="ListDisputes",
    summary="List disputed quantities",
    tags=["disputes"],
)
async def list_disputes(
    request: Request[Any, Any, Any],
    crisis: CrisisId = None,
    kind: Annotated[
        FactKind | None, Parameter(description="Only quantities measured by facts of this kind.")
    ] = None,
    key: QuantityKey = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    include: Include = None,
) -> Response[schemas.Page[schemas.Dispute]]:
    """Every quantity that sources report differently, each source's figure side by side:
    among published facts, drafts too with an API key, retracted ones with
    `include=retracted`."""
    seen = await visibility(request, include)
    page = await fetch(request, queries.list_disputes, crisis, kind, key, limit, cursor, seen)
    await check_named(request, page.items, cursor, crisis=crisis)
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
