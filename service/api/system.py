"""Liveness, readiness and the contract itself, for orchestrators, humans and code generators."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import JsonRenderPlugin

from service import queries, schemas
from service.api.auth import SECURITY, require_key
from service.errors import Problem
from service.migrations import head

# A probe's answer is about this instant: no cache may keep it.
NO_STORE = CacheControlHeader(no_store=True)


@get(
    "/health",
    operation_id="GetHealth",
    summary="Liveness",
    tags=["system"],
    cache_control=NO_STORE,
)
async def health() -> schemas.Health:
    """Answers while the process lives; says nothing of the database."""
    return schemas.Health(status="ok")


@get(
    "/ready", operation_id="GetReady", summary="Readiness", tags=["system"], cache_control=NO_STORE
)
async def ready(request: Request[Any, Any, Any]) -> schemas.Ready:
    """200 only when the database answers and its schema is at the code's migration head;
    with standbys, also where this worker's reads go and why."""
    pool = request.app.state.pool
    expected = head()
    async with pool.connection() as conn:
        revision = await queries.schema_revision(conn)
        version = await queries.dataset_version(conn) if revision == expected else None
    if revision != expected:
        raise Problem(
            503,
            f"Database schema is at {revision or 'no revision'}, expected "
            f"{expected}; run `crisis-facts migrate`.",
            kind="not-migrated",
            headers={"Retry-After": "5"},
        )
    reads = request.app.state.get("reads")
    if reads is None:
        return schemas.Ready(status="ready", revision=expected, dataset_version=version)
    return schemas.Ready(
        status="ready",
        revision=expected,
        dataset_version=version,
        floor=reads.floor,
        standbys=reads.standing(),
    )


@get(
    "/openapi.json",
    include_in_schema=False,
    media_type="application/vnd.oai.openapi+json",
    sync_to_thread=False,
)
def openapi_document(request: Request[Any, Any, Any]) -> bytes:
    """The contract, exactly as `crisis-facts openapi` writes openapi/v1.json."""
    return JsonRenderPlugin.render_json(request, request.app.openapi_schema.to_schema())


@get(
    "/v1/me",
    operation_id="GetCurrentKey",
    summary="The API key of this request",
    tags=["system"],
    guards=[require_key],
    security=SECURITY,
    cache=False,
)
async def current_key(request: Request[Any, Any, Any]) -> schemas.Key:
    """Which key the request's bearer token is, and its role: a client checks its token
    here before it writes."""
    key = request.state.key
    return schemas.Key(name=key.name, role=key.role)
