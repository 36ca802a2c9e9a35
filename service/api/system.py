"""Liveness and readiness, for orchestrators and humans."""

from __future__ import annotations

from typing import Any

from litestar import Request, get

from service import queries, schemas
from service.errors import Problem
from service.migrations import head


@get("/health", operation_id="GetHealth", summary="Liveness", tags=["system"], cache_control=None)
async def health() -> schemas.Health:
    """Answers while the process lives; says nothing of the database."""
    return schemas.Health(status="ok")


@get("/ready", operation_id="GetReady", summary="Readiness", tags=["system"])
async def ready(request: Request[Any, Any, Any]) -> schemas.Ready:
    """200 only when the database answers and its schema is at the code's migration head."""
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
    return schemas.Ready(status="ready", revision=expected, dataset_version=version)
