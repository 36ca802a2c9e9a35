"""The four kinds of fact: statements, casualties, deployments, arrests; and the timeline."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.params import Parameter

from service import queries, schemas
from service.api.params import (
    ActorId,
    CrisisId,
    Cursor,
    Db,
    LanguageFilter,
    Limit,
    PathId,
    QuantityKey,
    Since,
    SourceId,
    Until,
    VerificationFilter,
    check_dates,
    cursor_problem,
    paged,
)
from service.errors import not_found
from service.queries import BadCursor, FactFilter
from service.vocabulary import (
    CasualtyCategory,
    Channel,
    DeploymentStatus,
    FactKind,
    StatementMode,
    VictimGroup,
)


async def _list(
    conn: Db,
    request: Request[Any, Any, Any],
    kind: FactKind,
    filters: FactFilter,
    limit: int,
    cursor: str | None,
) -> Response[Any]:
    check_dates(filters.since, filters.until)
    try:
        page = await queries.list_facts(conn, kind, filters, limit, cursor)
    except BadCursor as exc:
        raise cursor_problem(exc) from None
    return paged(request, page)


async def _detail(conn: Db, kind: FactKind, fact_id: str, what: str) -> Any:
    fact = await queries.get_fact(conn, kind, fact_id)
    if fact is None:
        raise not_found(what, fact_id)
    return fact


class StatementController(Controller):
    path = "/v1/statements"
    tags = ["facts"]

    @get("/", operation_id="ListStatements", summary="List statements")
    async def list_statements(
        self,
        conn: Db,
        request: Request[Any, Any, Any],
        crisis: CrisisId = None,
        actor: ActorId = None,
        source: SourceId = None,
        since: Since = None,
        until: Until = None,
        language: LanguageFilter = None,
        verification: VerificationFilter = None,
        key: QuantityKey = None,
        mode: Annotated[
            StatementMode | None, Parameter(description="Direct quotes or reported speech.")
        ] = None,
        channel: Annotated[
            Channel | None, Parameter(description="Only statements made this way.")
        ] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Response[schemas.Page[schemas.Statement]]:
        """Direct quotes and attributed reported speech, each with its speaker and citations."""
        filters = FactFilter(
            crisis=crisis,
            actor=actor,
            source=source,
            since=since,
            until=until,
            language=language,
            verification=verification,
            key=key,
            kind_filters={"mode": mode, "channel": channel},
        )
        return await _list(conn, request, FactKind.STATEMENT, filters, limit, cursor)

    @get("/{fact_id:str}", operation_id="GetStatement", summary="Get a statement")
    async def get_statement(self, conn: Db, fact_id: PathId) -> schemas.Statement:
        """One statement with its citations."""
        result: schemas.Statement = await _detail(conn, FactKind.STATEMENT, fact_id, "statement")
        return result


class CasualtyController(Controller):
    path = "/v1/casualties"
    tags = ["facts"]

    @get("/", operation_id="ListCasualties", summary="List casualty figures")
    async def list_casualties(
        self,
        conn: Db,
        request: Request[Any, Any, Any],
        crisis: CrisisId = None,
        actor: ActorId = None,
        source: SourceId = None,
        since: Since = None,
        until: Until = None,
        language: LanguageFilter = None,
        verification: VerificationFilter = None,
        key: QuantityKey = None,
        category: Annotated[
            CasualtyCategory | None, Parameter(description="Killed, injured or seriously injured.")
        ] = None,
        victim_group: Annotated[
            VictimGroup | None, Parameter(description="Who the victims were.")
        ] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Response[schemas.Page[schemas.Casualty]]:
        """Killed and injured figures, one per source claim, each hedged as its source hedges it."""
        filters = FactFilter(
            crisis=crisis,
            actor=actor,
            source=source,
            since=since,
            until=until,
            language=language,
            verification=verification,
            key=key,
            kind_filters={"category": category, "victim_group": victim_group},
        )
        return await _list(conn, request, FactKind.CASUALTY, filters, limit, cursor)

    @get("/{fact_id:str}", operation_id="GetCasualty", summary="Get a casualty figure")
    async def get_casualty(self, conn: Db, fact_id: PathId) -> schemas.Casualty:
        """One casualty figure with its citations."""
        result: schemas.Casualty = await _detail(conn, FactKind.CASUALTY, fact_id, "casualty")
        return result


class DeploymentController(Controller):
    path = "/v1/deployments"
    tags = ["facts"]

    @get("/", operation_id="ListDeployments", summary="List troop deployments")
    async def list_deployments(
        self,
        conn: Db,
        request: Request[Any, Any, Any],
        crisis: CrisisId = None,
        actor: ActorId = None,
        source: SourceId = None,
        since: Since = None,
        until: Until = None,
        language: LanguageFilter = None,
        verification: VerificationFilter = None,
        key: QuantityKey = None,
        status: Annotated[
            DeploymentStatus | None, Parameter(description="Requested, announced, approved ...")
        ] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Response[schemas.Page[schemas.Deployment]]:
        """Troop deployments: sender, size, framework and status at a date, one per source claim."""
        filters = FactFilter(
            crisis=crisis,
            actor=actor,
            source=source,
            since=since,
            until=until,
            language=language,
            verification=verification,
            key=key,
            kind_filters={"status": status},
        )
        return await _list(conn, request, FactKind.DEPLOYMENT, filters, limit, cursor)

    @get("/{fact_id:str}", operation_id="GetDeployment", summary="Get a troop deployment")
    async def get_deployment(self, conn: Db, fact_id: PathId) -> schemas.Deployment:
        """One deployment with its citations."""
        result: schemas.Deployment = await _detail(conn, FactKind.DEPLOYMENT, fact_id, "deployment")
        return result


class ArrestController(Controller):
    path = "/v1/arrests"
    tags = ["facts"]

    @get("/", operation_id="ListArrests", summary="List arrests")
    async def list_arrests(
        self,
        conn: Db,
        request: Request[Any, Any, Any],
        crisis: CrisisId = None,
        actor: ActorId = None,
        source: SourceId = None,
        since: Since = None,
        until: Until = None,
        language: LanguageFilter = None,
        verification: VerificationFilter = None,
        key: QuantityKey = None,
        confirmed: Annotated[
            bool | None,
            Parameter(
                description="Only arrests the source confirms (true) or "
                "says are unconfirmed (false)."
            ),
        ] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Response[schemas.Page[schemas.Arrest]]:
        """Named arrests with charge and legal basis, and mass-arrest counts with their scope."""
        filters = FactFilter(
            crisis=crisis,
            actor=actor,
            source=source,
            since=since,
            until=until,
            language=language,
            verification=verification,
            key=key,
            kind_filters={"confirmed": confirmed},
        )
        return await _list(conn, request, FactKind.ARREST, filters, limit, cursor)

    @get("/{fact_id:str}", operation_id="GetArrest", summary="Get an arrest")
    async def get_arrest(self, conn: Db, fact_id: PathId) -> schemas.Arrest:
        """One arrest with its citations."""
        result: schemas.Arrest = await _detail(conn, FactKind.ARREST, fact_id, "arrest")
        return result


@get("/v1/timeline", operation_id="GetTimeline", summary="Timeline of dated facts", tags=["facts"])
async def get_timeline(
    conn: Db,
    request: Request[Any, Any, Any],
    crisis: CrisisId = None,
    actor: ActorId = None,
    source: SourceId = None,
    since: Since = None,
    until: Until = None,
    language: LanguageFilter = None,
    verification: VerificationFilter = None,
    key: QuantityKey = None,
    kind: Annotated[
        list[FactKind] | None,
        Parameter(description="Only these kinds of fact (repeat the parameter for several)."),
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response[schemas.Page[schemas.AnyFact]]:
    """Every dated fact of every kind in date order (then id); each item says its `kind`."""
    check_dates(since, until)
    filters = FactFilter(
        crisis=crisis,
        actor=actor,
        source=source,
        since=since,
        until=until,
        language=language,
        verification=verification,
        key=key,
    )
    kinds = tuple(sorted(set(kind))) if kind else tuple(FactKind)
    try:
        page = await queries.timeline(conn, filters, kinds, limit, cursor)
    except BadCursor as exc:
        raise cursor_problem(exc) from None
    return paged(request, page)
