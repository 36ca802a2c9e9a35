"""Who is reading: what a read shows depends on its key and on `include`.

Published facts are public. A request with a valid API key (any role) also sees drafts;
`include=retracted` adds retracted facts to lists, disputes, search and the timeline (a
retracted fact's own URL answers it always). A key that is not valid gets 401 on every
/v1 read, drafts or not. Answers to requests with a key are never kept or shared
(service.api.caching).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request
from litestar.params import Parameter

from service.api.auth import reader_key
from service.vocabulary import Included, Visibility

V1 = "/v1/"
READS = frozenset({"GET", "HEAD"})

Include = Annotated[
    Included | None,
    Parameter(
        description="`retracted`: also the facts an editor retracted, each with its "
        "`review` (status, reason, by whom, when). Drafts are shown to requests with an "
        "API key, whatever this says.",
    ),
]


async def sees_drafts(request: Request[Any, Any, Any]) -> bool:
    """True for a request with a valid key; a key that is not valid is refused (401)."""
    return await reader_key(request) is not None


async def visibility(request: Request[Any, Any, Any], include: Included | None) -> Visibility:
    """The review statuses this read sees."""
    return Visibility(drafts=await sees_drafts(request), retracted=include is Included.RETRACTED)


async def refuse_invalid_key(request: Request[Any, Any, Any]) -> None:
    """A before_request hook: a /v1 read that sends a key not valid gets 401 also where a
    key changes nothing, so that its client learns the key stopped working. Without the
    header, no database work (reader_key)."""
    if request.scope["method"] in READS and request.scope["path"].startswith(V1):
        await reader_key(request)
