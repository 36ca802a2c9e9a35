"""The pages a reader opens in a browser: the landing page (a crisis at a glance), a
crisis's page, one disputed figure's page and its embeddable frame. Outside the /v1
contract: a page ignores query parameters (shared links carry `utm_*` and the like)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.params import FromPath
from litestar.response import Template
from markupsafe import escape

from service import __version__, schemas
from service.api.params import fetch
from service.errors import Problem
from service.pages import reading

HTML = "text/html"
JSON = "application/json"
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
"""No script at all, styles from this origin only; no site may frame a page..."""
EMBED_CSP = PAGE_CSP.replace("frame-ancestors 'none'", "frame-ancestors *")
"""...but the embed of a disputed figure, which any site may frame."""

EMBED_WIDTH, EMBED_HEIGHT = 560, 420


def wants_html(request: Request[Any, Any, Any]) -> bool:
    """A browser (its Accept prefers text/html); curl's `*/*`, no Accept or JSON is an API
    client; so is one whose Accept cannot be read (`q=1e999`)."""
    try:
        return request.accept.best_match([JSON, HTML], default=JSON) == HTML
    except (ValueError, OverflowError):
        return False


def base_url(request: Request[Any, Any, Any]) -> str:
    return str(request.base_url).rstrip("/")


def page(
    request: Request[Any, Any, Any],
    name: str,
    context: dict[str, Any],
    status: int = 200,
    csp: str = PAGE_CSP,
) -> Template:
    """A page with its policy; `Vary: Accept` since its URL also answers API clients."""
    return Template(
        template_name=name,
        context={"base": base_url(request), **context},
        status_code=status,
        media_type=HTML,
        headers={"Content-Security-Policy": csp, "Vary": "Accept, Accept-Encoding"},
    )


def missing(request: Request[Any, Any, Any], detail: str) -> Template:
    """A 404: a page saying so to a browser, problem+json to an API client."""
    if not wants_html(request):
        raise Problem(404, detail, kind="not-found")
    return page(request, "not_found.html.j2", {"detail": detail}, status=404)


def home_links() -> schemas.Home:
    return schemas.Home(
        name="crisis-facts",
        version=__version__,
        links={
            "crises": "/v1/crises",
            "disputes": "/v1/disputes",
            "timeline": "/v1/timeline",
            "search": "/v1/search?q={words}",
            "openapi": "/openapi.json",
            "docs": "/docs",
        },
    )


@get("/", include_in_schema=False)
async def home(request: Request[Any, Any, Any]) -> Template | Response[schemas.Home]:
    """The latest crisis at a glance for a browser; the API's entry points for JSON."""
    if not wants_html(request):
        return Response(home_links(), headers={"Vary": "Accept, Accept-Encoding"})
    featured, crises = await fetch(request, reading.featured)
    glance = None if featured is None else await fetch(request, reading.glance, featured)
    others = [c for c in crises if c.id != featured]
    return page(request, "crisis.html.j2", {"glance": glance, "others": others, "home": True})


@get("/crises/{crisis_id:str}", include_in_schema=False)
async def crisis_page(request: Request[Any, Any, Any], crisis_id: FromPath[str]) -> Template:
    """One crisis at a glance, at a URL of its own."""
    glance = await fetch(request, reading.glance, crisis_id)
    if glance is None:
        return missing(request, f"No crisis with id {crisis_id!r}.")
    return page(request, "crisis.html.j2", {"glance": glance, "others": [], "home": False})


@get("/crises/{crisis_id:str}/disputes/{key:str}", include_in_schema=False)
async def dispute_page(
    request: Request[Any, Any, Any], crisis_id: FromPath[str], key: FromPath[str]
) -> Template:
    """One disputed figure: each source's figure and words, and how to embed it."""
    dispute = await fetch(request, reading.dispute, crisis_id, key)
    if dispute is None:
        return missing(request, f"No disputed figure {key!r} in crisis {crisis_id!r}.")
    base = base_url(request)
    return page(
        request,
        "dispute.html.j2",
        {
            "dispute": dispute,
            "iframe": iframe(base, dispute.path, dispute.label, EMBED_WIDTH, EMBED_HEIGHT),
            "oembed": oembed_url(base, dispute.path),
        },
    )


@get("/crises/{crisis_id:str}/disputes/{key:str}/embed", include_in_schema=False)
async def dispute_embed(
    request: Request[Any, Any, Any], crisis_id: FromPath[str], key: FromPath[str]
) -> Template:
    """The disputed figure alone, for an iframe on another site."""
    dispute = await fetch(request, reading.dispute, crisis_id, key)
    if dispute is None:
        return missing(request, f"No disputed figure {key!r} in crisis {crisis_id!r}.")
    return page(request, "embed.html.j2", {"dispute": dispute}, csp=EMBED_CSP)


def iframe(base: str, path: str, title: str, width: int, height: int) -> str:
    """The snippet another site pastes to show a disputed figure."""
    return (
        f'<iframe src="{escape(base + path + "/embed")}" width="{width}" height="{height}" '
        f'title="{escape(title)} — sources disagree" loading="lazy" '
        'style="border:1px solid #767676" referrerpolicy="no-referrer"></iframe>'
    )


def oembed_url(base: str, path: str) -> str:
    return f"{base}/oembed?{urlencode({'url': base + path, 'format': 'json'})}"
