"""The four kinds of fact: statements, casualties, deployments, arrests; and the timeline."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.params import Parameter

from service import queries, schemas
from service.api.existing import check_named
from service.api.params import (
    FILTER_DEPENDENCIES,
    CategoryFilter,
    ChannelFilter,
    ConfirmedFilter,
    Cursor,
    Filters,
    Limit,
    ModeFilter,
    PathId,
    SenderId,
    SpeakerId,
    StatusFilter,
    Undated,
    VictimGroupFilter,
    fetch,
    in_role,
    paged,
)
from service.api.readers import sees_drafts
from service.errors import gone, not_found
from service.queries import FactFilter
from service.vocabulary import (
    FactKind,
)


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
    dependencies = FILTER_DEPENDENCIES

    @get("/", operation_id="ListStatements", summary="List statements")
    async def list_statements(
        self,
        request: Request[Any, Any, Any],
        filters: Filters,
        mode: ModeFilter = None,
        channel: ChannelFilter = None,
        limit: Limit = 50,
        cursor: Cursor = None,
        speaker: SpeakerId = None,
    ) -> Response[schemas.Page[schemas.Statement]]:
        """Direct quotes and attributed reported speech, each with its speaker and citations."""
        kind_filters = {"mode": mode, "channel": channel, **in_role("speaker_id", speaker)}
        narrowed = replace(filters, kind_filters=kind_filters)
        return await _list(request, FactKind.STATEMENT, narrowed, limit, cursor)

    @get("/{fact_id:str}", operation_id="GetStatement", summary="Get a statement")
    async def get_statement(
        self, request: Request[Any, Any, Any], fact_id: PathId
    ) -> Response[schemas.Statement]:
        """One statement with its citations."""
        return await _detail(request, FactKind.STATEMENT, fact_id, "statement")


class CasualtyController(Controller):
    path = "/v1/casualties"
    tags = ["facts"]
    dependencies = FILTER_DEPENDENCIES

    @get("/", operation_id="ListCasualties", summary="List casualty figures")
    async def list_casualties(
        self,
        request: Request[Any, Any, Any],
        filters: Filters,
        category: CategoryFilter = None,
        victim_group: VictimGroupFilter = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Response[schemas.Page[schemas.Casualty]]:
        """Killed and injured figures, one per source claim, each hedged as its source hedges it."""
        narrowed = replace(
            filters, kind_filters={"category": category, "victim_group": victim_group}
        )
        return await _list(request, FactKind.CASUALTY, narrowed, limit, cursor)

    @get("/{fact_id:str}", operation_id="GetCasualty", summary="Get a casualty figure")
    async def get_casualty(
        self, request: Request[Any, Any, Any], fact_id: PathId
    ) -> Response[schemas.Casualty]:
        """One casualty figure with its citations."""
        return await _detail(request, FactKind.CASUALTY, fact_id, "casualty")


class DeploymentController(Controller):
    path = "/v1/deployments"
    tags = ["facts"]
    dependencies = FILTER_DEPENDENCIES

    @get("/", operation_id="ListDeployments", summary="List troop deployments")
    async def list_deployments(
        self,
        request: Request[Any, Any, Any],
        filters: Filters,
        status: StatusFilter = None,
        limit: Limit = 50,
        cursor: Cursor = None,
        sender: SenderId = None,
    ) -> Response[schemas.Page[schemas.Deployment]]:
        """Troop deployments: sender, size, framework and status at a date, one per source claim."""
        narrowed = replace(filters, kind_filters={"status": status, **in_role("sender_id", sender)})
        return await _list(request, FactKind.DEPLOYMENT, narrowed, limit, cursor)

    @get("/{fact_id:str}", operation_id="GetDeployment", summary="Get a troop deployment")
    async def get_deployment(
        self, request: Request[Any, Any, Any], fact_id: PathId
    ) -> Response[schemas.Deployment]:
        """One deployment with its citations."""
        return await _detail(request, FactKind.DEPLOYMENT, fact_id, "deployment")


class ArrestController(Controller):
    path = "/v1/arrests"
    tags = ["facts"]
    dependencies = FILTER_DEPENDENCIES

    @get("/", operation_id="ListArrests", summary="List arrests")
    async def list_arrests(
        self,
        request: Request[Any, Any, Any],
        filters: Filters,
        confirmed: ConfirmedFilter = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Response[schemas.Page[schemas.Arrest]]:
        """Named arrests with charge and legal basis, and mass-arrest counts with their scope."""
        narrowed = replace(filters, kind_filters={"confirmed": confirmed})
        return await _list(request, FactKind.ARREST, narrowed, limit, cursor)

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
    dependencies=FILTER_DEPENDENCIES,
)
async def get_timeline(
    request: Request[Any, Any, Any],
    filters: Filters,
    kind: Annotated[
        list[FactKind] | None,
        Parameter(description="Only these kinds of fact (repeat the parameter for several)."),
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    undated: Undated = False,
) -> Response[schemas.Page[schemas.AnyFact]]:
    """Every dated fact of every kind in date order (then id); each item says its `kind`.
    A fact its source does not date is left out unless `undated=true`."""
    kinds = tuple(sorted(set(kind))) if kind else tuple(FactKind)
    stored = await fetch(request, queries.timeline, filters, kinds, limit, cursor, undated)
    await check_named(request, stored.value.items, cursor, **named_ids(filters))
    return paged(request, stored.value, stored.etag)
