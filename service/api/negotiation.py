"""What a /v1 path answers with, and whether a request's `Accept` allows it: asked by the
route (service.api.export.negotiate, which says 406) and by the answer cache, which must
not hand a kept answer to a request the route would refuse."""

from __future__ import annotations

import functools

from litestar.datastructures import Accept

from service.export.formats import FORMATS

JSON = "application/json"
EXPORTS = "/v1/export/"


def served(path: str) -> str | None:
    """The media type a /v1 path answers with; None outside /v1."""
    if not path.startswith("/v1/"):
        return None
    if path.startswith(EXPORTS) and "." in path:
        encoder = FORMATS.get(path.rsplit(".", 1)[1])
        if encoder is not None:
            return encoder.media_type
    return JSON


@functools.lru_cache(maxsize=256)
def allows(accept: str, media: str) -> bool:
    """Whether `accept` (a header's value) takes `media`; clients send the same few values,
    each parsed once. One that cannot be read (`q=1e999`) allows nothing."""
    try:
        return Accept(accept).best_match([media]) is not None
    except (ValueError, OverflowError):
        return False


def refuses(path: str, accept: bytes | None) -> bool:
    """True when the request's `Accept` allows none of what its /v1 path serves."""
    media = served(path)
    return media is not None and accept is not None and not allows(accept.decode("latin-1"), media)
