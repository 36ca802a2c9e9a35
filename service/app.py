"""create_app(settings) -> Litestar: the one way in. Nothing happens at import time."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
from litestar import Litestar, Request
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.exceptions import MethodNotAllowedException, NotFoundException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, Contact, License, Tag

from service import __version__
from service.api import (
    auth,
    changes,
    curation,
    docs,
    export,
    facts,
    guards,
    readers,
    resources,
    system,
    webhooks,
    writes,
)
from service.api.caching import Caching, ResponseCache
from service.api.contract import document
from service.api.limits import Failures
from service.api.params import strict_query
from service.counts import SharedCounts
from service.database import (
    follow_dataset,
    make_change_pool,
    make_export_pool,
    make_read_pool,
    make_write_pool,
    server_url,
)
from service.errors import EXCEPTION_HANDLERS
from service.pages import handlers as page_handlers
from service.pages import template_config
from service.replicas import Reads
from service.settings import Settings
from service.touched import Touched
from service.vocabulary import FactKind

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
    Tag(
        name="facts",
        description="Statements, casualty figures, deployments, arrests; curators write them "
        "with an API key, each change a revision of the fact's history.",
    ),
    Tag(name="disputes", description="Quantities that sources report differently."),
    Tag(name="crises", description="The crises the service holds."),
    Tag(name="sources", description="The articles facts are drawn from, with full text."),
    Tag(name="actors", description="People, organizations, states and groups."),
    Tag(name="search", description="Full-text search."),
    Tag(name="export", description="Whole lists as CSV or NDJSON, and their data package."),
    Tag(name="changes", description="Every change to every record, in commit order."),
    Tag(name="webhooks", description="Signed pushes of every change (admin keys)."),
    Tag(name="system", description="Health, readiness, and the API key a client holds."),
]


CONTACT = Contact(name="The crisis-facts project")
LICENSE = License(
    name="No licence granted; the articles' texts remain their publishers'",
    identifier="LicenseRef-No-Licence-Granted",
)
"""Who answers for the contract and on what terms, as they stand: the project has no
public address and has chosen no licence for its code or curated data, so none is
claimed; the articles it quotes are not its own to license."""


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="crisis-facts",
        version=__version__,
        description=API_DESCRIPTION,
        tags=TAGS,
        # Litestar answers every unknown path under its docs router with an HTML 404, so the
        # router lives under /docs; system.openapi_document serves /openapi.json.
        path="/docs",
        render_plugins=[docs.swagger_plugin(), JsonRenderPlugin(path="/openapi.json")],
        use_handler_docstrings=True,
        components=Components(security_schemes=auth.SECURITY_SCHEMES),
        contact=CONTACT,
        license=LICENSE,
    )


def before_request(*hooks: Callable[[Request[Any, Any, Any]], Awaitable[None]]) -> Any:
    """One before_request hook that runs `hooks` in order (Litestar takes one)."""

    async def run(request: Request[Any, Any, Any]) -> None:
        for hook in hooks:
            await hook(request)

    return run


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()

    cache = ResponseCache(settings.answer_cache_entries, settings.answer_cache_mb * 2**20)
    news = changes.News()
    counts = SharedCounts(settings)

    def follow(live: bool, version: int | None, touched: Touched | None = None) -> None:
        cache.follow(live, version, touched)
        news.follow(live, version)

    # With standbys, the version answers are read at moves the cache and the waiters, not
    # the primary's notifications, which come before a standby has replayed the change.
    reads = Reads(settings, follow) if settings.database_read_urls else None

    async def open_pool(app: Litestar) -> None:
        url = server_url(settings)
        pool = make_read_pool(settings, url)
        await pool.open(wait=False)
        app.state.pool = pool
        app.state.write_pool = make_write_pool(settings, url)
        await app.state.write_pool.open(wait=False)
        app.state.export_pool = make_export_pool(settings, url)
        await app.state.export_pool.open(wait=False)
        await counts.open(url)
        app.state.auth_failures = Failures(settings.auth_failures_per_minute, counts)
        app.state.change_pool = make_change_pool(settings, url)  # opened by the first write
        app.state.answer_cache = cache
        if reads is None:
            app.state.listener = asyncio.create_task(follow_dataset(url, follow, pool))
        else:
            await reads.open(url, pool)
            app.state.reads = reads
        # Everything built so far lives as long as the worker: keep it out of the garbage
        # collector's full passes, which otherwise walk it again and again under load.
        gc.freeze()

    async def close_pool(app: Litestar) -> None:
        listener = app.state.get("listener")
        if listener is not None:
            listener.cancel()
            await asyncio.wait([listener], timeout=2)  # shutdown never waits on the database
        if reads is not None:
            await reads.close()
        cache.report()
        await app.state.pool.close()
        await app.state.write_pool.close()
        await app.state.export_pool.close()
        await anyio.to_thread.run_sync(app.state.change_pool.close)
        await counts.close()

    route_handlers: list[Any] = [
        writes.with_writes(facts.StatementController, FactKind.STATEMENT),
        writes.with_writes(facts.CasualtyController, FactKind.CASUALTY),
        writes.with_writes(facts.DeploymentController, FactKind.DEPLOYMENT),
        writes.with_writes(facts.ArrestController, FactKind.ARREST),
        facts.get_timeline,
        resources.list_crises,
        resources.get_crisis,
        resources.list_sources,
        resources.get_source,
        resources.list_actors,
        resources.get_actor,
        resources.list_disputes,
        resources.search,
        *curation.HANDLERS,
        *export.HANDLERS,
        changes.list_changes,
        webhooks.WebhookController,
        system.health,
        system.ready,
        system.openapi_document,
        system.current_key,
        docs.assets_router(),
        *page_handlers(),
    ]
    guard = guards.GuardMiddleware(settings, Caching.of(settings, cache, reads), counts)
    # Litestar answers 404 and 405 before any middleware runs: the guard answers them too.
    # (CORS preflights, answered before routing too, go unguarded: they carry no data.)
    exception_handlers: dict[int | type[Exception], Any] = {
        **EXCEPTION_HANDLERS,
        NotFoundException: guard.unrouted,
        MethodNotAllowedException: guard.unrouted,
    }
    app = Litestar(
        route_handlers=route_handlers,
        exception_handlers=exception_handlers,
        before_send=[
            guards.security_headers,
            writes.allow_every_method,
            *([reads.remember_write] if reads is not None else []),
        ],
        before_request=before_request(strict_query(), export.negotiate, readers.refuse_invalid_key),
        on_startup=[open_pool],
        on_shutdown=[close_pool],
        openapi_config=openapi_config(),
        template_config=template_config(),
        cors_config=CORSConfig(
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "HEAD", "OPTIONS"],
            allow_headers=["If-None-Match"],
            expose_headers=["ETag", "Link"],
            allow_credentials=False,
        )
        if settings.cors_origins
        else None,
        middleware=[guard],
        state=State({"settings": settings, "news": news, "reads": reads}),
        debug=False,
    )
    document(app)
    return app


def create_served_app() -> Any:
    """What `serve` runs: create_app, behind granian's proxy-headers wrapper when
    TRUSTED_PROXIES names the balancers, so that each client is itself, not its balancer."""
    settings = Settings.from_env()
    app = create_app(settings)
    if not settings.trusted_proxies:
        return app
    from granian.utils.proxies import wrap_asgi_with_proxy_headers

    return wrap_asgi_with_proxy_headers(app, list(settings.trusted_proxies))
