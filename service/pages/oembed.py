"""oEmbed (oembed.com) for a disputed figure's page: a consumer given the page's URL gets
the iframe that shows it. Bad input is problem+json, with the statuses the spec names."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response, get

from service import schemas
from service.api.guards import host_allowed
from service.api.params import ID_PATTERN, fetch
from service.errors import Problem, invalid_parameter
from service.pages import reading
from service.pages.routes import EMBED_HEIGHT, EMBED_WIDTH, base_url, iframe

SPEC_PARAMETERS = ("url", "format", "maxwidth", "maxheight")
"""The parameters oEmbed defines. Consumers add their own (WordPress sends `dnt=1`): those
are ignored, as the spec lets a provider do, rather than refused as /v1 refuses them."""

_SLUG = ID_PATTERN.strip("^$")
DISPUTE_PATH = re.compile(rf"^/crises/(?P<crisis>{_SLUG})/disputes/(?P<key>{_SLUG})(?:/embed)?/?$")


def _size(request: Request[Any, Any, Any], name: str, default: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    if not text.isdigit() or not 0 < int(text) <= 10_000:
        raise invalid_parameter(name, f"{text!r} is not a whole number of pixels from 1 to 10000")
    return min(default, int(text))


def _target(request: Request[Any, Any, Any]) -> tuple[str, str]:
    """The crisis and quantity key of the page `url` names, if it is one of ours."""
    values = request.query_params.getall("url", [])
    if len(values) != 1 or not values[0]:
        raise invalid_parameter("url", "give the URL of a disputed figure's page, once")
    parts = urlsplit(values[0])
    settings = request.app.state.settings
    matched = DISPUTE_PATH.match(parts.path)
    ours = parts.scheme in ("http", "https") and host_allowed(
        parts.netloc.encode("latin-1", "replace"), settings.allowed_hosts
    )
    if not ours or matched is None:
        raise Problem(
            404,
            f"{values[0]!r} is not a page this service embeds: give the URL of a disputed "
            "figure's page, /crises/{crisis}/disputes/{key}.",
            kind="not-found",
        )
    return matched["crisis"], matched["key"]


@get("/oembed", include_in_schema=False)
async def oembed(request: Request[Any, Any, Any]) -> Response[schemas.OEmbed]:
    """The oEmbed answer for a disputed figure's page."""
    crisis_id, key = _target(request)
    wanted = request.query_params.get("format", "json")
    if wanted != "json":
        raise Problem(501, f"format {wanted!r} is not served: oEmbed here is JSON only.")
    width = _size(request, "maxwidth", EMBED_WIDTH)
    height = _size(request, "maxheight", EMBED_HEIGHT)
    dispute = await fetch(request, reading.dispute, crisis_id, key)
    if dispute is None:
        raise Problem(404, f"No disputed figure {key!r} in crisis {crisis_id!r}.", kind="not-found")
    base = base_url(request)
    answer = schemas.OEmbed(
        type="rich",
        version="1.0",
        title=f"{dispute.label} — sources disagree",
        provider_name="crisis-facts",
        provider_url=base + "/",
        html=iframe(base, dispute.path, dispute.label, width, height),
        width=width,
        height=height,
        cache_age=request.app.state.settings.cache_max_age,
    )
    return Response(answer)
