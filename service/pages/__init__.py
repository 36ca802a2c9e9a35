"""Pages for readers: server-rendered HTML (Jinja through Litestar's templates, no build
step, no script), read through service.queries like the API, and oEmbed for a figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from service.pages import oembed, reading, routes, views

HERE = Path(__file__).parent
ASSETS_PATH = "/assets/page"


def _globals(engine: JinjaTemplateEngine) -> None:
    engine.engine.globals.update(date_text=views.date_text, page_items=reading.PAGE_ITEMS)


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(
        directory=HERE / "templates", engine=JinjaTemplateEngine, engine_callback=_globals
    )


def assets_router() -> Router:
    """The page's stylesheet; a day of caching."""
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[HERE / "static"],
        include_in_schema=False,
        cache_control=CacheControlHeader(public=True, max_age=24 * 3600),
        send_as_attachment=False,
    )


def handlers() -> list[Any]:
    return [
        routes.home,
        routes.crisis_page,
        routes.dispute_page,
        routes.dispute_embed,
        oembed.oembed,
        assets_router(),
    ]
