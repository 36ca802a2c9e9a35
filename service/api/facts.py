"""The four kinds of fact: statements, casualties, deployments, arrests; and the timeline."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get

from service import queries, schemas
from service.api.existing import check_named, named_ids
from service.api.paging import fetch, paged
from service.api.params import (
    BySender,
    BySpeaker,
    FactQuery,
    InCategory,
    InChannel,
    InMode,
    InStatus,
    IsConfirmed,
    OfVictims,
    PageCursor,
    PageSize,
    PathId,
    WithUndated,
    in_role,
)
from service.api.querystring import decode, takes
from service.api.readers import sees_drafts
from service.errors import gone, not_found
from service.queries import FactFilter
from service.vocabulary import FactKind

# Each list's parameters, in the order the contract lists them: the shared filters, then
# the list's own (a filter added later comes after `cursor`).


class StatementQuery(FactQuery, kw_only=True, forbid_unknown_fields=True):
    mode: InMode | None = None
    channel: InChannel | None = None
    limit: PageSize = 50
    cursor: PageCursor | None = None
    speaker: BySpeaker | None = None


class CasualtyQuery(FactQuery, kw_only=True, forbid_unknown_fields=True):
    category: InCategory | None = None
    victim_group: OfVictims | None = None
    limit: PageSize = 50
    cursor: PageCursor | None = None


class DeploymentQuery(FactQuery, kw_only=True, forbid_unknown_fields=True):
    status: InStatus | None = None
    limit: PageSize = 50
    cursor: PageCursor | None = None
    sender: BySender | None = None


class ArrestQuery(FactQuery, kw_only=True, forbid_unknown_fields=True):
    confirmed: IsConfirmed | None = None
    limit: PageSize = 50
    cursor: PageCursor | None = None


class TimelineQuery(FactQuery, kw_only=True, forbid_unknown_fields=True):
    kind: (
        Annotated[
            list[FactKind],
            msgspec.Meta(
                description="Only these kinds of fact (repeat the parameter for several)."
            ),
        ]
        | None
    ) = None
    limit: PageSize = 50
    cursor: PageCursor | None = None
    undated: WithUndated = False


async def _list(
    request: Request[Any, Any, Any],
    kind: FactKind,
    filters: FactFilter,
    limit: int,
    cursor: str | None,
) -> Response[Any]:
    stored = await fetch(request, queries.list_facts, kind, filters, limit, cursor)
    await check_named(request, stored.value.items, cursor, **named_ids(filters))
    return paged(request, stored.value, stored.etag)


async def _detail(
    request: Request[Any, Any, Any], kind: FactKind, fact_id: str, what: str
) -> Response[Any]:
    drafts = await sees_drafts(request)
    fact = await fetch(request, queries.get_fact, kind, fact_id, drafts)
    if fact is None:
        deleted = await fetch(request, queries.tombstone, kind.value, fact_id, drafts)
        if deleted is None:
            raise not_found(what, fact_id)
        when = deleted.deleted_at.date().isoformat()
        raise gone(what, fact_id, deleted.revision, when, deleted.message)
    return Response(fact.value, headers={"ETag": fact.etag})


class StatementController(Controller):
    path = "/v1/statements"
    tags = ["facts"]

    @get("/", operation_id="ListStatements", summary="List statements", **takes(StatementQuery))
    async def list_statements(
        self, request: Request[Any, Any, Any]
    ) -> Response[schemas.Page[schemas.Statement]]:
        """Direct quotes and attributed reported speech, each with its speaker and citations."""
        query = decode(request, StatementQuery)
        filters = await query.filters(
            request, mode=query.mode, channel=query.channel, **in_role("speaker_id", query.speaker)
        )
        return await _list(request, FactKind.STATEMENT, filters, query.limit, query.cursor)

    @get("/{fact_id:str}", operation_id="GetStatement", summary="Get a statement")
    async def get_statement(
        self, request: Request[Any, Any, Any], fact_id: PathId
    ) -> Response[schemas.Statement]:
        """One statement with its citations."""
        return await _detail(request, FactKind.STATEMENT, fact_id, "statement")


class CasualtyController(Controller):
    path = "/v1/casualties"
    tags = ["facts"]

    @get(
        "/", operation_id="ListCasualties", summary="List casualty figures", **takes(CasualtyQuery)
    )
    async def list_casualties(
        self, request: Request[Any, Any, Any]
    ) -> Response[schemas.Page[schemas.Casualty]]:
        """Killed and injured figures, one per source claim, each hedged as its source hedges it."""
        query = decode(request, CasualtyQuery)
        filters = await query.filters(
            request, category=query.category, victim_group=query.victim_group
        )
        return await _list(request, FactKind.CASUALTY, filters, query.limit, query.cursor)

    @get("/{fact_id:str}", operation_id="GetCasualty", summary="Get a casualty figure")
    async def get_casualty(
        self, request: Request[Any, Any, Any], fact_id: PathId
    ) -> Response[schemas.Casualty]:
        """One casualty figure with its citations."""
        return await _detail(request, FactKind.CASUALTY, fact_id, "casualty")


class DeploymentController(Controller):
    path = "/v1/deployments"
    tags = ["facts"]

    @get(
        "/",
        operation_id="ListDeployments",
        summary="List troop deployments",
        **takes(DeploymentQuery),
    )
    async def list_deployments(
        self, request: Request[Any, Any, Any]
    ) -> Response[schemas.Page[schemas.Deployment]]:
        """Troop deployments: sender, size, framework and status at a date, one per source claim."""
        query = decode(request, DeploymentQuery)
        filters = await query.filters(
            request, status=query.status, **in_role("sender_id", query.sender)
        )
        return await _list(request, FactKind.DEPLOYMENT, filters, query.limit, query.cursor)

    @get("/{fact_id:str}", operation_id="GetDeployment", summary="Get a troop deployment")
    async def get_deployment(
        self, request: Request[Any, Any, Any], fact_id: PathId
    ) -> Response[schemas.Deployment]:
        """One deployment with its citations."""
        return await _detail(request, FactKind.DEPLOYMENT, fact_id, "deployment")


class ArrestController(Controller):
    path = "/v1/arrests"
    tags = ["facts"]

    @get("/", operation_id="ListArrests", summary="List arrests", **takes(ArrestQuery))
    async def list_arrests(
        self, request: Request[Any, Any, Any]
    ) -> Response[schemas.Page[schemas.Arrest]]:
        """Named arrests with charge and legal basis, and mass-arrest counts with their scope."""
        query = decode(request, ArrestQuery)
        filters = await query.filters(request, confirmed=query.confirmed)
        return await _list(request, FactKind.ARREST, filters, query.limit, query.cursor)

    @get("/{fact_id:str}", operation_id="GetArrest", summary="Get an arrest")
    async def get_arrest(
        self, request: Request[Any, Any, Any], fact_id: PathId
    ) -> Response[schemas.Arrest]:
        """One arrest with its citations."""
        return await _detail(request, FactKind.ARREST, fact_id, "arrest")


@get(
    "/v1/timeline",
    operation_id="GetTimeline",
    summary="Timeline of dated facts",
    tags=["facts"],
    **takes(TimelineQuery),
)
async def get_timeline(request: Request[Any, Any, Any]) -> Response[schemas.Page[schemas.AnyFact]]:
    """Every dated fact of every kind in date order (then id); each item says its `kind`.
    A fact its source does not date is left out unless `undated=true`."""
    query = decode(request, TimelineQuery)
    filters = await query.filters(request)
    kinds = tuple(sorted(set(query.kind))) if query.kind else tuple(FactKind)
    stored = await fetch(
        request, queries.timeline, filters, kinds, query.limit, query.cursor, query.undated
    )
    await check_named(request, stored.value.items, query.cursor, **named_ids(filters))
    return paged(request, stored.value, stored.etag)
