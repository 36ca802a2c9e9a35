"""What the reader's pages answer a client that asks for JSON (service/pages)."""

from __future__ import annotations

from service.schemas.parts import Shape


class Home(Shape, frozen=True, kw_only=True):
    """What `/` answers a client that asks for JSON: where the API and its contract are
    (a browser gets the landing page)."""

    name: str
    version: str
    links: dict[str, str]


class OEmbed(Shape, frozen=True, kw_only=True):
    """An oEmbed 1.0 `rich` answer (oembed.com): the iframe that shows one disputed figure."""

    type: str
    version: str
    title: str
    provider_name: str
    provider_url: str
    html: str
    width: int
    height: int
    cache_age: int
