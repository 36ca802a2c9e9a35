"""The docs page's Swagger UI files, served by the service itself from the pinned
`swagger-ui-py` package, so /docs works on a machine without the internet."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

ASSETS_PATH = "/assets/swagger-ui"
ASSETS = ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css")
ICON = "favicon-32x32.png"
"""The page's icon, from the same release (Litestar's default is fetched from a CDN)."""


def assets_folder() -> Path:
    return Path(str(files("swagger_ui") / "static"))


def swagger_plugin() -> SwaggerRenderPlugin:
    """The docs page, reading its scripts and styles from ASSETS_PATH rather than a CDN."""
    js, preset, css = (f"{ASSETS_PATH}/{name}" for name in ASSETS)
    icon = f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/{ICON}'>"
    return SwaggerRenderPlugin(
        path="/", js_url=js, standalone_preset_js_url=preset, css_url=css, favicon=icon
    )


def assets_router() -> Router:
    """The files of the Swagger UI release the package ships; a week of caching, since a
    new release comes only with a new pin."""
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[assets_folder()],
        include_in_schema=False,
        cache_control=CacheControlHeader(public=True, max_age=7 * 24 * 3600),
        send_as_attachment=False,
    )
