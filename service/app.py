"""create_app(settings) -> Litestar: the one way in. Nothing happens at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar, Request
from litestar.config.compression import CompressionConfig
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Tag
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from service import __version__
from service.api import facts, resources, system
from service.api.caching import CachingMiddleware
from service.api.params import document_problems
from service.database import libpq_url, server_url
from service.errors import EXCEPTION_HANDLERS
from service.settings import Settings

API_DESCRIPTION = """\
Curated, structured facts about crises — actors, statements, casualty figures, troop
deployments and arrests — each traceable to the exact words of the article it came from.

* Every fact embeds its `citations`: `quote` equals `text[start:end]` of the source
  (`GET /v1/sources/{id}`), offsets counted in Unicode code points.
* Figures that sources disagree on are never merged: each source's claim is its own fact,
  and `GET /v1/disputes` shows them side by side.
* Lists are keyset-paginated: follow `next_cursor` (or the `Link: rel="next"` header).
* Errors are `application/problem+json` (RFC 9457).
* Answers carry a strong `ETag`; send it back in `If-None-Match` for a `304`.
"""

TAGS = [
    Tag(name="facts", description="Statements, casualty figures, deployments, arrests."),
    Tag(name="disputes", description="Quantities that sources report differently."),
    Tag(name="crises", description="The crises the service holds."),
    Tag(name="sources", description="The articles facts are drawn from, with full text."),
    Tag(name="actors", description="People, organizations, states and groups."),
    Tag(name="search", description="Full-text search."),
    Tag(name="system", description="Health and readiness."),
]


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="crisis-facts",
        version=__version__,
        description=API_DESCRIPTION,
        tags=TAGS,
        path="/",
        render_plugins=[JsonRenderPlugin(path="/openapi.json"), SwaggerRenderPlugin(path="/docs")],
        use_handler_docstrings=True,
    )


def make_pool(settings: Settings, url: str) -> AsyncConnectionPool[AsyncConnection[Any]]:
    """Autocommit read connections, each query bounded by statement_timeout."""
    return AsyncConnectionPool(
        libpq_url(url),
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        timeout=settings.pool_timeout,
        open=False,
        kwargs={
            "autocommit": True,
            "connect_timeout": max(1, int(settings.pool_timeout)),
            "options": f"-c statement_timeout={settings.statement_timeout_ms}",
            "application_name": "crisis-facts",
        },
        check=AsyncConnectionPool.check_connection,
    )


async def provide_conn(state: State) -> AsyncIterator[AsyncConnection[Any]]:
    async with state.pool.connection() as conn:
        yield conn


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()

    async def open_pool(app: Litestar) -> None:
        pool = make_pool(settings, server_url(settings))
        await pool.open(wait=False)
        app.state.pool = pool

    async def close_pool(app: Litestar) -> None:
        await app.state.pool.close()

    route_handlers: list[Any] = [
        facts.StatementController,
        facts.CasualtyController,
        facts.DeploymentController,
        facts.ArrestController,
        facts.get_timeline,
        resources.list_crises,
        resources.get_crisis,
        resources.list_sources,
        resources.get_source,
        resources.list_actors,
        resources.get_actor,
        resources.list_disputes,
        resources.search,
        system.health,
        system.ready,
    ]
    app = Litestar(
        route_handlers=route_handlers,
        dependencies={"conn": Provide(provide_conn)},
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        on_startup=[open_pool],
        on_shutdown=[close_pool],
        openapi_config=openapi_config(),
        compression_config=CompressionConfig(backend="gzip", minimum_size=1024),
        cors_config=CORSConfig(
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "HEAD", "OPTIONS"],
            allow_headers=["If-None-Match"],
            expose_headers=["ETag", "Link"],
            allow_credentials=False,
        )
        if settings.cors_origins
        else None,
        middleware=[CachingMiddleware.define(settings)],
        state=State({"settings": settings}),
        debug=False,
    )
    document_problems(app)
    return app


def request_settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings
