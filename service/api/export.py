"""Exports: `GET /v1/export/<list>.csv` and `.ndjson`, the whole filtered set of a list in
one streamed answer, and the data package that describes the CSVs.

The suffix says the format; an `Accept` header that refuses it (or, on any other /v1 path,
refuses JSON) gets 406 naming what the path serves."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import replace
from typing import Annotated, Any

import anyio
import psycopg
from litestar import Request, get
from litestar.background_tasks import BackgroundTask
from litestar.handlers import HTTPRouteHandler
from litestar.params import Parameter
from litestar.response import Stream

from service import queries
from service.api import zipping
from service.api.asgi import header_value
from service.api.existing import check_ids, named_ids
from service.api.negotiation import EXPORTS, refuses, served
from service.api.paging import fetch
from service.api.params import (
    FILTER_DEPENDENCIES,
    ActorKindFilter,
    ActorName,
    CategoryFilter,
    ChannelFilter,
    ConfirmedFilter,
    CrisisId,
    Filters,
    LanguageFilter,
    ModeFilter,
    QuantityKey,
    SenderId,
    SpeakerId,
    StatusFilter,
    Undated,
    VictimGroupFilter,
    in_role,
)
from service.api.readers import Include, visibility
from service.errors import InvalidParam, Problem
from service.export import listings, package, reading
from service.export.formats import FORMATS, Csv, Ndjson
from service.export.listings import Listing
from service.vocabulary import (
    FactKind,
)


def _paths(name: str) -> list[str]:
    return [f"{EXPORTS}{name}.{suffix}" for suffix in FORMATS]


def operation_id(handler: Any, method: Any, components: list[Any]) -> str:
    """`/v1/export/casualties.csv` -> ExportCasualtiesCsv: one handler, an id per format."""
    last = [c for c in components if isinstance(c, str)][-1].rsplit("/", 1)[-1]
    name, suffix = last.split(".")
    return f"Export{name.capitalize()}{suffix.capitalize()}"


LIST_EXPORTS = {
    "/v1/statements": "statements",
    "/v1/casualties": "casualties",
    "/v1/deployments": "deployments",
    "/v1/arrests": "arrests",
    "/v1/timeline": "timeline",
    "/v1/actors": "actors",
    "/v1/sources": "sources",
    "/v1/disputes": "disputes",
}
"""Each JSON list and the name of its export."""


async def negotiate(request: Request[Any, Any, Any]) -> None:
    """A before_request hook: 406 when `Accept` refuses what the path serves."""
    path = request.scope["path"]
    if not refuses(path, header_value(request.scope, b"accept")):
        return
    serves = f"this path serves: {served(path)}"
    export = LIST_EXPORTS.get(path.rstrip("/"))
    if export is not None:
        serves += "; the whole list as " + " or ".join(_paths(export))
    raise Problem(
        406,
        f"The Accept header allows none of the media types {serves}.",
        kind="not-acceptable",
        invalid=[InvalidParam("Accept", serves)],
    )


class ExportBody:
    """The chunks of one export, read on a connection of its own inside one transaction;
    `close` gives the connection back at once, also when the client left mid-stream."""

    def __init__(
        self, request: Request[Any, Any, Any], conn: Any, listing: Listing, version: Any
    ) -> None:
        self.pool = request.app.state.export_pool
        self.conn: Any = conn
        encoder = FORMATS[request.scope["path"].rsplit(".", 1)[1]]
        self.encoder: Csv | Ndjson = encoder(listing)
        self.listing = listing
        self.version = version
        self.chunks = self._chunks()

    async def _chunks(self) -> AsyncGenerator[bytes, None]:
        try:
            encoder, listing = self.encoder, self.listing
            yield encoder.header()
            query = listing.query(encoder.item)
            async for batch in reading.batches(self.conn, query, listing.params):
                if encoder.in_python:
                    # in a thread: encoding a batch takes long enough to hold up the worker's
                    # other requests (bench/RESULTS.md, exports)
                    yield await anyio.to_thread.run_sync(encoder.rows, batch)
                else:
                    yield encoder.rows(batch)  # joined: the rows came made
            yield encoder.end(self.version.number)
        finally:
            await self.release()

    async def release(self) -> None:
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            await reading.end(conn)
        except psycopg.Error:
            pass  # the pool discards a connection left in a bad state
        await self.pool.putconn(conn)

    async def close(self) -> None:
        await self.chunks.aclose()
        await self.release()  # a stream never started


async def stream(
    request: Request[Any, Any, Any], listing: Listing, named: dict[str, str | None]
) -> Stream:
    """The export of `listing` in the format the path's suffix names. The ids its filters
    name (parameter -> id) are checked and the transaction opens before the answer starts,
    so an unknown id is still a 404 problem, an unreachable database a 503."""
    await check_ids(request, **named)
    pool = request.app.state.export_pool
    conn = await pool.getconn()
    try:
        version = await reading.begin(conn)
    except BaseException:
        await pool.putconn(conn)
        raise
    body = ExportBody(request, conn, listing, version)
    name = request.scope["path"].rsplit("/", 1)[1]
    headers = {"Cache-Control": "no-store", "X-Dataset-Version": str(version.number or 0)}
    if isinstance(body.encoder, Csv):
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return Stream(
        body.chunks,
        media_type=body.encoder.media_type,
        headers=headers,
        background=BackgroundTask(body.close),
    )


def exported(name: str, summary: str, fact_filters: bool = True) -> HTTPRouteHandler:
    """The GET of a list's export, one path per format, each its own operation."""
    return get(
        _paths(name),
        summary=summary,
        tags=["export"],
        operation_id=operation_id,
        opt={"streamed": True},
        middleware=[zipping.STREAMING],
        dependencies=FILTER_DEPENDENCIES if fact_filters else None,
    )


@exported("statements", "Export statements")
async def export_statements(
    request: Request[Any, Any, Any],
    filters: Filters,
    mode: ModeFilter = None,
    channel: ChannelFilter = None,
    speaker: SpeakerId = None,
) -> Stream:
    """Every statement the filters let through, as `ListStatements` filters them."""
    kind_filters = {"mode": mode, "channel": channel, **in_role("speaker_id", speaker)}
    narrowed = replace(filters, kind_filters=kind_filters)
    listing = listings.facts("statements", FactKind.STATEMENT, narrowed)
    return await stream(request, listing, named_ids(narrowed))


@exported("casualties", "Export casualty figures")
async def export_casualties(
    request: Request[Any, Any, Any],
    filters: Filters,
    category: CategoryFilter = None,
    victim_group: VictimGroupFilter = None,
) -> Stream:
    """Every casualty figure the filters let through, as `ListCasualties` filters them."""
    narrowed = replace(filters, kind_filters={"category": category, "victim_group": victim_group})
    listing = listings.facts("casualties", FactKind.CASUALTY, narrowed)
    return await stream(request, listing, named_ids(narrowed))


@exported("deployments", "Export troop deployments")
async def export_deployments(
    request: Request[Any, Any, Any],
    filters: Filters,
    status: StatusFilter = None,
    sender: SenderId = None,
) -> Stream:
    """Every deployment the filters let through, as `ListDeployments` filters them."""
    narrowed = replace(filters, kind_filters={"status": status, **in_role("sender_id", sender)})
    listing = listings.facts("deployments", FactKind.DEPLOYMENT, narrowed)
    return await stream(request, listing, named_ids(narrowed))


@exported("arrests", "Export arrests")
async def export_arrests(
    request: Request[Any, Any, Any],
    filters: Filters,
    confirmed: ConfirmedFilter = None,
) -> Stream:
    """Every arrest the filters let through, as `ListArrests` filters them."""
    narrowed = replace(filters, kind_filters={"confirmed": confirmed})
    listing = listings.facts("arrests", FactKind.ARREST, narrowed)
    return await stream(request, listing, named_ids(narrowed))


@exported("timeline", "Export the timeline")
async def export_timeline(
    request: Request[Any, Any, Any],
    filters: Filters,
    kind: Annotated[
        list[FactKind] | None,
        Parameter(description="Only these kinds of fact (repeat the parameter for several)."),
    ] = None,
    undated: Undated = False,
) -> Stream:
    """Every dated fact in date order, as `GetTimeline` filters them (undated ones too,
    placed, with `undated=true`); a kind's own columns are empty on the other kinds' rows."""
    kinds = tuple(sorted(set(kind))) if kind else tuple(FactKind)
    return await stream(request, listings.timeline(filters, kinds, undated), named_ids(filters))


@exported("actors", "Export actors", fact_filters=False)
async def export_actors(
    request: Request[Any, Any, Any],
    crisis: CrisisId = None,
    kind: ActorKindFilter = None,
    name: ActorName = None,
) -> Stream:
    """Every actor the filters let through, as `ListActors` filters them, each counting
    the facts its reader's lists show."""
    listing = listings.actors(crisis, kind, name, await visibility(request, None))
    return await stream(request, listing, {"crisis": crisis})


@exported("sources", "Export sources", fact_filters=False)
async def export_sources(
    request: Request[Any, Any, Any], crisis: CrisisId = None, language: LanguageFilter = None
) -> Stream:
    """Every article (without its text) the filters let through, as `ListSources` does."""
    return await stream(request, listings.sources(crisis, language), {"crisis": crisis})


@exported("disputes", "Export disputed quantities", fact_filters=False)
async def export_disputes(
    request: Request[Any, Any, Any],
    crisis: CrisisId = None,
    kind: Annotated[
        FactKind | None, Parameter(description="Only quantities measured by facts of this kind.")
    ] = None,
    key: QuantityKey = None,
    include: Include = None,
) -> Stream:
    """Every disputed quantity the filters let through, as `ListDisputes` filters them."""
    seen = await visibility(request, include)
    return await stream(request, listings.disputes(crisis, kind, key, seen), {"crisis": crisis})


@get(
    f"{EXPORTS}datapackage.json",
    operation_id="GetDataPackage",
    summary="The data package of the CSV exports",
    tags=["export"],
)
async def get_datapackage(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """A Frictionless Data Package: each CSV export (unfiltered) as a resource with its
    Table Schema, paths relative to this document. Its `version` is the dataset version
    it was read at: each CSV names its own in `X-Dataset-Version`, so a client that
    fetched them one by one can tell whether they are copies of one version."""
    version = await fetch(request, queries.dataset_version)
    return package.descriptor(version or 0)


HANDLERS = [
    export_statements,
    export_casualties,
    export_deployments,
    export_arrests,
    export_timeline,
    export_actors,
    export_sources,
    export_disputes,
    get_datapackage,
]
