"""GET /v1/changes: every change in commit order, resumable from a cursor, with long polling."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.params import Parameter

from service import changes, schemas
from service.api.existing import check_named
from service.api.paging import next_link
from service.api.params import CrisisId, Limit, fetch
from service.api.readers import sees_drafts
from service.errors import invalid_parameter
from service.queries import BadCursor
from service.vocabulary import RecordKind

MAX_WAIT = 30
POLL_SECONDS = 1.0
"""How long a waiting request sleeps between looks when no notification comes: a missed
NOTIFY (a listener reconnecting) costs at most this much delay."""


class News:
    """Wakes the requests waiting for a change when the dataset version moves: every commit
    of a change NOTIFYs it (service.database.follow_dataset reports it here)."""

    def __init__(self) -> None:
        self.version: int | None = None
        self.event = asyncio.Event()

    def follow(self, live: bool, version: int | None) -> None:
        if live and version != self.version:
            self.version = version
            self.event.set()
            self.event = asyncio.Event()

    async def wait(self, seconds: float) -> None:
        """Return when the version next moves, or after `seconds`."""
        try:
            await asyncio.wait_for(self.event.wait(), seconds)
        except TimeoutError:
            pass


Since = Annotated[
    str | None,
    Parameter(
        max_length=512,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The `next_cursor` of the previous answer: only changes after it. Omit "
        "to start from the first change ever made.",
    ),
]
Wait = Annotated[
    int,
    Parameter(
        ge=0,
        le=MAX_WAIT,
        description="Seconds to hold the request when nothing is newer than `since`; it "
        "answers as soon as a change commits.",
    ),
]
KindFilter = Annotated[RecordKind | None, Parameter(description="Only changes to this kind.")]


@get("/v1/changes", operation_id="ListChanges", summary="List changes", tags=["changes"])
async def list_changes(
    request: Request[Any, Any, Any],
    since: Since = None,
    limit: Limit = 50,
    crisis: CrisisId = None,
    kind: KindFilter = None,
    wait: Wait = 0,
) -> Response[schemas.ChangePage]:
    """Every change to every record in commit order — created, updated, deleted (then
    `answer` is null), published, retracted — each with the record's answer as of that
    change. Kept forever. Changes to a draft fact are listed only for a request with an API
    key; the public sees a fact from the change that published it.
    Follow `next_cursor`, given also when nothing is newer, to poll for what comes next.
    A `crisis` that does not exist is a 404, as in the lists, without waiting."""
    try:
        after = changes.revision_of(since)
    except BadCursor as exc:
        raise invalid_parameter("since", str(exc)) from None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    news: News = request.app.state.news
    drafts = await sees_drafts(request)
    args = (after, limit, crisis, kind.value if kind else None, drafts)
    page = await fetch(request, changes.page, *args)
    # before waiting: a crisis that does not exist will have no news either
    await check_named(request, page.items, None, crisis=crisis)
    while not page.items and (remaining := deadline - loop.time()) > 0:
        await news.wait(min(remaining, POLL_SECONDS))
        page = await fetch(request, changes.page, *args)
    # A held request's answer depends on when it came: it is never kept for another.
    cache_control = "no-store" if wait else "no-cache"
    link = next_link(
        request.scope["path"], request.scope["query_string"], page.next_cursor, "since"
    )
    return Response(page, headers={"Cache-Control": cache_control, "Link": link})
